import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseCli, runCli, USAGE, UsageError } from '../src/sim/cli';
import { makeFirmwareImage, SonoffSimulator, type SonoffSimOptions } from '../src/sim/sonoff-sim';
import { WiimSimulator } from '../src/sim/wiim-sim';

/**
 * The simulators on their own, spoken to with raw HTTP. Their limits are
 * asserted against the numbers the vendor documents state, written here
 * literally: a simulator that borrowed a wrong limit from the code under
 * test would pass every protocol test and fail these.
 */

interface SonoffAnswer {
  status: number;
  seq?: number;
  error?: number;
  data?: Record<string, unknown>;
}

async function post(sim: SonoffSimulator, endpoint: string, data: unknown, deviceid = sim.deviceid): Promise<SonoffAnswer> {
  const res = await fetch(`${sim.url}/zeroconf/${endpoint}`, { method: 'POST', body: JSON.stringify({ deviceid, data }) });
  const text = await res.text();
  return { status: res.status, ...(JSON.parse(text) as Omit<SonoffAnswer, 'status'>) };
}

async function wiimCommand(sim: WiimSimulator, command: string): Promise<string> {
  const res = await fetch(`${sim.url}/httpapi.asp?command=${encodeURIComponent(command)}`);
  return res.text();
}

const unhex = (s: string) => Buffer.from(s, 'hex').toString('utf8');

