import assert from 'node:assert/strict';
import { until } from './helpers/wait';
import net from 'node:net';
import { freePort } from './helpers/net';
import { rejectsWith, throwsArgument } from './helpers/assert';
import { DeviceError } from '../src/shared/errors';
import { DeviceConnection, deviceRequest } from '../src/shared/http';
import { WiimClient } from '../src/wiim/client';
import { encodeCommand, isWiimCommand, prepareCommand, utcStamp, type CommandContext, type WiimCommandRequest } from '../src/wiim/commands';
import { LOOP_MODES, loopToMode, modeToLoop } from '../src/wiim/vocabulary';
import {
  classifyReply,
  decodeHexText,
  parseEqList,
  parseEqStat,
  parseInfo,
  parseMeta,
  parsePlayerStatus,
  parseSlaveList,
  textField,
  toSeconds,
  unescapeHtml,
} from '../src/wiim/parse';
import { WiimSimulator } from '../src/sim/wiim-sim';

const ctx = { request: 'test', host: '127.0.0.1' };

// the session-level tests below still use these two; the shared helpers serve the rest
/** The command names of the message contract (docs/architecture.md): never renamed, never dropped. */
const CONTRACT_COMMANDS = (
  'play playlist pause resume toggle stop next prev seek volume mute repeat eq source preset reboot shutdown shutdown-timer time-sync alarm ' +
  'status info meta presets wifi-state join leave kick ungroup group raw'
).split(' ');

const refuses = (request: WiimCommandRequest, pattern?: RegExp) => throwsArgument(() => prepareCommand(request), pattern);
const player = (p: Partial<NonNullable<CommandContext['player']>>): CommandContext => ({
  player: { volume: 1, muted: false, duration: null, repeat: 'off', shuffle: false, ...p },
});
const alarmAt = { op: 'set', n: 0, trigger: 2, time: '070000', url: 'http://a/b' } as const;

