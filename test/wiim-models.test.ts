import assert from 'node:assert/strict';
import { rejectsWith } from './helpers/assert';
import { coreNode, helper, ok, refused, withTab, type Msg } from './helpers/runtime';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import { WiimClient, AUTO_ENDPOINTS } from '../src/wiim/client';
import { prepareCommand } from '../src/wiim/commands';
import { commandRequest } from '../src/contract/wiim-values';
import { identifyModel, inputsOf, loopSchemeOf } from '../src/wiim/models';
import {
  modeToSource,
  outputOfSoundCardMode,
  parseActiveOutput,
  parseEqBands,
  parseEqList,
  parseInfo,
  parseOutput,
  parsePlayerStatus,
  parseReply,
  parseSlaveList,
  sourceOf,
  textField,
  toSeconds,
} from '../src/wiim/parse';
import { WiimSession } from '../src/sessions/wiim-session';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { PROFILES, WIIM_PROFILES, type WiimProfileName } from '../src/sim/wiim-profiles';

/**
 * Real firmware: the reply forms public implementations record, and the
 * models beyond the Mini. Reply formats are asserted as the vendor document
 * or the cited public source writes them, not as our simulator sends them;
 * the simulator profiles then show that the client handles each end to end.
 */
const ctx = { request: 'test', host: '192.168.1.40' };

