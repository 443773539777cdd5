import assert from 'node:assert/strict';
import { until } from './helpers/wait';
import net from 'node:net';
import { DeviceError } from '../src/shared/errors';
import { DeviceConnection, deviceRequest } from '../src/shared/http';
import { WiimClient } from '../src/wiim/client';
import { encodeCommand, LOOP_MODES, loopToMode, modeToLoop, prepareCommand, utcStamp, WIIM_COMMANDS } from '../src/wiim/commands';
import { classifyReply, decodeHexText, parseMeta, parsePlayerStatus, parseSlaveList, textField, toSeconds, unescapeHtml } from '../src/wiim/parse';
import { WiimSimulator } from '../src/sim/wiim-sim';

const ctx = { request: 'test', host: '127.0.0.1' };

async function rejects(p: Promise<unknown>, kind: string, pattern?: RegExp): Promise<DeviceError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DeviceError, `expected a DeviceError, got ${String(err)}`);
    assert.equal(err.kind, kind, `kind of "${err.message}"`);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail('expected a rejection');
}

function throwsArgument(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof DeviceError && err.kind === 'argument' && (!pattern || pattern.test(err.message)));
}

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('wiim protocol: encoding and parsing', () => {
  it('refuses out-of-range and malformed arguments before anything is built', () => {
    throwsArgument(() => prepareCommand('volume', 101), /0 to 100/);
    throwsArgument(() => prepareCommand('volume', -1), /0 to 100/);
    throwsArgument(() => prepareCommand('volume', 'loud'));
    throwsArgument(() => prepareCommand('volume', 20.5));
    throwsArgument(() => prepareCommand('mute', 'maybe'));
    throwsArgument(() => prepareCommand('seek', -3));
    throwsArgument(() => prepareCommand('preset', 0));
    throwsArgument(() => prepareCommand('shutdown', -2));
    throwsArgument(() => prepareCommand('source', 'cassette'), /source must be one of/);
    throwsArgument(() => prepareCommand('repeat', { repeat: 'twice' }));
    throwsArgument(() => prepareCommand('play', 'not a url'));
    throwsArgument(() => prepareCommand('raw', 'getStatusEx&x=1'), /refused/);
    throwsArgument(() => prepareCommand('raw', 'getStatusEx#frag'), /refused/);
    throwsArgument(() => prepareCommand('raw', 'getStatus\nEx'), /refused/);
    throwsArgument(() => prepareCommand('join', '1.2.3.4:80/x'));
    throwsArgument(() => prepareCommand('dance', 1), /unknown command/);
    throwsArgument(() => prepareCommand('time-sync', 'not a date'));
    throwsArgument(() => prepareCommand('alarm', { op: 'set', n: 3, trigger: 2, time: '070000', url: 'http://a/b' }), /0 to 2/);
    throwsArgument(() => prepareCommand('alarm', { op: 'set', n: 0, trigger: 1, time: '070000', day: '2024-01-01', url: 'http://a/b' }), /YYYYMMDD/);
    throwsArgument(() => prepareCommand('alarm', { op: 'set', n: 0, trigger: 3, time: '070000', day: '07', url: 'http://a/b' }), /"00"/);
    throwsArgument(() => prepareCommand('alarm', { op: 'set', n: 0, trigger: 2, time: '250000', url: 'http://a/b' }), /HHMMSS/);
    throwsArgument(() => prepareCommand('alarm', { op: 'set', n: 0, trigger: 2, time: '070000', url: `http://a/${'x'.repeat(260)}` }), /256/);
    // what the device decides
    throwsArgument(() => encodeCommand('volume', '+5', {}), /current volume/);
    throwsArgument(() => encodeCommand('eq', 'Disco', { eqList: ['Flat', 'Rock'] }), /not an EQ preset/);
    throwsArgument(() => encodeCommand('preset', 7, { presetCount: 6 }), /1 to 6/);
    throwsArgument(() => encodeCommand('seek', 400, { player: { volume: 1, muted: false, duration: 300, repeat: 'off', shuffle: false } }), /past the end/);
  });

  it('encodes arguments like encodeURIComponent, raw like encodeURI', () => {
    assert.equal(encodeCommand('play', 'http://h/a b?x=1&y=2#z').request, `setPlayerCmd:play:${encodeURIComponent('http://h/a b?x=1&y=2#z')}`);
    assert.match(encodeCommand('play', 'http://h/a b').request, /a%20b$/);
    assert.equal(
      encodeCommand('playlist', { url: 'http://h/l.m3u', index: 2 }).request,
      `setPlayerCmd:hex_playlist:${Buffer.from('http://h/l.m3u').toString('hex').toUpperCase()}:2`,
    );
    assert.equal(encodeCommand('raw', 'setPlayerCmd:vol:5 x').request, 'setPlayerCmd:vol:5%20x');
    assert.equal(encodeCommand('join', '192.168.1.20').request, 'ConnectMasterAp:JoinGroupMaster:eth192.168.1.20:wifi0.0.0.0');
    assert.equal(
      encodeCommand('volume', '+5', { player: { volume: 98, muted: false, duration: null, repeat: 'off', shuffle: false } }).request,
      'setPlayerCmd:vol:100',
    );
    assert.equal(
      encodeCommand('volume', '-5', { player: { volume: 3, muted: false, duration: null, repeat: 'off', shuffle: false } }).request,
      'setPlayerCmd:vol:0',
    );
    assert.equal(utcStamp(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), '20240102030405');
    assert.equal(utcStamp('2024-01-02T04:04:05+01:00'), '20240102030405');
    assert.equal(utcStamp(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000), '20240102030405');
    assert.equal(utcStamp(Date.UTC(2024, 0, 2, 3, 4, 5)), '20240102030405');
    assert.match(utcStamp(undefined), /^20\d{12}$/);
  });

  it('maps loop numbers both ways per the getter table', () => {
    for (const m of LOOP_MODES) {
      assert.deepEqual(loopToMode(m.loop), { repeat: m.repeat, shuffle: m.shuffle });
      assert.equal(modeToLoop(m.repeat, m.shuffle), m.loop);
    }
    assert.equal(encodeCommand('repeat', { repeat: 'off', shuffle: true }).request, 'setPlayerCmd:loopmode:3');
  });

  it('classifies every reply form distinctly', () => {
    assert.deepEqual(classifyReply('OK'), { kind: 'ok' });
    assert.deepEqual(classifyReply('{"status":"OK"}'), { kind: 'ok-json' });
    assert.deepEqual(classifyReply('{"status":"Failed"}'), { kind: 'failed-json', status: 'Failed' });
    assert.deepEqual(classifyReply('Failed'), { kind: 'failed' });
    assert.deepEqual(classifyReply('unknown command'), { kind: 'unknown-command' });
    assert.deepEqual(classifyReply(''), { kind: 'empty' });
    assert.deepEqual(classifyReply('{"broken'), { kind: 'text', text: '{"broken' });
    assert.deepEqual(classifyReply('<html>'), { kind: 'text', text: '<html>' });
    // the player's own status is not an acknowledgement
    assert.equal(classifyReply('{"status":"play","vol":"3"}').kind, 'json');
  });

  it('normalises the player status: hex text, entities, loop, µs, streams', () => {
    const hex = (s: string) => Buffer.from(s).toString('hex').toUpperCase();
    const { status } = parsePlayerStatus(
      JSON.stringify({
        type: '0',
        mode: '31',
        loop: '5',
        eq: '0',
        status: 'play',
        curpos: '61000000',
        totlen: '240000000',
        Title: hex('Café &amp; Crème'),
        Artist: 'Not Hex!',
        Album: '556E6B6E6F776E',
        plicount: '3',
        plicurr: '2',
        vol: '39',
        mute: '1',
      }),
      ctx,
    );
    assert.equal(status.title, 'Café & Crème');
    assert.equal(status.artist, 'Not Hex!');
    assert.equal(status.album, null);
    assert.equal(status.source, 'spotify');
    assert.deepEqual([status.repeat, status.shuffle], ['one', true]);
    assert.deepEqual([status.position, status.duration], [61, 240]);
    assert.deepEqual([status.state, status.volume, status.muted, status.trackIndex, status.trackCount], ['playing', 39, true, 2, 3]);
    assert.deepEqual(toSeconds(5000, -1), { position: 5, duration: null });
    assert.deepEqual(toSeconds(184919, 337000), { position: 184, duration: 337 });
    assert.equal(decodeHexText('CAFE'), 'CAFE');
    assert.equal(unescapeHtml('R&amp;B &#233;&#x41;'), 'R&B éA');
    assert.equal(textField('52264220'), 'R&B');
  });

  it('reads meta (stray key spaces, Failed → null) and both follower list spellings', () => {
    assert.equal(parseMeta('Failed', ctx), null);
    const m = parseMeta('{"metaData":{" title ":"T","artist":"A","album":"B","albumArtURI":"http://x/y.jpg"," sampleRate":"44100"}}', ctx);
    assert.deepEqual([m?.title, m?.artwork, m?.sampleRate], ['T', 'http://x/y.jpg', 44100]);
    const a = parseSlaveList('{"slaves":1,"slave_list":[{"name":"K","ip":"10.0.0.2"}]}', ctx);
    const b = parseSlaveList('{"Slaves":"1","Slave_list":[{"name":"K","ip":"10.0.0.2"}]}', ctx);
    assert.deepEqual(a, b);
    assert.equal(a.followers[0].ip, '10.0.0.2');
  });

  it('names every command of the contract', () => {
    assert.equal(WIIM_COMMANDS.length, 31);
  });
});