describe('wiim protocol: encoding and parsing', () => {
  it('refuses out-of-range and malformed arguments before anything is built', () => {
    refuses({ command: 'volume', arg: 101 }, /volume must be from 0 to 100, got 101/);
    refuses({ command: 'volume', arg: -1 }, /0 to 100/);
    refuses({ command: 'volume', arg: 20.5 }, /volume must be a whole number/);
    refuses({ command: 'volume', arg: { step: 2.5 } }, /relative volume step must be a whole number/);
    refuses({ command: 'seek', arg: -3 }, /seek takes a position in seconds/);
    refuses({ command: 'seek', arg: Number.NaN }, /seek takes a position in seconds/);
    refuses({ command: 'preset', arg: 0 }, /preset must be from 1 to 99/);
    refuses({ command: 'preset', arg: 1.5 }, /preset must be a whole number/);
    refuses({ command: 'shutdown', arg: -2 }, /shutdown seconds must be from -1/);
    refuses({ command: 'source', arg: 'cassette' }, /source must be one of/);
    refuses({ command: 'repeat', arg: {} }, /repeat takes/);
    refuses({ command: 'play', arg: 'not a url' }, /play URL must be a URL/);
    refuses({ command: 'play', arg: ' ' }, /play URL is empty/);
    refuses({ command: 'play', arg: 'http://h/a\u0000b' }, /control characters/);
    refuses({ command: 'play', arg: `http://h/${'a'.repeat(4000)}` }, /shorter than 2048 bytes/);
    refuses({ command: 'playlist', arg: { url: 'http://h/l.m3u', index: -1 } }, /playlist index must be from 0/);
    refuses({ command: 'eq', arg: '' }, /eq is empty/);
    refuses({ command: 'raw', arg: 'getStatusEx&x=1' }, /refused/);
    refuses({ command: 'raw', arg: 'getStatusEx#frag' }, /refused/);
    refuses({ command: 'raw', arg: 'getStatus\nEx' }, /refused/);
    refuses({ command: 'raw', arg: '  ' }, /raw takes a command string/);
    refuses({ command: 'join', arg: '1.2.3.4:80/x' }, /join \(the leader address\) must be an IP address or host name/);
    refuses({ command: 'kick', arg: '10.0.0.7;reboot' }, /must be an IP address or host name/);
    refuses({ command: 'time-sync', arg: new Date('not a date') }, /time-sync: the date is invalid/);
    refuses({ command: 'time-sync', arg: new Date('1999-12-31T00:00:00Z') }, /year must be from 2000 to 2099, got 1999/);
    refuses({ command: 'alarm', arg: { ...alarmAt, n: 3 } }, /alarm n must be from 0 to 2/);
    refuses({ command: 'alarm', arg: { ...alarmAt, trigger: 9 } }, /alarm trigger must be from 0 to 5/);
    refuses({ command: 'alarm', arg: { ...alarmAt, operation: 3 } }, /alarm operation must be from 0 to 2/);
    refuses({ command: 'alarm', arg: { ...alarmAt, trigger: 1, day: '2024-01-01' } }, /YYYYMMDD/);
    refuses({ command: 'alarm', arg: { ...alarmAt, trigger: 3, day: '07' } }, /"00"/);
    refuses({ command: 'alarm', arg: { ...alarmAt, trigger: 4, day: '00' } }, /hex bit mask/);
    refuses({ command: 'alarm', arg: { ...alarmAt, trigger: 5, day: '32' } }, /trigger 5 \(monthly\)/);
    refuses({ command: 'alarm', arg: { ...alarmAt, day: '01' } }, /only for triggers 1, 3, 4 and 5/);
    refuses({ command: 'alarm', arg: { ...alarmAt, time: '250000' } }, /HHMMSS/);
    refuses({ command: 'alarm', arg: { ...alarmAt, url: `http://a/${'x'.repeat(260)}` } }, /256/);
    refuses({ command: 'alarm', arg: { ...alarmAt, url: undefined } }, /url is needed/);
    // what the device decides
    throwsArgument(() => encodeCommand({ command: 'volume', arg: { step: 5 } }, {}), /current volume/);
    throwsArgument(() => encodeCommand({ command: 'mute', arg: 'toggle' }, {}), /current mute state/);
    throwsArgument(() => encodeCommand({ command: 'eq', arg: 'Disco' }, { eqList: ['Flat', 'Rock'] }), /not an EQ preset/);
    throwsArgument(() => encodeCommand({ command: 'preset', arg: 7 }, { presetCount: 6 }), /1 to 6/);
    throwsArgument(() => encodeCommand({ command: 'seek', arg: 400 }, player({ duration: 300 })), /past the end/);
  });

  it('encodes arguments like encodeURIComponent, raw like encodeURI', () => {
    const hostile = 'http://h/a b?x=1&y=2#z';
    assert.equal(encodeCommand({ command: 'play', arg: hostile }).request, `setPlayerCmd:play:${encodeURIComponent(hostile)}`);
    assert.match(encodeCommand({ command: 'play', arg: 'http://h/a b' }).request, /a%20b$/);
    assert.equal(encodeCommand({ command: 'play', arg: undefined }).request, 'setPlayerCmd:resume');
    assert.equal(
      encodeCommand({ command: 'playlist', arg: { url: 'http://h/l.m3u', index: 2 } }).request,
      `setPlayerCmd:hex_playlist:${Buffer.from('http://h/l.m3u').toString('hex').toUpperCase()}:2`,
    );
    assert.equal(encodeCommand({ command: 'raw', arg: 'setPlayerCmd:vol:5 x' }).request, 'setPlayerCmd:vol:5%20x');
    assert.equal(encodeCommand({ command: 'join', arg: '192.168.1.20' }).request, 'ConnectMasterAp:JoinGroupMaster:eth192.168.1.20:wifi0.0.0.0');
    assert.equal(encodeCommand({ command: 'eq', arg: 'r&b' }, { eqList: ['Flat', 'R&B'] }).request, 'EQLoad:R%26B');
    assert.equal(encodeCommand({ command: 'source', arg: 'AUX' }).request, 'setPlayerCmd:switchmode:line-in');
    assert.equal(
      encodeCommand({ command: 'alarm', arg: { ...alarmAt, trigger: 4, day: '7f' } }).request,
      `setAlarmClock:0:4:1:070000:7F:${encodeURIComponent('http://a/b')}`,
    );
    assert.equal(encodeCommand({ command: 'volume', arg: 30 }).request, 'setPlayerCmd:vol:30');
    assert.equal(encodeCommand({ command: 'volume', arg: { step: 5 } }, player({ volume: 98 })).request, 'setPlayerCmd:vol:100');
    assert.equal(encodeCommand({ command: 'volume', arg: { step: -5 } }, player({ volume: 3 })).request, 'setPlayerCmd:vol:0');
    assert.equal(encodeCommand({ command: 'mute', arg: 'toggle' }, player({ muted: true })).request, 'setPlayerCmd:mute:0');
    assert.equal(encodeCommand({ command: 'seek', arg: 61.9 }, player({ duration: 300 })).request, 'setPlayerCmd:seek:61');
    assert.equal(utcStamp(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), '20240102030405');
    assert.equal(encodeCommand({ command: 'time-sync', arg: new Date('2024-01-02T04:04:05+01:00') }).request, 'timeSync:20240102030405');
    assert.match(encodeCommand({ command: 'time-sync', arg: undefined }).request, /^timeSync:20\d{12}$/);
  });

  it('maps loop numbers both ways per the getter table', () => {
    for (const m of LOOP_MODES) {
      assert.deepEqual(loopToMode(m.loop), { repeat: m.repeat, shuffle: m.shuffle });
      assert.equal(modeToLoop(m.repeat, m.shuffle, 'arylic'), m.loop);
    }
    // pywiim api/loop_mode.py: WiiM's scheme has no number for shuffle with repeat one
    assert.equal(modeToLoop('one', true, 'wiim'), undefined);
    assert.equal(encodeCommand({ command: 'repeat', arg: { repeat: 'off', shuffle: true } }).request, 'setPlayerCmd:loopmode:3');
    assert.equal(encodeCommand({ command: 'repeat', arg: { shuffle: true } }, player({ repeat: 'all' })).request, 'setPlayerCmd:loopmode:2');
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
    assert.throws(
      () => classifyReply('['.repeat(100_000) + ']'.repeat(100_000)),
      (err: unknown) => err instanceof DeviceError && err.kind === 'protocol' && /nested deeper than 64 levels/.test(err.message),
    );
    // brackets inside strings do not count
    assert.equal(classifyReply(JSON.stringify({ title: '['.repeat(1000) })).kind, 'json');
    // the player's own status is not an acknowledgement
    assert.equal(classifyReply('{"status":"play","vol":"3"}').kind, 'json');
  });

  it('reads the replies as the WiiM HTTP API document gives them', () => {
    // getPlayerStatus, section 2.3.1: positions in ms, loop 4 = no shuffle, no loop
    const { status } = parsePlayerStatus(
      '{"type":"0","ch":"2","mode":"10","loop":"4","eq":"0","status":"play","curpos":"184919","offset_pts":"184919","totlen":"0",' +
        '"alarmflag":"0","plicount":"0","plicurr":"0","vol":"39","mute":"0"}',
      ctx,
    );
    assert.deepEqual(
      [status.state, status.volume, status.muted, status.position, status.duration, status.repeat, status.shuffle],
      ['playing', 39, false, 184, null, 'off', false],
    );
    // getStatusEx, section 2.1 (abridged): preset_key is the number of preset keys, RSSI the signal
    const { info } = parseInfo(
      JSON.stringify({
        firmware: 'Linkplay.4.6.425351',
        project: 'Muzo_Mini',
        uuid: 'FF970016A6FE22C1660AB4D8',
        MAC: '08:E9:F6:8F:8F:A2',
        apcli0: '192.168.4.62',
        eth0: '0.0.0.0',
        preset_key: '6',
        RSSI: '-30',
        DeviceName: 'WiiM Mini-8FA2',
        group: '0',
      }),
      ctx,
    );
    assert.deepEqual(
      [info.name, info.model, info.firmware, info.mac, info.uuid, info.ip, info.rssi, info.presets],
      ['WiiM Mini-8FA2', 'Muzo_Mini', 'Linkplay.4.6.425351', '08:E9:F6:8F:8F:A2', 'FF970016A6FE22C1660AB4D8', '192.168.4.62', -30, 6],
    );
    // EQGetStat and EQGetList, sections 2.4.3 and 2.4.4
    assert.equal(parseEqStat('{"EQStat":"On"}', ctx), 'on');
    assert.equal(parseEqStat('{"EQStat":"Off"}', ctx), 'off');
    assert.deepEqual(parseEqList('["Flat", "Acoustic", "R&B", "Small Speakers"]', ctx), ['Flat', 'Acoustic', 'R&B', 'Small Speakers']);
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
    // under Spotify Connect, loop 5 means normal play (pywiim api/loop_mode.py, issue 17)
    assert.deepEqual([status.repeat, status.shuffle], ['off', false]);
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

  it('knows every command of the message contract', () => {
    for (const name of CONTRACT_COMMANDS) assert.ok(isWiimCommand(name), `${name} is a command`);
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
    assert.equal((await client.command('volume', { step: 5 })).payload, 100);
    assert.equal(sim.state.volume, 100);
    sim.state.volume = 2;
    assert.equal((await client.command('volume', { step: -5 })).payload, 0);
    await client.command('mute', true);
    assert.equal(sim.state.muted, true);
    assert.equal((await client.command('mute', 'toggle')).payload, false);
    assert.equal(sim.state.muted, false);
    await client.command('repeat', { repeat: 'all', shuffle: true });
    assert.equal(sim.state.loop, 2);
    await client.command('repeat', { shuffle: false });
    assert.equal(sim.state.loop, 0);
    // the Mini has no optical input (plm_support)
    await client.command('source', 'bluetooth');
    assert.equal(sim.state.mode, 41);
    await client.command('source', 'line-in');
    assert.equal(((await client.command('status')).payload as { source: string }).source, 'line-in');
    await client.command('preset', 2);
    assert.equal(sim.state.url, sim.state.presets[1].url);
    await rejectsWith(client.command('preset', 7), 'argument', /1 to 6/);
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
      await rejectsWith(fresh.command('eq', 'Disco'), 'argument', /not an EQ preset/);
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
      modelId: 'mini',
      product: 'WiiM Mini',
      inputs: ['wifi', 'line-in', 'bluetooth'],
      outputs: ['optical', 'line-out', 'bluetooth'],
      connection: 'wifi',
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
    await rejectsWith(client.command('kick', '10.0.0.7'), 'device', /Failed/);
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
    await rejectsWith(client.command('raw', 'noSuchCommand'), 'device', /does not know the command noSuchCommand/);
    await rejectsWith(client.command('raw', 'EQLoad:Nope'), 'device', /status "Failed"/);
    await rejectsWith(client.command('raw', 'timeSync:bad'), 'device', /answered "Failed"/);
    assert.deepEqual(await client.command('raw', 'getShutdown'), {
      command: 'raw',
      request: 'getShutdown',
      raw: '0',
      payload: '0',
      reading: { reply: 'raw', value: '0' },
      applied: 'getShutdown',
    });
    sim.faults.garbage = true;
    await rejectsWith(client.command('pause'), 'protocol', /not JSON/);
    await rejectsWith(client.command('status'), 'protocol', /not JSON/);
    sim.faults.garbage = false;
    // nested 100000 deep (200 KB, under the size cap): unreadable, not a stack overflow
    sim.faults.deepJson = true;
    await rejectsWith(client.command('status'), 'protocol', /nested deeper than 64 levels/);
    await rejectsWith(client.command('pause'), 'protocol', /nested deeper than 64 levels/);
    sim.faults.deepJson = false;
    sim.faults.http500 = true;
    // httpapi.asp answers 200 to every API reply: another status is unreadable
    const e = await rejectsWith(client.command('pause'), 'protocol', /HTTP 500/);
    assert.equal(e.code, 500);
    sim.faults.http500 = false;
    sim.faults.drop = true;
    await rejectsWith(client.command('pause'), 'network', /closed the connection/);
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
    const req = { origin: sim.url, path: '/httpapi.asp?command=getPlayerStatus', timeoutMs: 2000, idempotent: true };
    assert.equal((await deviceRequest(connection, req)).status, 200);
    await connection.close();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await rejectsWith(deviceRequest(connection, { ...req, timeoutMs: 60_000 }), 'closed', /closed/);
    assert.equal(timers(), before, 'the refusal leaves no deadline timer behind');
    assert.deepEqual(sim.requests, ['getPlayerStatus']);
  });

  it('times out on a device that does not answer', async () => {
    sim.faults.hang = true;
    const slow = new WiimClient({ host: '127.0.0.1', port, protocol: 'https', timeoutMs: 300 });
    try {
      await rejectsWith(slow.command('pause'), 'timeout', /no answer from 127\.0\.0\.1:\d+ within 300 ms/);
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
      await rejectsWith(client.command('pause'), 'timeout', /within 300 ms/);
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
      await rejectsWith(bad.command('pause'), 'network', /does not match the pinned fingerprint/);
      assert.equal(sim.count('setPlayerCmd:pause'), 1, 'nothing went to the device over the refused connection');
      sim.regenerateCertificate();
      await new Promise((r) => setTimeout(r, 50));
      await rejectsWith(good.command('pause'), 'network', /does not match/);
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
      await rejectsWith(client.command('pause'), 'network', new RegExp(`tried https:${a}, http:${a}`));
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