describe('wiim real firmware: reply forms (public sources)', () => {
  it('takes an empty or non-JSON body as success where pywiim api/base.py does; Failed and unknown command still fail', () => {
    for (const body of ['', '  ', 'OK', '{"status":"OK"}', 'ok\r\n', 'success']) parseReply('ack-lenient', body, ctx);
    assert.throws(() => parseReply('ack-lenient', 'Failed', ctx), /Failed/);
    assert.throws(() => parseReply('ack-lenient', 'unknown command', ctx), /unknown command/);
    // Arylic answers EQOff with unknown command
    parseReply('eq-off', 'unknown command', ctx);
    assert.throws(() => parseReply('ack', '', ctx), /empty reply/, 'a plain ack keeps its strict reading');
  });

  it('names playback modes as python-linkplay consts.py PlayingMode does: 20 API → wifi, 36 Qobuz, -1 idle; unknown modes alike', () => {
    assert.equal(modeToSource(20), 'wifi');
    assert.equal(modeToSource(36), 'qobuz');
    assert.equal(modeToSource(-1), 'none');
    assert.equal(modeToSource(77), 'unknown');
    assert.equal(modeToSource(-96), 'unknown');
  });

  it('USB playback reported as network playback: mode 10 with vendor UDiskLocal is usb (WiiM Ultra 5.2, pywiim issue 21)', () => {
    // the reply as the issue quotes it (Linkplay.5.2.818432, MP3s from a USB stick)
    const body =
      '{"type":"0","ch":"0","mode":"10","loop":"4","eq":"0","vendor":"UDiskLocal","status":"play","curpos":"5732","offset_pts":"5739","totlen":"89784","Title":"547261636B2030322047756974617273205370616E6973682044616E636573204578636572707473","Artist":"566172696F75732041727469737473","Album":"5068696C6861726D6F6E696320417564696F20323032332044656D6F204344","alarmflag":"0","plicount":"0","plicurr":"0","vol":"12","mute":"0"}';
    const { status } = parsePlayerStatus(body, ctx);
    assert.deepEqual(
      { source: status.source, state: status.state, position: status.position, duration: status.duration, volume: status.volume },
      { source: 'usb', state: 'playing', position: 5, duration: 90, volume: 12 },
    );
    assert.equal(status.title, 'Track 02 Guitars Spanish Dances Excerpts');
    // the same thread: playing through DLNA gives mode 2 and no vendor
    const { vendor: _vendor, ...dlna } = JSON.parse(body) as Record<string, string>;
    assert.equal(parsePlayerStatus(JSON.stringify({ ...dlna, mode: '2' }), ctx).status.source, 'dlna');
    assert.equal(parsePlayerStatus(JSON.stringify({ ...dlna, mode: '10' }), ctx).status.source, 'wifi', 'mode 10 without a vendor stays network playback');
  });

  it('reads vendor only where the mode is the generic network value 10–19, with the vendor names pywiim api/parser.py maps', () => {
    for (const vendor of ['UDiskLocal', 'UDisk', 'udisklocal']) assert.equal(sourceOf(10, vendor), 'usb', vendor);
    const services: Array<[string, string]> = [
      ['Amazon Music', 'amazon'],
      ['AmazonMusic', 'amazon'],
      ['Prime', 'amazon'],
      ['Qobuz', 'qobuz'],
      ['Tidal', 'tidal'],
      ['Deezer', 'deezer'],
      // cast sessions are network playback (pywiim issues 6 and 19)
      ['Chromecast', 'wifi'],
      ['CAST', 'wifi'],
    ];
    for (const [vendor, source] of services) assert.equal(sourceOf(12, vendor), source, vendor);
    assert.equal(sourceOf(19, 'UDiskLocal'), 'usb');
    // other modes name their source themselves: mode 36 with vendor "Qobuz" (mjcumming/wiim issue 222), Spotify, line-in, the HTTP API
    assert.equal(sourceOf(36, 'Qobuz'), 'qobuz');
    for (const mode of [20, 31, 40, 41, 2]) assert.equal(sourceOf(mode, 'UDiskLocal'), modeToSource(mode), String(mode));
    assert.equal(sourceOf(10, ''), 'wifi');
    assert.equal(sourceOf(10, 42), 'wifi');
  });

  it('reads ms or µs per field, switching at 10 h as pywiim api/parser.py does, right for short tracks', () => {
    assert.deepEqual(toSeconds(30_000, 60_000), { position: 30, duration: 60 }, 'a 60 s track in ms');
    assert.deepEqual(toSeconds(30_000_000, 60_000_000), { position: 30, duration: 60 }, 'a 60 s track in µs is 60 s');
    assert.deepEqual(toSeconds(5_000_000, 60_000_000), { position: 5, duration: 60 }, 'early in a µs track');
    assert.deepEqual(toSeconds(40_000_000, 0), { position: 40, duration: null }, 'a µs stream');
    assert.deepEqual(toSeconds(7_200_000, -1), { position: 7200, duration: null }, 'two hours of a stream in ms');
  });

  it('keeps plain titles that look like hex, and decodes hex-encoded UTF-8 that decodes cleanly', () => {
    assert.equal(textField('2020'), '2020');
    assert.equal(textField('4142'), '4142');
    assert.equal(textField('1999'), '1999');
    assert.equal(textField('CAFE'), 'CAFE', 'not valid UTF-8');
    assert.equal(textField('436166C3A9'), 'Café');
    assert.equal(textField('32303230'), '2020', 'the year hex-encoded');
    assert.equal(textField('556E6B6E6F776E'), null, '"Unknown"');
  });

  it('reads idle as status "none" with mode -1, and vTuner loop "-1" as no loop mode', () => {
    const { status } = parsePlayerStatus(
      JSON.stringify({ type: '0', mode: '-1', loop: '-1', status: 'none', curpos: '0', totlen: '0', vol: '20', mute: '0' }),
      ctx,
    );
    assert.deepEqual([status.state, status.source, status.repeat, status.shuffle], ['stopped', 'none', null, null]);
  });

  it('reads the loop schemes of pywiim api/loop_mode.py: 5 under Spotify is normal, 5 elsewhere is Arylic shuffle + repeat one', () => {
    const loop5 = (mode: string, scheme: 'wiim' | 'arylic') => {
      const { status } = parsePlayerStatus(JSON.stringify({ mode, loop: '5', status: 'play', vol: '1' }), ctx, scheme);
      return [status.repeat, status.shuffle];
    };
    assert.deepEqual(loop5('31', 'arylic'), ['off', false]);
    assert.deepEqual(loop5('10', 'arylic'), ['one', true]);
    assert.deepEqual(loop5('10', 'wiim'), ['off', false]);
    assert.equal(loopSchemeOf('ultra', 'Linkplay.5.2.712345'), 'arylic');
    assert.equal(loopSchemeOf('ultra', 'Linkplay.5.1.9'), 'wiim');
    assert.equal(loopSchemeOf('pro', 'Linkplay.5.2.1'), 'wiim');
    assert.equal(loopSchemeOf('arylic', '4.6.415145'), 'arylic');
  });

  it('reads the EQ list bare or wrapped in an object, and EQGetBand with a user preset and EQLevel', () => {
    assert.deepEqual(parseEqList('["Flat","Rock"]', ctx), ['Flat', 'Rock']);
    assert.deepEqual(parseEqList('{"EQList":["Flat","bass up treble down"]}', ctx), ['Flat', 'bass up treble down']);
    const bands = parseEqBands(
      JSON.stringify({
        EQStat: 'On',
        Name: 'bass up treble down',
        EQLevel: 0,
        EQBand: [
          { index: 0, param_name: 'band31hz', value: 70 },
          { index: 9, param_name: 'band16khz', value: 30 },
        ],
      }),
      ctx,
    );
    assert.deepEqual(bands, {
      enabled: true,
      preset: 'bass up treble down',
      bands: [
        { hz: 31, value: 70 },
        { hz: 16000, value: 30 },
      ],
    });
  });

  it('counts a follower list whose slaves is an array, reads capitalised keys (WF-100 on 4.2), and skips an offline entry', () => {
    const arr = parseSlaveList(JSON.stringify({ slaves: [{ name: 'Kitchen', ip: '10.0.0.7', volume: '20', mute: '0' }] }), ctx);
    assert.equal(arr.count, 1);
    assert.equal(arr.followers[0].ip, '10.0.0.7');
    const caps = parseSlaveList(
      JSON.stringify({ slaves: 2, slave_list: [{ Name: 'Den', Ip: '10.0.0.8', Volume: '35', Mute: '1', Version: '4.2' }, null] }),
      ctx,
    );
    assert.equal(caps.count, 2);
    assert.deepEqual(caps.followers, [{ name: 'Den', ip: '10.0.0.8', uuid: null, volume: 35, muted: true }]);
  });

  it('never takes ra0 (the setup access point, 10.10.10.254) as the address; a wired Pro Plus is wired, not a signal of 0', () => {
    const { info } = parseInfo(
      JSON.stringify({ firmware: '4.8', uuid: 'FF98FCDE0000', ra0: '10.10.10.254', apcli0: '0.0.0.0', essid: '', RSSI: '0', netstat: '0' }),
      ctx,
    );
    assert.equal(info.ip, '192.168.1.40');
    assert.equal(info.connection, 'wired');
    assert.equal(info.rssi, null);
    assert.equal(info.modelId, 'pro-plus');
  });

  it('identifies models from project and uuid prefix (WiiM library consts.py), inputs from plm_support (python-linkplay InputMode)', () => {
    assert.deepEqual(
      [identifyModel(null, 'FF98F09C12345678')].map((m) => [m.id, m.name]),
      [['pro', 'WiiM Pro']],
    );
    assert.deepEqual(
      [identifyModel('WiiM_Ultra', null)].map((m) => [m.id, m.name]),
      [['ultra', 'WiiM Ultra']],
    );
    assert.equal(identifyModel(null, 'FF98F9ED00000000').name, 'WiiM Amp Ultra');
    assert.equal(identifyModel('UP2STREAM_AMP_V4', '0000').id, 'arylic');
    assert.equal(identifyModel('AudioPro_C10', null).id, 'audio-pro');
    assert.equal(identifyModel('SomethingElse', '12345678').id, 'unknown');
    assert.deepEqual(inputsOf('0x56'), ['wifi', 'line-in', 'bluetooth', 'optical', 'coaxial']);
    assert.deepEqual(inputsOf('10456'), ['wifi', 'line-in', 'bluetooth', 'optical', 'coaxial', 'hdmi', 'phono']);
    assert.equal(inputsOf(undefined), null);
  });

  it('names outputs per product as pywiim records them: 4 is the Ultra headphone jack, 7 the Amp Ultra HDMI or the Sound Lite speaker', () => {
    const read = (body: object, project: string) => parseOutput(JSON.stringify(body), { ...ctx, outputs: identifyModel(project, null).outputs });
    // pywiim docs, wiim#270: the Sound Lite's Speaker Out and Bluetooth Out, as the device answered
    assert.equal(read({ hardware: '7', source: '0', audiocast: '0' }, 'WiiM_Sound_Lite_V2'), 'speaker');
    assert.equal(read({ hardware: '7', source: '1', audiocast: '0' }, 'WiiM_Sound_Lite_V2'), 'bluetooth');
    // pywiim wiim#86: on the Ultra hardware 4 is Headphone Out with source 0, Bluetooth Out with source 1
    assert.equal(read({ hardware: '4', source: '0', audiocast: '0' }, 'WiiM_Ultra'), 'headphones');
    assert.equal(read({ hardware: '4', source: '1', audiocast: '0' }, 'WiiM_Ultra'), 'bluetooth');
    // pywiim wiim#122: 7 is HDMI out on the Amp Ultra; wiim#160: 8 is USB out
    assert.equal(read({ hardware: '7', source: '0', audiocast: '0' }, 'WiiM_Amp_Ultra'), 'hdmi');
    assert.equal(read({ hardware: '8', source: '0', audiocast: '0' }, 'WiiM_Ultra'), 'usb');
    // pywiim's quick reference of the documented numbers, on a product the package does not know
    assert.equal(read({ hardware: '2', source: '0', audiocast: '0' }, 'Some_OEM_Box'), 'line-out');
    assert.equal(read({ hardware: '4', source: '0', audiocast: '0' }, 'Some_OEM_Box'), 'bluetooth');
    assert.equal(read({ hardware: '7', source: '0', audiocast: '0' }, 'Some_OEM_Box'), 'output-7', 'a number that differs by product is not guessed');
    // getActiveSoundCardOutputMode answers {"mode": "AUDIO_OUTPUT_AUX_MODE", ...}; the names are the WiiM library's AudioOutputHwMode
    assert.equal(parseActiveOutput('{"index":"0","mode":"AUDIO_OUTPUT_AUX_MODE","cardId":"0"}', ctx), 'line-out');
    assert.equal(parseActiveOutput('{"mode":"AUDIO_OUTPUT_SPEAKER_MODE"}', ctx), 'speaker');
    assert.equal(outputOfSoundCardMode('AUDIO_OUTPUT_PHONE_JACK_MODE'), 'headphones');
    assert.equal(outputOfSoundCardMode('AUDIO_OUTPUT_SPDIF_MODE'), 'optical');
    assert.equal(outputOfSoundCardMode('AUDIO_OTHER_OUT_MODE'), 'other-out');
    assert.throws(() => parseActiveOutput('unknown command', ctx), /unknown command/);
    assert.throws(() => parseActiveOutput('{"mode":""}', ctx), /unexpected|not/);
  });

  it('tries 443, 4443, 8443, then 80 and 8080 in auto, as pywiim probes', () => {
    assert.deepEqual(
      AUTO_ENDPOINTS.map((e) => `${e.protocol}:${e.port}`),
      ['https:443', 'https:4443', 'https:8443', 'http:80', 'http:8080'],
    );
  });
});