describe('wiim protocol against the simulator over HTTPS', function () {
  this.timeout(20000);
  const sim = new WiimSimulator({ name: 'Test Room' });
  let client: WiimClient;
  let port: number;

  before(async () => {
    ({ port } = await sim.start({ port: 0 }));
  });
  after(() => sim.stop());
  beforeEach(() => {
    sim.reset();
    client = new WiimClient({ host: '127.0.0.1', port, protocol: 'https', timeoutMs: 2000 });
  });
  afterEach(() => client.close());

  it('runs every transport command and the device follows', async () => {
    const u = 'http://radio.example/stream one.mp3';
    let r = await client.command('play', u);
    assert.equal(r.payload, u);
    assert.equal(sim.state.url, u);
    assert.equal(sim.state.status, 'play');
    await client.command('pause');
    assert.equal(sim.state.status, 'pause');
    await client.command('resume');
    assert.equal(sim.state.status, 'play');
    await client.command('toggle');
    assert.equal(sim.state.status, 'pause');
    await client.command('next');
    assert.equal(sim.state.trackIndex, 1);
    await client.command('prev');
    assert.equal(sim.state.trackIndex, 0);
    r = await client.command('seek', 100);
    assert.equal(r.payload, 100);
    assert.ok(sim.position >= 100000);
    await client.command('stop');
    assert.equal(sim.state.status, 'stop');
    r = await client.command('playlist', { url: 'http://h/list.m3u?a=1&b=2', index: 2 });
    assert.deepEqual(sim.state.playlist, { url: 'http://h/list.m3u?a=1&b=2', index: 2 });
    assert.equal(sim.state.trackIndex, 2);
    assert.deepEqual(sim.requests.slice(-1), [`setPlayerCmd:hex_playlist:${Buffer.from('http://h/list.m3u?a=1&b=2').toString('hex').toUpperCase()}:2`]);
  });

  it('sets volume (absolute and clamped relative), mute, repeat, source, presets', async () => {
    assert.equal((await client.command('volume', 42)).payload, 42);
    assert.equal(sim.state.volume, 42);
    sim.state.volume = 97;
    assert.equal((await client.command('volume', '+5')).payload, 100);
    assert.equal(sim.state.volume, 100);
    sim.state.volume = 2;
    assert.equal((await client.command('volume', '-5')).payload, 0);
    await client.command('mute', true);
    assert.equal(sim.state.muted, true);
    assert.equal((await client.command('mute', 'toggle')).payload, false);
    assert.equal(sim.state.muted, false);
    await client.command('repeat', { repeat: 'all', shuffle: true });
    assert.equal(sim.state.loop, 2);
    await client.command('repeat', { shuffle: false });
    assert.equal(sim.state.loop, 0);
    await client.command('source', 'optical');
    assert.equal(sim.state.mode, 43);
    await client.command('source', 'line-in');
    assert.equal(((await client.command('status')).payload as { source: string }).source, 'line-in');
    await client.command('preset', 2);
    assert.equal(sim.state.url, sim.state.presets[1].url);
    await rejects(client.command('preset', 7), 'argument', /1 to 6/);
    assert.equal(sim.count('MCUKeyShortClick'), 1);
    const presets = (await client.command('presets')).payload as { count: number; presets: Array<{ name: string }> };
    assert.equal(presets.count, 2);
    assert.equal(presets.presets[0].name, 'Jazz Radio');
  });

  it('handles EQ on/off/get/list and preset names with hostile characters', async () => {
    await client.command('eq', 'on');
    assert.equal((await client.command('eq', 'get')).payload, 'on');
    await client.command('eq', 'off');
    assert.equal((await client.command('eq', 'get')).payload, 'off');
    const list = (await client.command('eq', 'list')).payload as string[];
    assert.ok(list.includes('R&B'));
    sim.state.eqList.push('Late Night: ?#& Ünïcode');
    const fresh = new WiimClient({ host: '127.0.0.1', port, protocol: 'https' });
    try {
      await fresh.command('eq', 'Late Night: ?#& Ünïcode');
      assert.equal(sim.state.eqPreset, 'Late Night: ?#& Ünïcode');
      await fresh.command('eq', 'r&b');
      assert.equal(sim.state.eqPreset, 'R&B');
      const before = sim.requests.length;
      await rejects(fresh.command('eq', 'Disco'), 'argument', /not an EQ preset/);
      assert.equal(sim.requests.length, before, 'the list was cached; nothing was sent');
    } finally {
      await fresh.close();
    }
  });

  it('carries hostile URLs intact: & : ? # spaces and non-ASCII', async () => {
    const u = 'http://host:8000/päth/a b/ñ.mp3?x=1&y=a:b#frag+plus%20';
    await client.command('play', u);
    assert.equal(sim.state.url, u);
    await client.command('alarm', { op: 'set', n: 1, trigger: 2, operation: 1, time: '063000', url: u });
    assert.deepEqual(sim.state.alarms[1], { enable: true, trigger: 2, operation: 1, time: '063000', day: '', url: u });
  });

  it('reads info, meta, wifi state, shutdown timer, alarms and time sync', async () => {
    const info = (await client.command('info')).payload as Record<string, unknown>;
    assert.deepEqual(info, {
      name: 'Test Room',
      model: 'Muzo_Mini',
      firmware: 'Linkplay.4.6.425351',
      ssid: 'Home Wi-Fi',
      ip: '127.0.0.1',
      mac: '08:E9:F6:8F:8F:A2',
      uuid: 'FF970016A6FE22C1660AB4D8',
      rssi: -42,
      presets: 6,
      group: 'solo',
    });
    assert.equal((await client.command('meta')).payload, null, 'Failed while stopped is null');
    sim.playTrack(1);
    const meta = (await client.command('meta')).payload as Record<string, unknown>;
    assert.equal(meta.title, 'So What');
    assert.equal(meta.sampleRate, 44100);
    assert.equal((await client.command('wifi-state')).payload, 'connected');
    await client.command('shutdown', 600);
    const left = (await client.command('shutdown-timer')).payload as number;
    assert.ok(left > 590 && left <= 600);
    await client.command('shutdown', -1);
    assert.equal(sim.state.shutdownAt, null);
    await client.command('time-sync', new Date(Date.UTC(2025, 5, 1, 12, 0, 0)));
    assert.equal(sim.state.timeSync, '20250601120000');
    await client.command('alarm', { op: 'set', n: 0, trigger: 1, operation: 1, time: '07:15:00', day: '20250602', url: 'http://a/b.mp3' });
    const alarm = (await client.command('alarm', { op: 'get', n: 0 })).payload as Record<string, unknown>;
    assert.deepEqual([alarm.enabled, alarm.trigger, alarm.time, alarm.date, alarm.url], [true, 1, '07:15:00', '2025:06:02', 'http://a/b.mp3']);
    await client.command('alarm', { op: 'stop' });
    assert.equal(sim.requests.at(-1), 'alarmStop');
    assert.equal((await client.command('reboot')).payload, true, 'an empty body is the reboot acknowledgement');
    assert.equal(sim.state.reboots, 1);
  });

  it('runs the multiroom commands', async () => {
    await client.command('join', '10.0.0.5');
    assert.equal(sim.state.leader, '10.0.0.5');
    assert.equal(((await client.command('status')).payload as { group: string }).group, 'follower');
    await client.command('leave');
    assert.equal(sim.state.leader, null);
    sim.state.followers = [{ name: 'Kitchen', ip: '10.0.0.7', uuid: 'u1', volume: 20, mute: false }];
    const group = (await client.command('group')).payload as { count: number; followers: Array<{ ip: string }> };
    assert.equal(group.count, 1);
    await client.command('kick', '10.0.0.7');
    assert.deepEqual(sim.state.followers, []);
    await rejects(client.command('kick', '10.0.0.7'), 'device', /Failed/);
    sim.state.followers = [{ name: 'Kitchen', ip: '10.0.0.7', uuid: 'u1', volume: 20, mute: false }];
    await client.command('ungroup');
    assert.deepEqual(sim.state.followers, []);
  });

  it('reads plain and hex-encoded titles alike', async () => {
    sim.playTrack(2);
    sim.faults.hexMeta = true;
    const hexed = (await client.command('status')).payload as { title: string };
    assert.match(String(JSON.parse((await client.command('raw', 'getPlayerStatus')).raw).Title), /^[0-9A-F]+$/);
    sim.faults.hexMeta = false;
    const plain = (await client.command('status')).payload as { title: string };
    assert.equal(hexed.title, 'Freddie Freeloader');
    assert.equal(plain.title, 'Freddie Freeloader');
  });

  it('turns each failure reply into a distinct, readable error', async () => {
    await rejects(client.command('raw', 'noSuchCommand'), 'device', /does not know the command noSuchCommand/);
    await rejects(client.command('raw', 'EQLoad:Nope'), 'device', /status "Failed"/);
    await rejects(client.command('raw', 'timeSync:bad'), 'device', /answered "Failed"/);
    assert.deepEqual(await client.command('raw', 'getShutdown'), { command: 'raw', request: 'getShutdown', raw: '0', payload: '0', applied: 'getShutdown' });
    sim.faults.garbage = true;
    await rejects(client.command('pause'), 'protocol', /not JSON/);
    await rejects(client.command('status'), 'protocol', /not JSON/);
    sim.faults.garbage = false;
    sim.faults.http500 = true;
    const e = await rejects(client.command('pause'), 'device', /HTTP 500/);
    assert.equal(e.code, 500);
    sim.faults.http500 = false;
    sim.faults.drop = true;
    await rejects(client.command('pause'), 'network', /closed the connection/);
    sim.faults.drop = false;
    assert.equal((await client.command('pause')).payload, true);
  });

  it('sends the next command after the device closed the idle connection', async () => {
    sim.faults.closeIdleAfterMs = 30;
    await client.command('volume', 10);
    await new Promise((r) => setTimeout(r, 150));
    await client.command('volume', 11);
    await new Promise((r) => setTimeout(r, 150));
    await client.command('volume', 12);
    assert.equal(sim.state.volume, 12);
  });

  it('a closed connection sends nothing more, not even the retry of a request it cut off', async () => {
    const connection = new DeviceConnection();
    const req = { origin: sim.url, path: '/httpapi.asp?command=getPlayerStatus', timeoutMs: 2000 };
    assert.equal((await deviceRequest(connection, req)).status, 200);
    await connection.close();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await rejects(deviceRequest(connection, { ...req, timeoutMs: 60_000 }), 'closed', /closed/);
    assert.equal(timers(), before, 'the refusal leaves no deadline timer behind');
    assert.deepEqual(sim.requests, ['getPlayerStatus']);
  });

  it('times out on a device that does not answer', async () => {
    sim.faults.hang = true;
    const slow = new WiimClient({ host: '127.0.0.1', port, protocol: 'https', timeoutMs: 300 });
    try {
      await rejects(slow.command('pause'), 'timeout', /no answer from 127\.0\.0\.1:\d+ within 300 ms/);
    } finally {
      await slow.close();
    }
  });

  it('gives up a TLS handshake the device never answers, and closes its socket', async () => {
    // a device whose TCP accepts but whose TLS never speaks
    const open = new Set<net.Socket>();
    const mute = net.createServer((s) => {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.resume(); // reads the ClientHello into the void, and sees the end
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const mutePort = (mute.address() as net.AddressInfo).port;
    const client = new WiimClient({ host: '127.0.0.1', port: mutePort, protocol: 'https', timeoutMs: 300 });
    try {
      await rejects(client.command('pause'), 'timeout', /within 300 ms/);
      await until(() => open.size === 0, 'the half-open connection to close', 2000);
    } finally {
      await client.close();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });

  it('accepts a matching pinned fingerprint and refuses a different one, or a changed certificate', async () => {
    const fp = sim.fingerprint as string;
    const good = new WiimClient({ host: '127.0.0.1', port, protocol: 'https', fingerprint: fp.replace(/:/g, '').toLowerCase() });
    const bad = new WiimClient({ host: '127.0.0.1', port, protocol: 'https', fingerprint: 'AB'.repeat(32) });
    try {
      assert.equal((await good.command('pause')).payload, true);
      await rejects(bad.command('pause'), 'network', /does not match the pinned fingerprint/);
      assert.equal(sim.count('setPlayerCmd:pause'), 1, 'nothing went to the device over the refused connection');
      sim.regenerateCertificate();
      await new Promise((r) => setTimeout(r, 50));
      await rejects(good.command('pause'), 'network', /does not match/);
    } finally {
      await Promise.all([good.close(), bad.close()]);
    }
    assert.throws(() => new WiimClient({ host: '127.0.0.1', fingerprint: '12:34' }), /SHA-256/);
  });
});

describe('wiim protocol: endpoint detection', function () {
  this.timeout(20000);

  it('auto finds plain HTTP after HTTPS fails, and keeps it', async () => {
    const sim = new WiimSimulator({ protocol: 'http' });
    const { port } = await sim.start({ port: 0 });
    const dead = await freePort();
    const client = new WiimClient({
      host: '127.0.0.1',
      protocol: 'auto',
      candidates: [
        { protocol: 'https', port: dead },
        { protocol: 'https', port },
        { protocol: 'http', port },
      ],
    });
    try {
      assert.equal((await client.command('volume', 5)).payload, 5);
      assert.deepEqual(client.endpoint, { protocol: 'http', port });
      await client.command('volume', 6);
      assert.deepEqual(sim.requests, ['setPlayerCmd:vol:5', 'setPlayerCmd:vol:6']);
    } finally {
      await client.close();
      await sim.stop();
    }
  });

  it('auto with a port tries https then http on it; on an https sim it stays https', async () => {
    const sim = new WiimSimulator();
    const { port } = await sim.start({ port: 0 });
    const client = new WiimClient({ host: '127.0.0.1', port, protocol: 'auto' });
    try {
      await client.command('pause');
      assert.deepEqual(client.endpoint, { protocol: 'https', port });
    } finally {
      await client.close();
      await sim.stop();
    }
  });

  it('reports every endpoint tried when none answers', async () => {
    const a = await freePort();
    const client = new WiimClient({
      host: '127.0.0.1',
      candidates: [
        { protocol: 'https', port: a },
        { protocol: 'http', port: a },
      ],
    });
    try {
      await rejects(client.command('pause'), 'network', new RegExp(`tried https:${a}, http:${a}`));
    } finally {
      await client.close();
    }
  });

  it('falls back to relaxed TLS only for a device whose strict handshake fails', async () => {
    const sim = new WiimSimulator({ legacyTls: true });
    const { port } = await sim.start({ port: 0 });
    const client = new WiimClient({ host: '127.0.0.1', port, protocol: 'https' });
    const modern = new WiimSimulator();
    const m = await modern.start({ port: 0 });
    const strict = new WiimClient({ host: '127.0.0.1', port: m.port, protocol: 'https' });
    try {
      await client.command('pause');
      assert.equal(client.relaxedTls, true);
      await strict.command('pause');
      assert.equal(strict.relaxedTls, false);
    } finally {
      await Promise.all([client.close(), strict.close(), sim.stop(), modern.stop()]);
    }
  });
});
