import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from 'undici';
import { rejectsWith, throwsArgument } from './helpers/assert';
import { DeviceError } from '../src/shared/errors';
import { parseTxt } from '../src/shared/mdns';
import {
  ERROR_MEANINGS,
  checkOutlet,
  encodeOtaFlash,
  encodePulse,
  encodePulses,
  encodeStartup,
  encodeStartups,
  encodeSwitch,
  encodeSwitches,
  encodeWifi,
  parseReply,
} from '../src/sonoff/codec';
import { mergeState, normaliseState } from '../src/sonoff/state';
import { SeqTracker, parseTxtState, splitTxtData } from '../src/sonoff/txt';
import { SonoffClient } from '../src/sonoff/client';
import { FirmwareServer, MAX_IMAGE_BYTES, checkImage, loadImage, sha256, type ImageFile } from '../src/sonoff/ota';
import { FakeClock, settle } from './helpers/fake-clock';
import { SonoffSimulator, makeFirmwareImage } from '../src/sim/sonoff-sim';

const ID = '1000abcdef';

describe('sonoff codec', () => {
  // the bodies of the BASICR3/RFR3/MINI and MINIR3 API documents
  it('encodes the single-channel bodies', () => {
    assert.deepEqual(encodeSwitch(true), { endpoint: 'switch', data: { switch: 'on' } });
    assert.deepEqual(encodeSwitch(false).data, { switch: 'off' });
    assert.deepEqual(encodeStartup('stay'), { endpoint: 'startup', data: { startup: 'stay' } });
    assert.deepEqual(encodePulse({ pulse: true, width: 3_600_000 }), { endpoint: 'pulse', data: { pulse: 'on', pulseWidth: 3_600_000 } });
    assert.deepEqual(encodePulse({ pulse: false }).data, { pulse: 'off' });
    assert.deepEqual(encodeWifi('home', ''), { endpoint: 'wifi', data: { ssid: 'home', password: '' } });
    assert.deepEqual(encodeOtaFlash('http://10.0.0.2:8000/fw.bin', 'AB'.repeat(32)), {
      endpoint: 'ota_flash',
      data: { downloadUrl: 'http://10.0.0.2:8000/fw.bin', sha256sum: 'ab'.repeat(32) },
    });
  });

  it('encodes the multi-channel bodies with outlets 0–3 and `configure` for startups', () => {
    assert.deepEqual(encodeSwitches([{ outlet: 3, on: true }]).data, { switches: [{ switch: 'on', outlet: 3 }] });
    assert.deepEqual(encodeStartups([{ outlet: 1, startup: 'stay' }]), { endpoint: 'startups', data: { configure: [{ startup: 'stay', outlet: 1 }] } });
    assert.deepEqual(encodePulses([{ outlet: 2, pulse: true, width: 3_599_500, switch: 'on' }]).data, {
      pulses: [{ pulse: 'on', switch: 'on', width: 3_599_500, outlet: 2 }],
    });
    // disabling needs no width, and the outlet returns to off unless told otherwise
    assert.deepEqual(encodePulses([{ outlet: 0, pulse: false }]).data, { pulses: [{ pulse: 'off', switch: 'off', outlet: 0 }] });
  });

  it('refuses what the devices do not take', () => {
    throwsArgument(() => encodeSwitches([{ outlet: 4, on: true }]), /outlet must be an integer from 0 to 3, not 4/);
    throwsArgument(() => encodeSwitches([]), /at least one outlet/);
    throwsArgument(() => checkOutlet(1, 'single'), /outlet must be 0 on a single-channel device, not 1/);
    throwsArgument(() => checkOutlet(1.5, 'multi'), /not 1.5/);
    throwsArgument(() => checkOutlet(-1, 'multi'), /outlet/);
    throwsArgument(() => encodePulse({ pulse: true, width: 700 }), /multiple of 500 ms from 500 to 3600000 ms on a single-channel device, not 700/);
    throwsArgument(() => encodePulse({ pulse: true, width: 3_600_500 }), /multiple of 500/);
    throwsArgument(() => encodePulse({ pulse: true, width: 0 }), /multiple of 500/);
    throwsArgument(() => encodePulse({ pulse: true }), /enabling inching needs a width/);
    throwsArgument(() => encodePulses([{ outlet: 0, pulse: true, width: 3_600_000 }]), /3599500/);
    throwsArgument(() => encodeWifi('', 'x'), /wifi needs a non-empty ssid string/);
    throwsArgument(() => encodeWifi('x'.repeat(33), 'x'), /longer than 32 bytes/);
    throwsArgument(() => encodeWifi('é'.repeat(17), 'x'), /longer than 32 bytes/);
    throwsArgument(() => encodeOtaFlash('https://host/fw.bin', 'a'.repeat(64)), /must be plain http:\/\//);
    throwsArgument(() => encodeOtaFlash('not a url', 'a'.repeat(64)), /is not a URL/);
    throwsArgument(() => encodeOtaFlash('http://host/fw.bin', 'xyz'), /sha256 must be 64 hexadecimal digits/);
  });

  it('reads replies, data as a JSON string included', () => {
    assert.deepEqual(parseReply(200, '{"seq":5,"error":0,"data":"{\\"signalStrength\\":-61}"}'), { seq: 5, error: 0, data: { signalStrength: -61 } });
    assert.deepEqual(parseReply(200, '{"seq":2,"error":0}'), { seq: 2, error: 0 });
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const body of [deep, `{"seq":1,"error":0,"data":${JSON.stringify(deep)}}`]) {
      assert.throws(
        () => parseReply(200, body),
        (err: unknown) => err instanceof DeviceError && err.kind === 'protocol' && /nested deeper than 64 levels/.test(err.message),
      );
    }
    assert.equal(parseTxtState({ id: ID, seq: '3', data1: deep }).state, undefined);
    assert.throws(
      () => parseReply(200, '{"seq":2,"er'),
      (e: unknown) => e instanceof DeviceError && e.kind === 'protocol',
    );
  });

  it('turns every error code into a device error naming its meaning', () => {
    for (const code of [400, 401, 403, 404, 408, 413, 422, 424, 471, 500, 503]) {
      assert.throws(
        () => parseReply(200, JSON.stringify({ seq: 1, error: code })),
        (e: unknown) => e instanceof DeviceError && e.kind === 'device' && e.code === code && e.message.includes(ERROR_MEANINGS[code]),
      );
    }
  });

  it('recognises the family by data, not by type', () => {
    const multi = normaliseState({
      switches: [{ switch: 'on', outlet: 0 }],
      configure: [{ startup: 'stay', outlet: 0 }],
      pulses: [{ pulse: 'on', switch: 'off', width: 2000, outlet: 0 }],
      fwVersion: '3.4.1',
    });
    assert.equal(multi.family, 'multi');
    assert.deepEqual(multi.outlets[0], { outlet: 0, on: true, startup: 'stay', pulse: true, pulseWidth: 2000, pulseSwitch: 'off' });
    const single = normaliseState({ switch: 'off', startup: 'on', pulse: 'off', pulseWidth: 500, signalStrength: -25 });
    assert.equal(single.family, 'single');
    assert.equal(single.rssi, -25);
  });

  it('merges a state: known fields win, unknown ones stay, and a state with nothing new is the old one', () => {
    const prev = normaliseState({
      switches: [
        { outlet: 0, switch: 'on' },
        { outlet: 1, switch: 'off' },
      ],
      fwVersion: '3.7.6',
      signalStrength: -50,
    });
    assert.equal(mergeState(prev, normaliseState({ switches: [{ outlet: 1, switch: 'off' }], fwVersion: '3.7.6' })), prev);
    const merged = mergeState(prev, normaliseState({ switches: [{ outlet: 1, switch: 'on' }], configure: [{ outlet: 0, startup: 'stay' }] }));
    assert.notEqual(merged, prev);
    assert.deepEqual(merged.outlets, [
      { outlet: 0, on: true, startup: 'stay' },
      { outlet: 1, on: true },
    ]);
    assert.equal(merged.rssi, -50);
    assert.deepEqual(
      prev.outlets,
      [
        { outlet: 0, on: true },
        { outlet: 1, on: false },
      ],
      'the old state is left as it was',
    );
  });

  it('joins TXT data1..data4 in key order whatever the arrival order, with "=" inside values', () => {
    const state = JSON.stringify({ switches: [0, 1, 2, 3].map((outlet) => ({ switch: outlet === 2 ? 'on' : 'off', outlet })), note: 'a=b==' });
    const chunks = splitTxtData(state, 37);
    assert.ok(Object.keys(chunks).length >= 4);
    const entries = [
      'txtvers=1',
      `id=${ID}`,
      'type=diy_plug',
      'seq=12',
      'iv=YWJj==',
      ...Object.entries(chunks)
        .reverse()
        .map(([k, v]) => Buffer.from(`${k}=${v}`)),
    ];
    const txt = parseTxt(entries);
    assert.equal(txt.iv, 'YWJj==');
    const t = parseTxtState(txt);
    assert.equal(t.seq, 12);
    assert.equal(t.deviceid, ID);
    assert.equal(t.data?.note, 'a=b==');
    assert.equal(t.state?.family, 'multi');
    assert.equal(t.state?.outlets[2].on, true);
  });

  it('drops stale sequence numbers and starts afresh after a reboot', () => {
    const s = new SeqTracker();
    assert.equal(s.check(20), 'new');
    assert.equal(s.check(21), 'new');
    assert.equal(s.check(21), 'same');
    assert.equal(s.check(15), 'stale');
    assert.equal(s.check(3), 'restart', 'a seq below 10 after a higher one is a reboot');
    assert.equal(s.check(4), 'new');
    assert.equal(s.check(2), 'stale', 'below 10 but the last one was not higher than 10');
    assert.equal(s.check(30), 'new');
    s.markRestart(); // withdrawn or offline
    assert.equal(s.check(25), 'restart');
    assert.equal(s.check(26), 'new');
  });
});