/** Starts a simulator of `model` and a client for it (with the client certificate a mutual-TLS profile asks for). */
async function device(model: WiimProfileName, firmware?: string): Promise<{ sim: WiimSimulator; client: WiimClient; close: () => Promise<void> }> {
  const sim = new WiimSimulator({ name: `Sim ${model}`, model, firmware });
  const { port } = await sim.start({ port: 0 });
  const cert = sim.clientCertificate;
  const client = new WiimClient({ host: '127.0.0.1', port, protocol: 'https', timeoutMs: 3000, clientCert: cert?.cert, clientKey: cert?.key });
  return {
    sim,
    client,
    close: async () => {
      await client.close();
      await sim.stop();
    },
  };
}

const run = (client: WiimClient, name: string, value?: unknown) => client.run(prepareCommand(commandRequest(name, value)));

/** The settings matrix: each command, the setting it needs, and the exact string that reaches a device that has it. */
const MATRIX: Array<{ name: string; value?: unknown; setting: string | null; sent: string[] }> = [
  { name: 'output', value: 'line-out', setting: 'output', sent: ['setAudioOutputHardwareMode:2'] },
  { name: 'output', setting: 'output', sent: ['getNewAudioOutputHardwareMode'] },
  { name: 'balance', value: -0.5, setting: 'balance', sent: ['setChannelBalance:-0.5'] },
  { name: 'led', value: 'off', setting: 'led', sent: ['LED_SWITCH_SET:0'] },
  { name: 'buttons', value: false, setting: null, sent: ['Button_Enable_SET:0'] },
  { name: 'sub', value: { enabled: true, crossover: 90 }, setting: 'sub', sent: ['setSubLPF:status:1', 'setSubLPF:cross:90'] },
  { name: 'trigger', value: 'on', setting: 'trigger', sent: ['setTriggeroutStatus:1'] },
  { name: 'eq-bands', setting: 'eq-bands', sent: ['EQGetBand'] },
  { name: 'group-volume', value: 30, setting: null, sent: ['setPlayerCmd:slave_vol:30'] },
  { name: 'group-mute', value: true, setting: null, sent: ['setPlayerCmd:slave_mute:mute'] },
  { name: 'notify', value: 'http://h/ding.mp3', setting: null, sent: ['setPlayerCmd:playPromptUrl:http://h/ding.mp3'] },
  { name: 'firmware', value: 'check', setting: null, sent: ['getMvRemoteUpdateStartCheck'] },
];