describe('SONOFF simulator: the limits of the vendor documents', () => {
  const sims: SonoffSimulator[] = [];
  async function relay(options: SonoffSimOptions = {}): Promise<SonoffSimulator> {
    const sim = new SonoffSimulator(options);
    await sim.start();
    sims.push(sim);
    return sim;
  }
  afterEach(async () => {
    await Promise.all(sims.splice(0).map((s) => s.stop()));
  });

  it('single channel ("BASICR3/RFR3/MINI HTTP API"): pulse width 500..3600000 ms in steps of 500', async () => {
    const sim = await relay();
    for (const width of [500, 1000, 3_599_500, 3_600_000]) {
      assert.equal((await post(sim, 'pulse', { pulse: 'on', pulseWidth: width })).error, 0, `width ${width}`);
      assert.equal(sim.outlets[0].pulseWidth, width);
    }
    for (const width of [0, 499, 750, 3_600_001, 3_600_500, -500, 1000.5, '1000']) {
      assert.equal((await post(sim, 'pulse', { pulse: 'on', pulseWidth: width })).error, 422, `width ${width}`);
    }
    assert.equal(sim.outlets[0].pulseWidth, 3_600_000, 'a refused width changes nothing');
  });

  it('multi channel ("MINIR3 HTTP API"): pulse width 500..3599500 ms in steps of 500, outlets 0..3', async () => {
    const sim = await relay({ multi: true });
    assert.equal(sim.outlets.length, 4);
    const pulse = (width: unknown, outlet: unknown = 0) => post(sim, 'pulses', { pulses: [{ pulse: 'on', switch: 'off', width, outlet }] });
    for (const width of [500, 3_599_500]) assert.equal((await pulse(width)).error, 0, `width ${width}`);
    for (const width of [0, 499, 750, 3_600_000]) assert.equal((await pulse(width)).error, 422, `width ${width}`);
    for (const outlet of [0, 1, 2, 3]) {
      assert.equal((await post(sim, 'switches', { switches: [{ switch: 'on', outlet }] })).error, 0, `outlet ${outlet}`);
      assert.equal(sim.outlets[outlet].on, true);
    }
    for (const outlet of [-1, 4, 1.5, '0']) {
      assert.equal((await post(sim, 'switches', { switches: [{ switch: 'off', outlet }] })).error, 422, `outlet ${outlet}`);
      assert.equal((await post(sim, 'startups', { configure: [{ startup: 'on', outlet }] })).error, 422, `outlet ${outlet}`);
      assert.equal((await pulse(500, outlet)).error, 422, `outlet ${outlet}`);
    }
  });

  describe('OTA: "The maximum firmware size is 508KB"', () => {
    let server: http.Server;
    let image: Buffer = Buffer.alloc(0);
    before(async () => {
      // a plain Range server, so that nothing of the code under test takes part
      server = http.createServer((req, res) => {
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        if (!m) return void res.writeHead(416).end();
        const from = Number(m[1]);
        const to = Math.min(Number(m[2]), image.length - 1);
        res.writeHead(206, { 'Content-Range': `bytes ${from}-${to}/${image.length}` }).end(image.subarray(from, to + 1));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    async function flash(sim: SonoffSimulator, size: number): Promise<number | undefined> {
      image = makeFirmwareImage(size);
      assert.equal((await post(sim, 'ota_unlock', {})).error, 0);
      const sha256sum = createHash('sha256').update(image).digest('hex');
      const downloadUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/image.bin`;
      return (await post(sim, 'ota_flash', { downloadUrl, sha256sum })).error;
    }

    it('takes an image of 508 × 1024 bytes and refuses one byte more with error 413', async () => {
      const sim = await relay();
      assert.equal(await flash(sim, 508 * 1024), 0);
      assert.deepEqual(
        sim.flashes.map((f) => f.bytes),
        [508 * 1024],
      );
      assert.equal(await flash(sim, 508 * 1024 + 1), 413);
      assert.equal(sim.flashes.length, 1);
    });
  });

  it('announces its state in TXT strings of at most 255 bytes that join into the state JSON', async () => {
    for (const options of [{ multi: true }, { multi: true, txtChunkSize: 40 }, { multi: true, txtChunkSize: 1000 }, {}]) {
      const sim = new SonoffSimulator(options);
      const entries = sim.txtEntries();
      for (const e of entries) assert.ok(Buffer.byteLength(e) <= 255, `${JSON.stringify(options)}: ${e.length} bytes`);
      const data = entries.filter((e) => /^data\d+=/.test(e));
      assert.ok(data.length > (options.txtChunkSize === 40 ? 4 : 0));
      assert.deepEqual(
        data.map((e) => e.slice(0, e.indexOf('='))),
        data.map((_, i) => `data${i + 1}`),
      );
      assert.deepEqual(JSON.parse(data.map((e) => e.slice(e.indexOf('=') + 1)).join('')), sim.stateData());
      assert.ok(entries.includes(`id=${sim.deviceid}`) && entries.includes('type=diy_plug'));
    }
  });
});

describe('WiiM simulator', () => {
  let sim: WiimSimulator;
  beforeEach(async () => {
    sim = new WiimSimulator({ protocol: 'http' });
    await sim.start();
  });
  afterEach(() => sim.stop());

  it('play <url> shows the file name of the URL as the title, with no artist or album', async () => {
    sim.playTrack(1);
    assert.equal(await wiimCommand(sim, 'setPlayerCmd:play:http://radio.example/shows/Morning%20Jazz.mp3?token=1'), 'OK');
    const status = JSON.parse(await wiimCommand(sim, 'getPlayerStatus')) as Record<string, string>;
    assert.deepEqual([unhex(status.Title), status.Artist, status.Album], ['Morning Jazz.mp3', '', '']);
    assert.equal(status.status, 'play');
    const meta = JSON.parse(await wiimCommand(sim, 'getMetaInfo')) as { metaData: Record<string, string> };
    assert.deepEqual([meta.metaData.title, meta.metaData.artist, meta.metaData.album], ['Morning Jazz.mp3', '', '']);
    assert.equal(sim.track.title, 'Morning Jazz.mp3');

    await wiimCommand(sim, 'setPlayerCmd:play:http://radio.example/');
    assert.equal(sim.track.title, 'radio.example', 'a URL without a path shows its host');
  });

  it('a preset, a playlist or the next track plays from the track list again', async () => {
    const list = sim.state.tracks;
    for (const command of ['MCUKeyShortClick:1', 'setPlayerCmd:playlist:http://h/l.m3u:2', 'setPlayerCmd:next']) {
      await wiimCommand(sim, 'setPlayerCmd:play:http://h/a.mp3');
      assert.equal(sim.track.title, 'a.mp3');
      assert.equal(await wiimCommand(sim, command), 'OK');
      const status = JSON.parse(await wiimCommand(sim, 'getPlayerStatus')) as Record<string, string>;
      assert.equal(unhex(status.Title), list[sim.state.trackIndex].title, command);
      assert.equal(unhex(status.Artist), list[sim.state.trackIndex].artist, command);
    }
    await wiimCommand(sim, 'setPlayerCmd:play:http://h/a.mp3');
    sim.reset();
    assert.equal(sim.track.title, list[0].title, 'reset forgets the URL');
  });

  it('clamps the volume to the documented 0..100', async () => {
    for (const [sent, kept] of [
      [0, 0],
      [100, 100],
      [101, 100],
      [-1, 0],
    ]) {
      assert.equal(await wiimCommand(sim, `setPlayerCmd:vol:${sent}`), 'OK');
      assert.equal(sim.state.volume, kept);
    }
  });
});

describe('simulators: the common fault switches', () => {
  it('answer alike in both families: HTTP 500, HTTP 400, garbage, a reply cut in half, 2 MB, a redirect, deep JSON, a dropped connection', async () => {
    const wiim = new WiimSimulator({ protocol: 'http' });
    const relay = new SonoffSimulator();
    await wiim.start();
    await relay.start();
    try {
      const families = [
        { sim: wiim, url: `${wiim.url}/httpapi.asp?command=getStatusEx`, init: {} },
        { sim: relay, url: `${relay.url}/zeroconf/info`, init: { method: 'POST', body: JSON.stringify({ deviceid: relay.deviceid, data: {} }) } },
      ];
      for (const { sim, url, init } of families) {
        const whole = await (await fetch(url, init)).text();
        sim.faults.http500 = true;
        assert.equal((await fetch(url, init)).status, 500);
        sim.faults.http500 = false;
        sim.faults.garbage = true;
        assert.match(await (await fetch(url, init)).text(), /^<html>/);
        sim.faults.garbage = false;
        sim.faults.truncated = true;
        const cut = await (await fetch(url, init)).text();
        sim.faults.truncated = false;
        assert.ok(cut.length > 0 && cut.length < whole.length && whole.startsWith(cut.slice(0, 8)), cut);
        assert.throws(() => JSON.parse(cut));
        sim.faults.drop = true;
        await assert.rejects(fetch(url, init));
        sim.faults.drop = false;
        sim.faults.http400 = true;
        assert.equal((await fetch(url, init)).status, 400);
        sim.faults.http400 = false;
        sim.faults.oversize = true;
        assert.ok((await (await fetch(url, init)).text()).length > 1 << 20);
        sim.faults.oversize = false;
        sim.faults.redirect = true;
        const moved = await fetch(url, { ...init, redirect: 'manual' });
        assert.deepEqual([moved.status, moved.headers.get('location')], [302, '/elsewhere']);
        sim.faults.redirect = false;
        sim.faults.deepJson = true;
        const deep = await (await fetch(url, init)).text();
        sim.faults.deepJson = false;
        assert.equal(deep, '['.repeat(100_000) + ']'.repeat(100_000));
      }
      assert.equal(wiim.count('getStatusEx'), 9);
      assert.equal(relay.requestsTo('info').length, 9);
    } finally {
      await Promise.all([wiim.stop(), relay.stop()]);
    }
  });

  it('import nothing from the code under test (src/wiim, src/sonoff)', () => {
    const dir = path.join(__dirname, '../src/sim');
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.js'))) {
      const imports = [...fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
      for (const i of imports) assert.doesNotMatch(i, /(^|\/)(wiim|sonoff)\//, `${file} requires ${i}`);
    }
  });
});

describe('wiim-sonoff-sim command line', () => {
  const cli = path.join(__dirname, '../src/sim/cli.js');

  it('reads each family with its defaults and flags', () => {
    assert.deepEqual(parseCli(['wiim']), { family: 'wiim', port: 0, host: '127.0.0.1', name: 'WiiM Simulator', protocol: 'https', mdns: false, model: 'mini' });
    assert.deepEqual(
      parseCli(['wiim', '--port', '8443', '--name', 'Kitchen', '--http', '--mdns', '--host=127.0.0.2', '--model', 'ultra', '--firmware', '5.2.1']),
      {
        family: 'wiim',
        port: 8443,
        host: '127.0.0.2',
        name: 'Kitchen',
        protocol: 'http',
        mdns: true,
        model: 'ultra',
        firmware: '5.2.1',
      },
    );
    assert.deepEqual(parseCli(['sonoff']), { family: 'sonoff', port: 8081, host: '127.0.0.1', deviceid: '1000abcdef', multi: false, mdns: false });
    assert.deepEqual(parseCli(['sonoff', '--port=0', '--deviceid', '10000000AB', '--multi', '--host', '::1']), {
      family: 'sonoff',
      port: 0,
      host: '::1',
      deviceid: '10000000AB',
      multi: true,
      mdns: false,
    });
    assert.deepEqual(parseCli(['--help']), { family: 'help' });
    assert.deepEqual(parseCli(['sonoff', '--help']), { family: 'help' });
  });

  it("reads the WiiM's UPnP fault switches", () => {
    const base = { family: 'wiim', port: 0, host: '127.0.0.1', name: 'WiiM Simulator', protocol: 'https', mdns: false, model: 'mini' };
    assert.deepEqual(parseCli(['wiim', '--no-upnp']), { ...base, upnp: false });
    assert.deepEqual(parseCli(['wiim', '--events-stop', '--renew-412', '--grant-timeout', '20', '--loop-mpde', '--didl-json']), {
      ...base,
      upnpFaults: { eventsStop: true, renew412: true, grantedTimeoutS: 20, loopMpde: true, didlJson: true },
    });
    for (const argv of [
      ['wiim', '--grant-timeout', '0'],
      ['wiim', '--grant-timeout', '1.5'],
      ['wiim', '--grant-timeout'],
      ['wiim', '--no-upnp', '--events-stop'],
      ['wiim', '--no-upnp=1'],
      ['sonoff', '--didl-json'],
    ]) {
      assert.throws(() => parseCli(argv), UsageError, argv.join(' '));
    }
  });

  it('starts a WiiM with the UPnP switches it read, or with no UPnP (real time)', async () => {
    const start = async (argv: string[]) => {
      const lines: string[] = [];
      const command = parseCli(argv);
      assert.ok(command.family === 'wiim');
      const stop = await runCli(command, (line) => lines.push(line));
      return { stop, text: lines.join('\n') };
    };
    const a = await start(['wiim', '--http', '--renew-412', '--grant-timeout', '40']);
    try {
      const url = new URL(/UPnP description \(events\) at (\S+?);/.exec(a.text)?.[1] ?? '');
      const desc = await (await fetch(url)).text();
      const path = /<eventSubURL>([^<]+)<\/eventSubURL>/.exec(desc)?.[1] ?? '';
      const subscribe = (headers: Record<string, string>) =>
        new Promise<http.IncomingMessage>((resolve, reject) => {
          const req = http.request({ method: 'SUBSCRIBE', host: url.hostname, port: url.port, path, headers, agent: false }, (res) => {
            res.resume();
            resolve(res);
          });
          req.on('error', reject);
          req.end();
        });
      // the callback leads nowhere: the sim's initial NOTIFY fails quietly
      const sub = await subscribe({ CALLBACK: '<http://127.0.0.1:9/>', NT: 'upnp:event', TIMEOUT: 'Second-1800' });
      assert.deepEqual([sub.statusCode, sub.headers.timeout], [200, 'Second-40']);
      const renewal = await subscribe({ SID: String(sub.headers.sid), TIMEOUT: 'Second-1800' });
      assert.equal(renewal.statusCode, 412);
    } finally {
      await a.stop();
    }
    const b = await start(['wiim', '--http', '--no-upnp']);
    await b.stop();
    assert.match(b.text, /no UPnP/);
    assert.doesNotMatch(b.text, /UPnP description/);
  });

  it('refuses unknown flags, bad values and a missing family', () => {
    for (const argv of [
      [],
      ['hue'],
      ['wiim', '--bogus'],
      ['wiim', 'extra'],
      ['wiim', '--port'],
      ['wiim', '--port', '65536'],
      ['wiim', '--port', '-1'],
      ['wiim', '--port', '80.5'],
      ['wiim', '--model', 'sonos'],
      ['wiim', '--firmware', 'a b'],
      ['sonoff', '--model', 'pro'],
      ['wiim', '--port', '0x50'],
      ['wiim', '--host', 'example.com'],
      ['wiim', '--name', ' '],
      ['wiim', '--multi'],
      ['wiim', '--http=yes'],
      ['sonoff', '--name', 'x'],
      ['sonoff', '--deviceid', 'xyz'],
      ['sonoff', '--deviceid', '1000abcdef0'],
    ]) {
      assert.throws(() => parseCli(argv), UsageError, argv.join(' '));
    }
  });

  it('exits with code 2 and the usage text on a bad command line', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [cli, 'sonoff', '--bogus'], (err, _stdout, stderr) => resolve({ code: child.exitCode, stderr }));
    });
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(USAGE), result.stderr);
  });

  it('starts a simulator that answers on loopback (real time)', async () => {
    const child = spawn(process.execPath, [cli, 'sonoff', '--port', '0', '--deviceid', '1000c0ffee'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const url = /(http:\/\/127\.0\.0\.1:\d+)\/zeroconf\//.exec(line)?.[1];
      assert.ok(url, line);
      const res = await fetch(`${url}/zeroconf/info`, { method: 'POST', body: JSON.stringify({ deviceid: '1000c0ffee', data: {} }) });
      const body = (await res.json()) as { error: number; data: { deviceid: string } };
      assert.deepEqual([body.error, body.data.deviceid], [0, '1000c0ffee']);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