describe('sonoff client against the simulator', () => {
  let sim: SonoffSimulator;
  let client: SonoffClient;
  afterEach(async () => {
    await client?.close();
    await sim?.stop();
  });

  async function setup(opts: ConstructorParameters<typeof SonoffSimulator>[0], deviceid = ID): Promise<void> {
    sim = new SonoffSimulator({ deviceid: ID, ...opts });
    const { port } = await sim.start();
    client = new SonoffClient({ host: '127.0.0.1', port, deviceid, timeoutMs: 2000 });
  }

  it('single-channel: switch, startup, pulse, signal_strength, wifi, ota_unlock, info', async () => {
    await setup({});
    await client.switch(true);
    assert.equal(sim.outlets[0].on, true);
    await client.startup('stay');
    assert.equal(sim.outlets[0].startup, 'stay');
    await client.pulse({ pulse: true, width: 1500 });
    assert.deepEqual([sim.outlets[0].pulse, sim.outlets[0].pulseWidth], [true, 1500]);
    assert.equal(await client.signalStrength(), -55);
    await client.wifi('home', 'secret');
    assert.equal(sim.ssid, 'home');
    await client.otaUnlock();
    assert.equal(sim.otaUnlock, true);
    const { state } = await client.info();
    assert.equal(state.family, 'single');
    assert.deepEqual(state.outlets[0], { outlet: 0, on: true, startup: 'stay', pulse: true, pulseWidth: 1500 });
    assert.equal(state.fwVersion, '3.7.6');
    assert.deepEqual(
      sim.requests.map((r) => r.endpoint),
      ['switch', 'startup', 'pulse', 'signal_strength', 'wifi', 'ota_unlock', 'info'],
    );
    assert.deepEqual(sim.requests[0].body, { deviceid: ID, data: { switch: 'on' } });
  });

  it('multi-channel: switches, startups, pulses, info (type diy_plug, recognised by data)', async () => {
    await setup({ multi: true, type: 'diy_plug' });
    await client.switches([{ outlet: 3, on: true }]);
    await client.startups([{ outlet: 1, startup: 'on' }]);
    await client.pulses([{ outlet: 2, pulse: true, width: 2000, switch: 'off' }]);
    const { state } = await client.info();
    assert.equal(state.family, 'multi');
    assert.equal(state.outlets.length, 4);
    assert.equal(state.outlets[3].on, true);
    assert.equal(state.outlets[1].startup, 'on');
    assert.deepEqual([state.outlets[2].pulse, state.outlets[2].pulseWidth], [true, 2000]);
    assert.deepEqual(sim.requests[1].body, { deviceid: ID, data: { configure: [{ startup: 'on', outlet: 1 }] } });
    // the endpoints both families share
    assert.equal(await client.signalStrength(), -55);
    await client.wifi('attic', '');
    assert.equal(sim.ssid, 'attic');
    await client.otaUnlock();
    assert.equal(sim.otaUnlock, true);
    // a single-channel endpoint is not there on a multi-channel device
    await rejectsWith(client.switch(true), 'device', undefined, 400);
  });

  it('reads data sent as a JSON string (old firmware)', async () => {
    await setup({ dataAsString: true, fwVersion: '3.3.0' });
    assert.equal(await client.signalStrength(), -55);
    const { state } = await client.info();
    assert.equal(state.fwVersion, '3.3.0');
  });

  it('sends the deviceid; firmware 3.7.6 refuses a wrong one with 404', async () => {
    await setup({}, 'ffffffffff');
    await rejectsWith(client.switch(true), 'device', /bad deviceid/, 404);
    assert.equal(sim.outlets[0].on, false);
  });

  it('on 422 with the deviceid filled, retries once with "" and remembers it for this device', async () => {
    await setup({ rejectDeviceid: true, requireDeviceid: false });
    await client.switch(true);
    assert.equal(sim.outlets[0].on, true);
    assert.deepEqual(
      sim.requests.map((r) => (r.body as { deviceid: string }).deviceid),
      [ID, ''],
    );
    assert.equal(client.blankDeviceid, true);
    await client.switch(false);
    assert.equal((sim.requests[2].body as { deviceid: string }).deviceid, '');
    assert.equal(sim.requests.length, 3);
  });

  it('keeps a real 422 (bad parameters) when the blank retry fails too', async () => {
    await setup({});
    sim.faults.errorCode = 422;
    await rejectsWith(client.switch(true), 'device', /bad parameters/, 422);
    assert.equal(sim.requests.length, 2);
    assert.equal(client.blankDeviceid, false);
  });

  it('maps every device error code from the device', async () => {
    await setup({});
    for (const code of [400, 403, 404, 408, 413, 422, 424, 471, 500, 503]) {
      sim.faults.errorCode = code;
      const err = await rejectsWith(client.info(), 'device', undefined, code);
      assert.ok(err.message.includes(ERROR_MEANINGS[code]));
    }
  });

  it('an encrypted device answers 401', async () => {
    await setup({ encrypted: true });
    await rejectsWith(client.info(), 'device', /encrypted/, 401);
  });

  it('reports HTTP 500, garbage, truncated JSON, a dropped connection and a timeout', async () => {
    await setup({});
    sim.faults.http500 = true;
    await rejectsWith(client.info(), 'protocol', undefined, 500);
    sim.faults.http500 = false;
    sim.faults.garbage = true;
    await rejectsWith(client.info(), 'protocol', /not JSON/);
    sim.faults.garbage = false;
    sim.faults.truncated = true;
    await rejectsWith(client.info(), 'protocol');
    sim.faults.truncated = false;
    sim.faults.drop = true;
    await rejectsWith(client.info(), 'network');
    sim.faults.drop = false;
    sim.faults.latencyMs = 3000;
    await rejectsWith(client.info(), 'timeout');
  });
});