describe('wiim models: the same command matrix against every simulator profile', function () {
  this.timeout(30000);
  for (const model of WIIM_PROFILES) {
    it(`${model}: a setting it has reaches it as the exact string; one it lacks is refused naming the models, nothing sent`, async () => {
      const d = await device(model);
      try {
        const has = new Set<string>(PROFILES[model].settings);
        for (const row of MATRIX) {
          const before = d.sim.requests.length;
          if (row.setting === null || has.has(row.setting)) {
            let sent = row.sent;
            if (row.name === 'led' && model === 'arylic') sent = ['MCU+PAS+RAKOIT:LED:0'];
            await run(d.client, row.name, row.value);
            assert.deepEqual(
              d.sim.requests.slice(before).filter((r) => r !== 'getStatusEx'),
              sent,
              `${model} ${row.name}`,
            );
          } else {
            await rejectsWith(
              run(d.client, row.name, row.value),
              'argument',
              new RegExp(`^${row.setting} is a setting of .*; ${PROFILES[model].project === 'Muzo_Mini' ? 'WiiM Mini' : '.+'} does not have it`),
            );
            assert.deepEqual(
              d.sim.requests.slice(before).filter((r) => r !== 'getStatusEx'),
              [],
              `${model} ${row.name}: nothing sent`,
            );
          }
        }
      } finally {
        await d.close();
      }
    });
  }

  it('an unrecognised model gets the command; its unknown command becomes the same clear error', async () => {
    const d = await device('mini');
    try {
      d.sim.state.model = 'Some_OEM_Box';
      d.sim.state.uuid = '0123456789ABCDEF';
      await rejectsWith(run(d.client, 'sub', { level: 3 }), 'argument', /^sub is a setting of WiiM Ultra, WiiM Amp; Some_OEM_Box does not have it/);
      assert.equal(d.sim.count('setSubLPF'), 1, 'sent, since the model is not known to lack it');
    } finally {
      await d.close();
    }
  });
});

