import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ok, refused, sessionOf, until, withTab, type Msg } from './helpers/runtime';
import { catcher, guardProcess, load, sonoffCfg, wiimCfg } from './helpers/reliability';
import { DeviceError } from '../src/shared/errors';
import { prepareCommand, WIIM_COMMANDS } from '../src/wiim/commands';
import { commandRequest } from '../src/contract/wiim-values';
import type { WiimSession } from '../src/sessions/wiim-session';
import type { SonoffSession } from '../src/sessions/sonoff-session';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator, makeFirmwareImage } from '../src/sim/sonoff-sim';

// Bad input: every malformed message value is refused with a clear error at a
// Catch node, and nothing reaches the device (the simulators' request logs).
// Real Node-RED (test helper), real simulators on 127.0.0.1, no mocks.

describe('reliability: bad input', function () {
  this.timeout(60000);
  guardProcess();

  // ------------------------------------------------------------------ bad input
  describe('bad-input matrix', () => {
    const wiim = new WiimSimulator({ name: 'Strict' });
    const single = new SonoffSimulator({ deviceid: '1000abcdef' });
    const multi = new SonoffSimulator({ deviceid: '1000fedcba', multi: true });
    const d1 = new SonoffSimulator({ deviceid: '1000d1d1d1', model: 'd1', type: 'diylight' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-'));
    const bigFile = path.join(dir, 'big.bin');
    let wport: number;

    before(async () => {
      fs.writeFileSync(bigFile, makeFirmwareImage(600 * 1024));
      ({ port: wport } = await wiim.start({ port: 0 }));
      await single.start({ port: 0 });
      await multi.start({ port: 0 });
      await d1.start({ port: 0 });
    });
    after(async () => {
      await wiim.stop();
      await single.stop();
      await d1.stop();
      await multi.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    interface Case {
      target: string;
      msg: Msg;
      error: RegExp;
      /** read-only requests the check itself needs (the EQ list, the track length, the preset count) */
      reads?: string[];
    }

    const hex64 = 'a'.repeat(64);
    const cases: Case[] = [
      // wiim-command, command from the message
      { target: 'wcmd', msg: { topic: 'volume', payload: 150 }, error: /volume must be from 0 to 100, got 150/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: -1 }, error: /volume must be from 0 to 100, got -1/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: 'abc' }, error: /volume must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: 50.5 }, error: /volume must be a whole number/ },
      { target: 'wcmd', msg: { payload: { command: 'volume', value: '101' } }, error: /from 0 to 100, got 101/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: '+x' }, error: /volume|step/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: 100000 }, error: /past the end of the track/, reads: ['getPlayerStatus'] },
      { target: 'wcmd', msg: { topic: 'seek', payload: -5 }, error: /seek takes a position in seconds/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: 'soon' }, error: /seek takes a position in seconds/ },
      { target: 'wcmd', msg: { topic: 'eq', payload: 'Disco Inferno' }, error: /"Disco Inferno" is not an EQ preset of this device/, reads: ['EQGetList'] },
      { target: 'wcmd', msg: { topic: 'eq', payload: '' }, error: /eq is empty/ },
      { target: 'wcmd', msg: { topic: 'preset', payload: 0 }, error: /preset must be/ },
      { target: 'wcmd', msg: { topic: 'preset', payload: 7 }, error: /preset must be from 1 to 6 on this device, got 7/, reads: ['getStatusEx'] },
      { target: 'wcmd', msg: { topic: 'preset', payload: 100 }, error: /preset must be/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: 'setPlayerCmd:vol:5&x=1' }, error: /"&", "#" or control characters is refused/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: 'getStatusEx#top' }, error: /refused/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: 'getStatus\u0001Ex' }, error: /refused/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: 'setPlayerCmd:vol:5\u007f' }, error: /refused/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: '' }, error: /raw takes a command string/ },
      { target: 'wcmd', msg: { topic: 'source', payload: 'gramophone' }, error: /source must be one of/ },
      { target: 'wcmd', msg: { topic: 'source', payload: { x: 1 } }, error: /source must be a string/ },
      { target: 'wcmd', msg: { topic: 'repeat', payload: 'sometimes' }, error: /repeat/ },
      { target: 'wcmd', msg: { topic: 'repeat', payload: { repeat: 'all', shuffle: 'maybe' } }, error: /shuffle must be true or false/ },
      {
        target: 'wcmd',
        msg: { topic: 'alarm', payload: { op: 'set', n: 3, trigger: 5, time: '080000', day: '15', url: 'http://a/b' } },
        error: /alarm n must be from 0 to 2/,
      },
      {
        target: 'wcmd',
        msg: { topic: 'alarm', payload: { op: 'set', n: 0, trigger: 5, time: '250000', day: '15', url: 'http://a/b' } },
        error: /alarm time must be HHMMSS/,
      },
      {
        target: 'wcmd',
        msg: { topic: 'alarm', payload: { op: 'set', n: 0, trigger: 5, time: '080000', day: '32', url: 'http://a/b' } },
        error: /trigger 5 \(monthly\)/,
      },
      { target: 'wcmd', msg: { topic: 'alarm', payload: { op: 'set', n: 0, trigger: 9, time: '080000' } }, error: /alarm trigger must be from 0 to 5/ },
      { target: 'wcmd', msg: { topic: 'alarm', payload: 'at seven' }, error: /alarm takes/ },
      { target: 'wcmd', msg: { topic: 'shutdown', payload: 'x' }, error: /shutdown seconds must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'shutdown', payload: -2 }, error: /shutdown seconds must be from -1/ },
      { target: 'wcmd', msg: { payload: { command: 'join' } }, error: /join \(the leader address\)/ },
      { target: 'wcmd', msg: { topic: 'join', payload: '10.0.0.1:80/x' }, error: /must be an IP address or host name/ },
      { target: 'wcmd', msg: { topic: 'kick', payload: '10.0.0.7;reboot' }, error: /must be an IP address or host name/ },
      { target: 'wcmd', msg: { topic: 'time-sync', payload: 'not a date' }, error: /is not a date/ },
      { target: 'wcmd', msg: { topic: 'time-sync', payload: '1999-12-31T00:00:00Z' }, error: /year must be from 2000 to 2099/ },
      { target: 'wcmd', msg: { topic: 'playlist', payload: { index: 1 } }, error: /playlist URL/ },
      { target: 'wcmd', msg: { topic: 'playlist', payload: { url: 'http://h/l.m3u', index: -1 } }, error: /playlist index/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'javascript alert' }, error: /play URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'play', payload: `http://h/${'a'.repeat(4000)}` }, error: /must be shorter than/ },
      { target: 'wcmd', msg: { topic: 'mute', payload: 'loud' }, error: /mute takes true, false or "toggle"/ },
      { target: 'wcmd', msg: { payload: { command: 'dance', value: 1 } }, error: /unknown command "dance"/ },
      { target: 'wcmd', msg: { payload: 'hello' }, error: /no command in the message/ },
      { target: 'wcmd', msg: { payload: 42 }, error: /no command in the message/ },
      // the settings of the models beyond the Mini (the simulator is a Mini)
      { target: 'wcmd', msg: { topic: 'output', payload: 'hdmi-in' }, error: /output must be one of optical, line-out/ },
      { target: 'wcmd', msg: { topic: 'output', payload: { to: 'optical' } }, error: /output must be a string/ },
      { target: 'wcmd', msg: { topic: 'balance', payload: 2 }, error: /balance must be a number from -1 to 1, got number 2/ },
      { target: 'wcmd', msg: { topic: 'balance', payload: 'left' }, error: /balance must be a number, got "left"/ },
      { target: 'wcmd', msg: { topic: 'led', payload: 'dim' }, error: /led takes on or off/ },
      { target: 'wcmd', msg: { topic: 'led', payload: '' }, error: /led takes on or off/ },
      { target: 'wcmd', msg: { topic: 'buttons', payload: 'x' }, error: /buttons takes on or off/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { crossover: 20 } }, error: /sub crossover \(Hz\) must be from 30 to 250, got 20/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { phase: 90 } }, error: /sub phase must be 0 or 180/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { level: 16 } }, error: /sub level \(dB\) must be from -15 to 15/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { delay: -201 } }, error: /sub delay \(ms\) must be from -200 to 200/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { volume: 3 } }, error: /sub: unknown field volume/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: {} }, error: /any of them/ },
      {
        target: 'wcmd',
        msg: { topic: 'sub', payload: { enabled: true } },
        error: /sub is a setting of WiiM Ultra, WiiM Amp; WiiM Mini does not have it/,
        reads: ['getStatusEx'],
      },
      { target: 'wcmd', msg: { topic: 'trigger', payload: 'maybe' }, error: /trigger takes on or off/ },
      {
        target: 'wcmd',
        msg: { topic: 'trigger', payload: true },
        error: /trigger is a setting of WiiM Ultra; WiiM Mini does not have it/,
        reads: ['getStatusEx'],
      },
      { target: 'wcmd', msg: { topic: 'eq-bands', payload: { 31: 100 } }, error: /eq-bands value must be from 0 to 99, got 100/ },
      { target: 'wcmd', msg: { topic: 'eq-bands', payload: { 30: 50 } }, error: /"30" is not a band/ },
      { target: 'wcmd', msg: { topic: 'eq-bands', payload: [50, 50] }, error: /array of 10 values, got 2/ },
      { target: 'wcmd', msg: { topic: 'group-volume', payload: 101 }, error: /group-volume must be from 0 to 100, got 101/ },
      { target: 'wcmd', msg: { topic: 'group-volume', payload: '' }, error: /group-volume must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'group-mute', payload: 'x' }, error: /group-mute takes on or off/ },
      { target: 'wcmd', msg: { topic: 'member-volume', payload: { ip: '10.0.0.7', volume: 200 } }, error: /member-volume volume must be from 0 to 100/ },
      { target: 'wcmd', msg: { topic: 'member-volume', payload: { volume: 5 } }, error: /the member address \(ip\) must be a string/ },
      { target: 'wcmd', msg: { topic: 'member-volume', payload: { ip: 'a b', volume: 5 } }, error: /must be the IPv4 address of a follower/ },
      // a follower is named by its IPv4 address, and only one in the group now is sent to
      ...['999.1.1.1', 'host.example', '1'].flatMap((ip) => [
        {
          target: 'wcmd',
          msg: { topic: 'member-volume', payload: { ip, volume: 5 } },
          error: /the member address \(ip\) must be the IPv4 address of a follower/,
        },
        {
          target: 'wcmd',
          msg: { topic: 'member-mute', payload: { ip, muted: true } },
          error: /the member address \(ip\) must be the IPv4 address of a follower/,
        },
      ]),
      {
        target: 'wcmd',
        msg: { topic: 'member-volume', payload: { ip: '10.0.0.9', volume: 5 } },
        error: /member-volume: 10\.0\.0\.9 is not a follower in this group/,
        reads: ['multiroom:getSlaveList'],
      },
      // eq-bands keys are the band names exactly
      ...['1e3', ' 31', '0x1F'].map((key) => ({
        target: 'wcmd',
        msg: { topic: 'eq-bands', payload: { [key]: 50 } },
        error: /is not a band; the bands are 31, 63/,
      })),
      { target: 'wcmd', msg: { topic: 'member-mute', payload: { ip: '10.0.0.7' } }, error: /member-mute muted takes on or off/ },
      { target: 'wcmd', msg: { topic: 'member-mute', payload: 'x' }, error: /member-mute takes \{ip, ...\}/ },
      { target: 'wcmd', msg: { topic: 'notify', payload: 'ding' }, error: /notify URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'firmware', payload: 'flash' }, error: /firmware takes "check", "start" or "status"/ },
      // numbers in plain decimal notation only, within range; URLs http(s) only
      ...['0x10', '1e1', 'Infinity', ' 12abc', '1_0', ''].map((payload) => ({
        target: 'wcmd',
        msg: { topic: 'volume', payload },
        error: /volume must be a whole number/,
      })),
      { target: 'wcmd', msg: { topic: 'volume', payload: Number.NaN }, error: /volume must be a whole number .*, got number NaN/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: Number.POSITIVE_INFINITY }, error: /got number Infinity/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: 1e21 }, error: /seek must be from 0 to 2147483 s, got number 1e\+21/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: '1e21' }, error: /seek takes a position in seconds/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: Number.NaN }, error: /seek takes a position in seconds \(0 or more\), got number NaN/ },
      { target: 'wcmd', msg: { topic: 'preset', payload: '0x1' }, error: /preset must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'shutdown', payload: '1e3' }, error: /shutdown seconds must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'playlist', payload: { url: 'http://h/l.m3u', index: '0x2' } }, error: /playlist index must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'file:///etc/passwd' }, error: /play URL must be a URL \(http:\/\/\.\.\., https:\/\/\.\.\.\)/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'javascript:alert(1)' }, error: /play URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'data:audio/mp3;base64,AAAA' }, error: /play URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'play', payload: { url: 'ftp://h/a.mp3' } }, error: /play URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'http://h/a.mp3\r\nHost: x' }, error: /play URL contains control characters/ },
      { target: 'wcmd', msg: { topic: 'playlist', payload: { url: 'file:///x.m3u' } }, error: /playlist URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'source', payload: 'wi\nfi' }, error: /source contains control characters/ },
      { target: 'wcmd', msg: { topic: 'eq', payload: 'Rock\u0000' }, error: /eq contains control characters/ },
      { target: 'wcmd', msg: { topic: 'join', payload: '10.0.0.1\r\nx' }, error: /join \(the leader address\) contains control characters/ },
      // wiim-command with a fixed command
      { target: 'wvol', msg: { payload: 101 }, error: /volume must be from 0 to 100, got 101/ },
      { target: 'wvol', msg: { payload: 'loud' }, error: /volume must be a whole number/ },
      { target: 'wvol150', msg: { payload: 20 }, error: /volume must be from 0 to 100, got 150/ },
      { target: 'wseek', msg: { payload: 99999 }, error: /past the end of the track/, reads: ['getPlayerStatus'] },
      { target: 'wraw', msg: { payload: 'x' }, error: /refused/ },
      // sonoff-switch
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: 7 } }, error: /outlet must be 0 on a single-channel device, not 7/ },
      { target: 'ssw', msg: { payload: 'maybe' }, error: /switch must be true\/false, 1\/0 or "on"\/"off", not "maybe"/ },
      { target: 'ssw', msg: { payload: { outlet: 0 } }, error: /needs a "switch" property/ },
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: 'x' } }, error: /outlet must be a number/ },
      { target: 'ssw', msg: { payload: 2 }, error: /switch must be/ },
      { target: 'ssw', msg: { topic: 'startup', payload: 'sometimes' }, error: /startup must be "on", "off" or "stay", not "sometimes"/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { password: 'secret12' } }, error: /wifi needs a non-empty ssid string/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { ssid: 'home', password: 12345678 } }, error: /wifi password must be a string/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { ssid: 'x'.repeat(40), password: 'p' } }, error: /longer than 32 bytes/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { ssid: 'home\r\nx', password: 'secret12' } }, error: /wifi ssid contains control characters/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { ssid: 'home', password: 'secret12\n' } }, error: /wifi password contains control characters/ },
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: '0x0' } }, error: /outlet must be a number, not "0x0"/ },
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: Number.NaN } }, error: /outlet must be a number, not NaN/ },
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: '1e0' } }, error: /outlet must be a number, not "1e0"/ },
      { target: 'ssw7', msg: { payload: true }, error: /outlet must be 0 on a single-channel device, not 7/ },
      { target: 'msw', msg: { payload: { switch: true, outlet: 4 } }, error: /outlet must be an integer from 0 to 3, not 4/ },
      // sonoff-pulse
      { target: 'spulse', msg: { payload: 700 }, error: /pulse width must be a multiple of 500 ms from 500 to 3600000 ms on a single-channel device, not 700/ },
      { target: 'spulse', msg: { payload: 0 }, error: /multiple of 500 ms/ },
      { target: 'spulse', msg: { payload: -500 }, error: /multiple of 500 ms/ },
      { target: 'spulse', msg: { payload: 3600500 }, error: /from 500 to 3600000 ms/ },
      { target: 'spulse', msg: { payload: 'abc' }, error: /pulse must be true\/false/ },
      { target: 'spulse', msg: { payload: { width: 'abc' } }, error: /pulse width must be a number of ms/ },
      { target: 'spulse', msg: { payload: { pulse: 'maybe', width: 1000 } }, error: /pulse must be/ },
      { target: 'spulse', msg: { payload: { pulse: true, width: 1000, outlet: 2 } }, error: /outlet must be 0/ },
      { target: 'spulse', msg: { payload: { pulse: true, width: 1250 } }, error: /multiple of 500 ms .* not 1250/ },
      { target: 'spulse', msg: { payload: '1e3' }, error: /pulse must be true\/false/ },
      { target: 'spulse', msg: { payload: { width: '0x3e8' } }, error: /pulse width must be a number of ms, not "0x3e8"/ },
      { target: 'spulse', msg: { payload: { width: Number.NaN } }, error: /pulse width must be a number of ms, not NaN/ },
      { target: 'spulse', msg: { payload: { width: 'Infinity' } }, error: /pulse width must be a number of ms, not "Infinity"/ },
      { target: 'spulse', msg: { payload: { width: 1e21 } }, error: /from 500 to 3600000 ms/ },
      { target: 'spulse700', msg: { payload: true }, error: /multiple of 500 ms .* not 700/ },
      { target: 'mpulse', msg: { payload: 3600000 }, error: /from 500 to 3599500 ms on a multi-channel device, not 3600000/ },
      { target: 'mpulse', msg: { payload: { pulse: true, width: 1000, switch: 'maybe' } }, error: /switch must be/ },
      // sonoff-dimmer
      { target: 'sdim', msg: { payload: 101 }, error: /brightness must be an integer from 1 to 100, not 101/ },
      { target: 'sdim', msg: { payload: -1 }, error: /brightness must be 0 \(off\) or an integer from 1 to 100/ },
      { target: 'sdim', msg: { payload: 2.5 }, error: /brightness must be 0 \(off\) or an integer/ },
      { target: 'sdim', msg: { payload: 'bright' }, error: /switch must be true\/false/ },
      { target: 'sdim', msg: { payload: { brightness: 500 } }, error: /from 1 to 100, not 500/ },
      { target: 'sdim', msg: { payload: { switch: 'maybe', brightness: 50 } }, error: /switch must be/ },
      { target: 'sdim', msg: { payload: { colour: 'red' } }, error: /needs "switch" and\/or "brightness"/ },
      { target: 'sdimrelay', msg: { payload: 50 }, error: /is not a dimmer/ },
      // sonoff-ota
      { target: 'sota', msg: { payload: makeFirmwareImage(600 * 1024) }, error: /at most 520192 bytes \(508 KB\)/ },
      { target: 'sota', msg: { payload: makeFirmwareImage(4096, 2) }, error: /SPI flash mode DIO; SONOFF DIY devices need DOUT/ },
      { target: 'sota', msg: { payload: Buffer.from('not firmware at all') }, error: /header magic 0xE9 missing/ },
      { target: 'sota', msg: { payload: Buffer.alloc(0) }, error: /image is empty/ },
      {
        target: 'sota',
        msg: { payload: path.join(dir, 'missing.bin') },
        error: /cannot read the firmware image at .*missing\.bin: give the path of a regular file/,
      },
      { target: 'sota', msg: { payload: bigFile }, error: /at most 520192 bytes/ },
      { target: 'sota', msg: { payload: { url: 'http://127.0.0.1:1/fw.bin', sha256: 'xyz' } }, error: /sha256 must be 64 hexadecimal digits/ },
      { target: 'sota', msg: { payload: { url: 'ftp://127.0.0.1/fw.bin', sha256: hex64 } }, error: /must be plain http:\/\// },
      { target: 'sota', msg: { payload: { url: 'http://127.0.0.1/fw\n.bin', sha256: hex64 } }, error: /downloadUrl contains control characters/ },
      { target: 'sota', msg: { payload: { url: 'file:///fw.bin', sha256: hex64 } }, error: /must be plain http:\/\// },
      { target: 'sotabig', msg: { payload: '' }, error: /at most 520192 bytes/ },
      { target: 'sotasha', msg: { payload: makeFirmwareImage(4096) }, error: /does not match the sha256 setting/ },
    ];

    /** The command a WiiM case sends: the node's own, or the message's. */
    const fixedCommand: Record<string, string> = { wvol: 'volume', wvol150: 'volume', wseek: 'seek', wraw: 'raw' };
    const commandOf = (c: Case): unknown => fixedCommand[c.target] ?? c.msg.topic ?? (c.msg.payload as { command?: unknown } | undefined)?.command;

    it('has a case for every WiiM command that refuses a bad argument', () => {
      const bad: unknown[] = [{ nonsense: true }, -1, '\u0001', 'x'.repeat(5000)];
      const refuses = (name: string) =>
        bad.some((value) => {
          try {
            prepareCommand(commandRequest(name, value));
            return false;
          } catch (err) {
            return err instanceof DeviceError && err.kind === 'argument';
          }
        });
      const covered = new Set(cases.filter((c) => c.target.startsWith('w')).map(commandOf));
      assert.deepEqual(
        WIIM_COMMANDS.filter((name) => refuses(name) && !covered.has(name)),
        [],
      );
    });

    it(`refuses ${cases.length} malformed messages with a clear error, and nothing reaches a device`, async () => {
      wiim.playTrack(0); // a track with a length, for "seek past the end"
      await load(
        withTab([
          wiimCfg('wcfg', wport),
          { id: 'wst', type: 'wiim-status', device: 'wcfg', output: 'change', meta: false, wires: [[]] },
          { id: 'wcmd', type: 'wiim-command', device: 'wcfg', command: '', value: '', wires: [['out']] },
          { id: 'wvol', type: 'wiim-command', device: 'wcfg', command: 'volume', value: '', wires: [['out']] },
          { id: 'wvol150', type: 'wiim-command', device: 'wcfg', command: 'volume', value: '150', wires: [['out']] },
          { id: 'wseek', type: 'wiim-command', device: 'wcfg', command: 'seek', value: '', wires: [['out']] },
          { id: 'wraw', type: 'wiim-command', device: 'wcfg', command: 'raw', value: 'getStatusEx&x', wires: [['out']] },
          sonoffCfg('scfg', single.address.port),
          sonoffCfg('mcfg', multi.address.port, { deviceid: '1000fedcba', model: 'multi' }),
          { id: 'ssw', type: 'sonoff-switch', device: 'scfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
          { id: 'ssw7', type: 'sonoff-switch', device: 'scfg', outlet: '7', payloadType: 'boolean', wires: [['out']] },
          { id: 'msw', type: 'sonoff-switch', device: 'mcfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
          { id: 'spulse', type: 'sonoff-pulse', device: 'scfg', outlet: '0', width: '', wires: [['out']] },
          { id: 'spulse700', type: 'sonoff-pulse', device: 'scfg', outlet: '0', width: '700', wires: [['out']] },
          { id: 'mpulse', type: 'sonoff-pulse', device: 'mcfg', outlet: '1', width: '', wires: [['out']] },
          { id: 'sota', type: 'sonoff-ota', device: 'scfg', firmware: '', sha256: '', wires: [['out']] },
          sonoffCfg('dcfg', d1.address.port, { deviceid: '1000d1d1d1' }),
          { id: 'sdim', type: 'sonoff-dimmer', device: 'dcfg', wires: [['out']] },
          { id: 'sdimrelay', type: 'sonoff-dimmer', device: 'scfg', wires: [['out']] },
          { id: 'sotabig', type: 'sonoff-ota', device: 'scfg', firmware: bigFile, sha256: '', wires: [['out']] },
          { id: 'sotasha', type: 'sonoff-ota', device: 'scfg', firmware: '', sha256: 'ab'.repeat(32), wires: [['out']] },
          ...catcher,
        ]),
      );
      // the first readings (one poll, one info each); polling is off or an hour apart after that
      await until(
        () =>
          sessionOf<WiimSession>('wcfg').state !== undefined &&
          sessionOf<SonoffSession>('scfg').state !== undefined &&
          sessionOf<SonoffSession>('mcfg').state !== undefined &&
          sessionOf<SonoffSession>('dcfg').state !== undefined,
        'first readings',
      );
      // and the reads behind them are over
      await until(
        () =>
          [sessionOf<WiimSession>('wcfg'), sessionOf<SonoffSession>('scfg'), sessionOf<SonoffSession>('mcfg'), sessionOf<SonoffSession>('dcfg')].every(
            (x) => !x.queue.busy,
          ),
        'the first reads to end',
      );
      const sims = { wiim: () => wiim.requests.length, single: () => single.requests.length, multi: () => multi.requests.length, d1: () => d1.requests.length };
      for (const c of cases) {
        const before = { wiim: sims.wiim(), single: sims.single(), multi: sims.multi(), d1: sims.d1() };
        const label = `${c.target} ${JSON.stringify(c.msg, (_k, v: unknown) => (typeof v === 'string' && v.length > 60 ? `${v.slice(0, 20)}…` : v))?.slice(0, 120)}`;
        const caught = await refused(c.target, { ...c.msg }, c.error).catch((err: Error) => assert.fail(`${label}: ${err.message}`));
        assert.doesNotMatch(caught.error.message, /secret12/, 'a password never appears in an error');
        const wiimNew = wiim.requests.slice(before.wiim).map((q) => (q === 'multiroom:getSlaveList' ? q : q.split(':')[0]));
        assert.deepEqual(
          wiimNew.filter((q) => !(c.reads ?? []).includes(q)),
          [],
          `${label}: only reads reached the WiiM device`,
        );
        assert.deepEqual(
          wiimNew.filter((q) => q !== 'EQGetList' && q !== 'getPlayerStatus' && q !== 'getStatusEx' && q !== 'multiroom:getSlaveList'),
          [],
          `${label}: no command reached the WiiM device`,
        );
        const sonoffNew = [...single.requests.slice(before.single), ...multi.requests.slice(before.multi), ...d1.requests.slice(before.d1)].map(
          (q) => q.endpoint,
        );
        assert.deepEqual(sonoffNew, [], `${label}: nothing reached the relay`);
      }
      // devices untouched
      assert.equal(wiim.state.volume, 30);
      assert.equal(single.outlets[0].pulse, false);
      assert.deepEqual(single.flashes, []);
      // and the nodes still work
      assert.equal((await ok('wcmd', { topic: 'volume', payload: 40 })).payload, 40);
      assert.equal((await ok('ssw', { payload: true })).payload, true);
      assert.equal(single.outlets[0].on, true);
    });
  });
});