describe('sonoff OTA', () => {
  let sim: SonoffSimulator;
  let client: SonoffClient;
  let server: FirmwareServer | undefined;
  beforeEach(async () => {
    sim = new SonoffSimulator({ deviceid: ID, otaDownloadTimeoutMs: 1500 });
    const { port } = await sim.start();
    client = new SonoffClient({ host: '127.0.0.1', port, deviceid: ID, timeoutMs: 5000 });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await client.close();
    await sim.stop();
  });

  it('checks size, header magic and DOUT mode', () => {
    checkImage(makeFirmwareImage(MAX_IMAGE_BYTES));
    throwsArgument(() => checkImage(makeFirmwareImage(MAX_IMAGE_BYTES + 1)), /508 KB/);
    throwsArgument(() => checkImage(makeFirmwareImage(4096, 2)), /DIO.*DOUT/);
    const notEsp = makeFirmwareImage(4096);
    notEsp[0] = 0;
    throwsArgument(() => checkImage(notEsp), /0xE9/);
  });

  it('loadImage: a read that stalls (a hung network mount) fails at the deadline, and the file is closed after', async () => {
    const clock = new FakeClock();
    let closed = false;
    let finishRead: (() => void) | undefined;
    const stalled: ImageFile = {
      stat: () => Promise.resolve({ isFile: () => true }),
      read: () => new Promise((resolve) => (finishRead = () => resolve({ bytesRead: 0 }))),
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    };
    const loading = loadImage('/mnt/stalled/fw.bin', { clock, timeoutMs: 10_000, open: () => Promise.resolve(stalled) });
    await settle();
    assert.ok(finishRead, 'the read started');
    const failed = rejectsWith(loading, 'argument', /cannot read the firmware image at \/mnt\/stalled\/fw\.bin within 10 s/);
    await clock.advance(10_000);
    await failed;
    assert.equal(closed, false, 'the handle stays open while the read hangs');
    finishRead?.();
    await settle();
    assert.equal(closed, true);
  });

  it('serves Range requests (206, 416) to the device address only, and counts bytes', async () => {
    const image = makeFirmwareImage(10_000);
    const progress: number[] = [];
    server = new FirmwareServer({ image, allow: '127.0.0.1', onProgress: (b) => progress.push(b) });
    const url = await server.start();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\//);
    const part = await request(url, { headers: { range: 'bytes=100-199' } });
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], 'bytes 100-199/10000');
    assert.deepEqual(Buffer.from(await part.body.arrayBuffer()), image.subarray(100, 200));
    const bad = await request(url, { headers: { range: 'bytes=20000-' } });
    assert.equal(bad.statusCode, 416);
    await bad.body.dump();
    // another address on the loopback network is not the device
    const refused = await new Promise<number>((resolve, reject) => {
      http
        .get(url, { localAddress: '127.0.0.2', agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(refused, 403);
    assert.equal(server.refused, 1);
    assert.equal(server.bytesServed, 100);
    assert.deepEqual(progress, [100]);
    await server.close();
    assert.equal(server.listening, false);
  });

  it('serves the image only at the unguessable path the flash request names (404 elsewhere), and only until it closes', async () => {
    const image = makeFirmwareImage(4096);
    server = new FirmwareServer({ image, allow: '127.0.0.1' });
    const url = await server.start();
    const other = new FirmwareServer({ image, allow: '127.0.0.1' });
    const otherUrl = await other.start();
    await other.close();
    const { pathname, origin } = new URL(url);
    assert.match(pathname, /^\/[0-9a-f]{32}\/firmware\.bin$/);
    assert.notEqual(new URL(otherUrl).pathname, pathname, 'a new path per server');
    for (const wrong of ['/firmware.bin', '/', `${pathname}x`, `${pathname}/`, `${pathname}?x=1`, pathname.replace(/[0-9a-f]{32}/, '0'.repeat(32))]) {
      const r = await request(`${origin}${wrong}`);
      await r.body.dump();
      assert.equal(r.statusCode, 404, wrong);
    }
    assert.equal(server.bytesServed, 0);
    const whole = await request(url);
    assert.equal(whole.statusCode, 200);
    assert.deepEqual(Buffer.from(await whole.body.arrayBuffer()), image);
    await server.close();
    await assert.rejects(request(url), /ECONNREFUSED/);
  });

  async function flash(image: Buffer, digest = sha256(image), unlock = true): Promise<void> {
    server = new FirmwareServer({ image, allow: '127.0.0.1' });
    const url = await server.start();
    if (unlock) await client.otaUnlock();
    await client.otaFlash(encodeOtaFlash(url, digest));
  }

  it('flashes: unlock, then the device downloads with Range requests and checks sha256', async () => {
    const image = makeFirmwareImage(200 * 1024);
    await flash(image);
    assert.equal(sim.flashes.length, 1);
    assert.equal(sim.flashes[0].sha256, sha256(image));
    assert.ok(sim.flashes[0].rangeRequests >= 4);
    assert.equal(server?.bytesServed, image.length);
    assert.equal(sim.fwVersion, '3.7.7');
  });

  it('403 without unlock, 471 on a sha256 mismatch, 413 when too large, 424 without Range support or server', async () => {
    const image = makeFirmwareImage(4096);
    await rejectsWith(flash(image, sha256(image), false), 'device', /not unlocked/, 403);
    await server?.close();
    await rejectsWith(flash(image, 'a'.repeat(64)), 'device', /SHA-256/, 471);
    await server?.close();
    await rejectsWith(flash(makeFirmwareImage(MAX_IMAGE_BYTES + 1024)), 'device', /too large/, 413);
    await server?.close();
    const plain = http.createServer((_req, res) => res.end(image));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    await client.otaUnlock();
    const url = `http://127.0.0.1:${(plain.address() as { port: number }).port}/fw.bin`;
    await rejectsWith(client.otaFlash(encodeOtaFlash(url, sha256(image))), 'device', /Range/, 424);
    await new Promise((r) => plain.close(r));
    await rejectsWith(client.otaFlash(encodeOtaFlash(url, sha256(image))), 'device', undefined, 424);
  });

  it('408 when the download does not finish in time', async () => {
    const image = makeFirmwareImage(4096);
    const slow = http.createServer((_req, res) => {
      res.writeHead(206, { 'content-range': 'bytes 0-4095/4096', 'content-length': 4096 });
      res.write(image.subarray(0, 10)); // and then nothing
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    await client.otaUnlock();
    await rejectsWith(
      client.otaFlash(encodeOtaFlash(`http://127.0.0.1:${(slow.address() as { port: number }).port}/fw.bin`, sha256(image))),
      'device',
      /timed out/,
      408,
    );
    slow.closeAllConnections();
    await new Promise((r) => slow.close(r));
  });

  it('ota_unlock fails with 500 and 503 from the vendor service', async () => {
    sim.unlockError = 500;
    await rejectsWith(client.otaUnlock(), 'device', /vendor/, 500);
    sim.unlockError = 503;
    await rejectsWith(client.otaUnlock(), 'device', /unreachable/, 503);
  });
});