describe('wiim models: each quirk against the profile that shows it', function () {
  this.timeout(30000);

  it('arylic: empty acks for EQLoad, switchmode, setAlarmClock, timeSync; EQOff unknown command; mode 20; µs; plain titles; capitalised followers; loop 5; LED via MCU', async () => {
    const { sim, client, close } = await device('arylic');
    try {
      assert.equal((await run(client, 'eq', 'Rock')).raw, '');
      assert.equal((await run(client, 'source', 'line-in')).raw, '');
      assert.equal((await run(client, 'alarm', { n: 0, trigger: 2, time: '070000', url: 'http://a/b' })).raw, '');
      assert.deepEqual(sim.requests.slice(-1), ['setAlarmClock:0:2:1:070000:http://a/b'], 'no day field for trigger 2 (vendor document 2.6.2)');
      assert.equal(sim.state.alarms[0].url, 'http://a/b');
      assert.equal((await run(client, 'time-sync', '2024-01-02T03:04:05Z')).raw, '');
      assert.equal((await run(client, 'eq', 'off')).raw, 'unknown command');
      await run(client, 'source', 'wifi');
      sim.state.tracks[0].title = '2020';
      await run(client, 'play', 'http://h/a.mp3');
      sim.playTrack(0);
      sim.position = 30_000;
      const s = (await run(client, 'status')).payload as { source: string; title: string; position: number; duration: number };
      assert.equal(s.source, 'wifi', 'mode 20: playback started through the HTTP API');
      assert.equal(s.title, '2020');
      assert.ok(s.position >= 30 && s.position < 40, `position ${s.position} s from µs`);
      assert.equal(s.duration, 337);
      sim.state.followers = [{ name: 'Den', ip: '10.0.0.8', uuid: 'u', volume: 35, mute: true }];
      const group = (await run(client, 'group')).payload as { count: number; followers: Array<{ ip: string; muted: boolean }> };
      assert.deepEqual([group.count, group.followers[0].ip, group.followers[0].muted], [1, '10.0.0.8', true]);
      await run(client, 'repeat', { repeat: 'one', shuffle: true });
      assert.equal(sim.state.loop, 5);
      await run(client, 'led', false);
      assert.equal(sim.settings.led, false);
      await run(client, 'member-volume', { ip: '10.0.0.8', volume: 12 });
      await run(client, 'member-mute', { ip: '10.0.0.8', muted: false });
      // each asks the leader for its followers first
      assert.deepEqual(sim.requests.slice(-4), [
        'multiroom:getSlaveList',
        'multiroom:SlaveVolume:10.0.0.8:12',
        'multiroom:getSlaveList',
        'multiroom:SlaveMute:10.0.0.8:0',
      ]);
      assert.deepEqual([sim.state.followers[0].volume, sim.state.followers[0].mute], [12, false]);
    } finally {
      await close();
    }
  });

  it('pro 4.8: EQGetStat unknown command → EQStat from EQGetBand; user presets in lower case; idle none/-1; WiiM loop scheme', async () => {
    const { sim, client, close } = await device('pro');
    try {
      const idle = (await run(client, 'status')).payload as { state: string; source: string };
      assert.deepEqual([idle.state, idle.source], ['stopped', 'none']);
      assert.equal((await run(client, 'eq', 'get')).payload, 'off');
      assert.deepEqual(sim.requests.slice(-2), ['EQGetStat', 'EQGetBand']);
      const list = (await run(client, 'eq', 'list')).payload as string[];
      assert.ok(list.includes('bass up treble down'));
      await run(client, 'eq', 'bass up treble down');
      assert.deepEqual(sim.requests.slice(-1), ['EQLoad:bass up treble down']);
      const bands = (await run(client, 'eq-bands')).payload as { enabled: boolean; preset: string };
      assert.deepEqual([bands.enabled, bands.preset], [true, 'bass up treble down']);
      const before = sim.requests.length;
      await rejectsWith(run(client, 'repeat', { repeat: 'one', shuffle: true }), 'argument', /WiiM Pro has no loop mode for shuffle with repeat one/);
      assert.equal(sim.count('setPlayerCmd:loopmode'), 0);
      assert.ok(sim.requests.slice(before).every((r) => r === 'getStatusEx'));
      await rejectsWith(run(client, 'source', 'hdmi'), 'argument', /WiiM Pro has no hdmi input; it has wifi, line-in, bluetooth, optical, coaxial/);
      assert.equal(sim.count('setPlayerCmd:switchmode'), 0);
    } finally {
      await close();
    }
  });

  it('pro-plus: wired, a follower list whose slaves is an array, EQGetList wrapped in an object', async () => {
    const { sim, client, close } = await device('pro-plus');
    try {
      const info = (await run(client, 'info')).payload as { connection: string; rssi: number | null; product: string; inputs: string[] };
      assert.deepEqual([info.connection, info.rssi, info.product], ['wired', null, 'WiiM Pro Plus']);
      sim.state.followers = [{ name: 'Den', ip: '10.0.0.8', uuid: 'u', volume: 35, mute: false }];
      assert.equal(((await run(client, 'group')).payload as { count: number }).count, 1);
      assert.equal(((await run(client, 'eq', 'list')).payload as string[])[0], 'Flat');
    } finally {
      await close();
    }
  });

  it('ultra 5.2: a USB stick plays as mode 10 with vendor UDiskLocal, and the status says usb', async () => {
    const { sim, client, close } = await device('ultra');
    try {
      // files from a USB stick, started in the app: the Ultra has no USB input to switch to
      sim.state.mode = 11;
      sim.playTrack(0);
      const read = await run(client, 'status');
      const raw = read.raw as Record<string, string> | string;
      const player = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, string>;
      assert.deepEqual([player.mode, player.vendor], ['10', 'UDiskLocal']);
      assert.equal((read.payload as { source: string }).source, 'usb');
    } finally {
      await close();
    }
  });

  it('ultra 5.2: Arylic loop numbers; the sub, trigger, balance, eq-bands and firmware reads normalised', async () => {
    const { sim, client, close } = await device('ultra');
    try {
      await run(client, 'repeat', { repeat: 'one', shuffle: true });
      assert.deepEqual(sim.requests.slice(-1), ['setPlayerCmd:loopmode:5']);
      await run(client, 'sub', { enabled: true, crossover: 120, phase: 180, level: -3, delay: 20 });
      assert.deepEqual(sim.requests.slice(-5), [
        'setSubLPF:status:1',
        'setSubLPF:cross:120',
        'setSubLPF:phase:180',
        'setSubLPF:level:-3',
        'setSubLPF:sub_delay:20',
      ]);
      assert.deepEqual((await run(client, 'sub')).payload, { enabled: true, crossover: 120, phase: 180, level: -3, delay: 20 });
      await run(client, 'trigger', true);
      assert.equal((await run(client, 'trigger')).payload, true);
      await run(client, 'balance', 0.25);
      assert.equal((await run(client, 'balance')).payload, 0.25);
      // two decimals in plain notation, whatever the float: the device reads no exponent
      assert.equal((await run(client, 'balance', 0.1 + 0.2)).payload, 0.3);
      await run(client, 'balance', 1e-7);
      assert.deepEqual(sim.requests.slice(-2), ['setChannelBalance:0.3', 'setChannelBalance:0']);
      assert.equal(sim.settings.balance, 0);
      await run(client, 'output', 'optical');
      assert.equal((await run(client, 'output')).payload, 'optical');
      await run(client, 'eq-bands', { 31: 60, 1000: 40 });
      assert.deepEqual(sim.requests.slice(-1), [
        'EQSetBand:{"EQBand":[{"index":0,"param_name":"band31hz","value":60},{"index":5,"param_name":"band1khz","value":40}]}',
      ]);
      const bands = (await run(client, 'eq-bands')).payload as { enabled: boolean; bands: Array<{ hz: number; value: number }> };
      assert.equal(bands.enabled, true);
      assert.deepEqual(bands.bands.slice(0, 1), [{ hz: 31, value: 60 }]);
      assert.equal(bands.bands.length, 10);
      await run(client, 'eq-bands', [50, 50, 50, 50, 50, 50, 50, 50, 50, 55]);
      assert.equal(sim.settings.eqBands[9], 55);
      await run(client, 'firmware', 'start');
      assert.deepEqual((await run(client, 'firmware', 'status')).payload, { status: '31', progress: 42 });
      assert.deepEqual(sim.requests.slice(-2), ['getMvRemoteUpdateStatus', 'getMvRomBurnPrecent']);
    } finally {
      await close();
    }
    const old = await device('ultra', 'Linkplay.5.1.600000');
    try {
      await rejectsWith(run(old.client, 'repeat', { repeat: 'one', shuffle: true }), 'argument', /no loop mode/);
      assert.equal(old.sim.count('setPlayerCmd:loopmode'), 0);
    } finally {
      await old.close();
    }
  });

  it('mini: vTuner loop -1 is no loop mode; the source it lacks is refused naming the inputs it has', async () => {
    const { sim, client, close } = await device('mini');
    try {
      sim.state.loop = -1;
      const s = (await run(client, 'status')).payload as { repeat: unknown; shuffle: unknown };
      assert.deepEqual([s.repeat, s.shuffle], [null, null]);
      await rejectsWith(run(client, 'source', 'optical'), 'argument', /WiiM Mini has no optical input; it has wifi, line-in, bluetooth/);
      assert.equal(sim.count('setPlayerCmd:switchmode'), 0);
      const info = (await run(client, 'info')).payload as { model: string; product: string; inputs: string[] };
      assert.deepEqual([info.model, info.product, info.inputs], ['Muzo_Mini', 'WiiM Mini', ['wifi', 'line-in', 'bluetooth']]);
    } finally {
      await close();
    }
  });

  it('audio-pro: answers only a client with the certificate given (mutual TLS), used for that device alone', async () => {
    const { sim, client, close } = await device('audio-pro');
    const bare = new WiimClient({ host: '127.0.0.1', port: sim.port, protocol: 'https', timeoutMs: 2000 });
    try {
      assert.equal(((await run(client, 'info')).payload as { modelId: string }).modelId, 'audio-pro');
      await rejectsWith(bare.command('info'), 'network');
      assert.throws(() => new WiimClient({ host: '127.0.0.1', clientCert: sim.clientCertificate?.cert }), /needs its key/);
    } finally {
      await bare.close();
      await close();
    }
  });

  it('output: each product takes its own number for the outputs it has; the others are refused naming what it has, nothing sent', async () => {
    // numbers and which product has which: pywiim api/constants.py and player/properties.py, WiiM library consts.py
    const cases: Array<{ model: WiimProfileName; project?: string; sent: Record<string, number>; refused: string[]; says: RegExp }> = [
      {
        model: 'mini',
        sent: { optical: 1, 'line-out': 2, bluetooth: 4 },
        refused: ['coax', 'headphones', 'hdmi', 'usb', 'speaker'],
        says: /^WiiM Mini has no \w+ output; it has optical, line-out, bluetooth$/,
      },
      { model: 'pro', sent: { optical: 1, 'line-out': 2, coax: 3, bluetooth: 4 }, refused: ['headphones', 'hdmi', 'usb', 'speaker'], says: /^WiiM Pro has no/ },
      {
        model: 'ultra',
        sent: { optical: 1, 'line-out': 2, coax: 3, headphones: 4, usb: 8 },
        refused: ['bluetooth', 'hdmi', 'speaker'],
        says: /^WiiM Ultra has no/,
      },
      { model: 'amp', sent: { 'line-out': 2, speaker: 7, usb: 8 }, refused: ['optical', 'coax', 'headphones', 'hdmi'], says: /^WiiM Amp has no/ },
      { model: 'amp', project: 'WiiM_Amp_Ultra', sent: { 'line-out': 2, hdmi: 7, usb: 8 }, refused: ['speaker', 'optical'], says: /^WiiM Amp Ultra has no/ },
      {
        model: 'amp',
        project: 'WiiM_Sound_Lite_V2',
        sent: { speaker: 7 },
        refused: ['line-out', 'hdmi', 'bluetooth'],
        says: /^WiiM Sound Lite has no \S+ output; it has speaker$/,
      },
      {
        model: 'pro',
        project: 'Some_OEM_Box',
        sent: { optical: 1, 'line-out': 2, coax: 3, bluetooth: 4 },
        refused: ['headphones', 'hdmi', 'usb', 'speaker'],
        says: /differs by product, and Some_OEM_Box is not one the package knows; it takes optical, line-out, coax, bluetooth$/,
      },
    ];
    for (const c of cases) {
      const { sim, client, close } = await device(c.model);
      try {
        if (c.project) Object.assign(sim.state, { model: c.project, uuid: '0123456789ABCDEF' });
        for (const [name, n] of Object.entries(c.sent)) {
          await run(client, 'output', name);
          assert.deepEqual(sim.requests.slice(-1), [`setAudioOutputHardwareMode:${n}`], `${c.project ?? c.model} ${name}`);
          assert.equal((await run(client, 'output')).payload, name, `${c.project ?? c.model} reads ${name} back`);
        }
        for (const name of c.refused) {
          const before = sim.requests.length;
          await rejectsWith(run(client, 'output', name), 'argument', c.says);
          assert.deepEqual(
            sim.requests.slice(before).filter((r) => r !== 'getStatusEx'),
            [],
            `${c.project ?? c.model} ${name}: nothing sent`,
          );
        }
      } finally {
        await close();
      }
    }
  });

  it('output get: getActiveSoundCardOutputMode where the firmware answers getNewAudioOutputHardwareMode with unknown command, also on the slow tier', async () => {
    const { sim, client, close } = await device('amp');
    try {
      sim.faults.unknownCommands = ['getNewAudioOutputHardwareMode'];
      await run(client, 'output', 'speaker');
      const before = sim.requests.length;
      assert.equal((await run(client, 'output')).payload, 'speaker');
      assert.deepEqual(sim.requests.slice(before), ['getNewAudioOutputHardwareMode', 'getActiveSoundCardOutputMode']);
      sim.faults.unknownCommands = ['getNewAudioOutputHardwareMode', 'getActiveSoundCardOutputMode'];
      await rejectsWith(run(client, 'output'), 'argument', /^output is a setting of .*; WiiM Amp does not have it/);
    } finally {
      await close();
    }
    const sim2 = new WiimSimulator({ name: 'Amp', model: 'amp' });
    const { port } = await sim2.start({ port: 0 });
    const session = new WiimSession({ host: '127.0.0.1', port, protocol: 'https' });
    try {
      sim2.faults.unknownCommands = ['getNewAudioOutputHardwareMode'];
      assert.equal((await session.refresh()).state.output, 'line-out');
    } finally {
      await session.close();
      await sim2.stop();
    }
  });

  it('wiim-status gains output and eqPreset on the slow tier, read again after an EQ command', async () => {
    const sim = new WiimSimulator({ name: 'Slow', model: 'pro' });
    const { port } = await sim.start({ port: 0 });
    const session = new WiimSession({ host: '127.0.0.1', port, protocol: 'https' });
    try {
      let e = await session.refresh();
      assert.deepEqual([e.state.output, e.state.eqPreset], ['line-out', null]);
      await session.command(prepareCommand(commandRequest('eq', 'Rock')));
      e = await session.refresh();
      assert.equal(e.state.eqPreset, 'Rock');
      await session.command(prepareCommand(commandRequest('output', 'coax')));
      e = await session.refresh();
      assert.equal(e.state.output, 'coax');
    } finally {
      await session.close();
      await sim.stop();
    }
  });
});

describe('wiim-config credentials and the settings through wiim-command', function () {
  this.timeout(30000);
  const nodes = [wiimConfig, wiimCommand, coreNode('common/25-catch.js')] as Array<(RED: unknown) => void>;
  afterEach(() => helper.unload());

  function flow(port: number): object[] {
    return withTab([
      {
        id: 'cfg',
        type: 'wiim-config',
        host: '127.0.0.1',
        port: String(port),
        protocol: 'https',
        timeout: '2000',
        pollPlaying: '1',
        pollIdle: '5',
        fingerprint: '',
      },
      { id: 'cmd', type: 'wiim-command', device: 'cfg', command: '', value: '', wires: [['out']] },
      { id: 'out', type: 'helper' },
      { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);
  }

  it('reaches an Audio Pro with the client certificate and key given as wiim-config credentials', async () => {
    const sim = new WiimSimulator({ name: 'Audio Pro', model: 'audio-pro' });
    const { port } = await sim.start({ port: 0 });
    try {
      const cert = sim.clientCertificate as { cert: string; key: string };
      await helper.load(nodes, flow(port), { cfg: { clientCert: cert.cert, clientKey: cert.key } });
      const out = await ok('cmd', { topic: 'led', payload: 'off' });
      assert.equal(out.payload, false);
      assert.deepEqual(sim.requests.slice(-1), ['LED_SWITCH_SET:0']);
      await helper.unload();
      await helper.load(nodes, flow(port));
      // without the certificate the device ends the handshake: nothing of the command is answered
      await refused('cmd', { payload: 'info' }, /closed the connection|certificate|reset/);
    } finally {
      await sim.stop();
    }
  });

  it('TV on → optical: the output command through wiim-command, and the normalised get', async () => {
    const sim = new WiimSimulator({ name: 'Pro', model: 'pro' });
    const { port } = await sim.start({ port: 0 });
    try {
      await helper.load(nodes, flow(port));
      const set = await ok<Msg & { wiim: { request: string } }>('cmd', { payload: { command: 'output', value: 'optical' } });
      assert.equal(set.payload, 'optical');
      assert.equal(set.wiim.request, 'setAudioOutputHardwareMode:1');
      assert.equal((await ok('cmd', { payload: 'output' })).payload, 'optical');
      await refused('cmd', { topic: 'sub', payload: { enabled: false } }, /sub is a setting of WiiM Ultra, WiiM Amp; WiiM Pro does not have it/);
      assert.equal(sim.count('setSubLPF'), 0);
    } finally {
      await sim.stop();
    }
  });
});
