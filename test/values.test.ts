import assert from 'node:assert/strict';
import { throwsArgument } from './helpers/assert';
import { numberOf } from '../src/contract/values';
import { commandRequest } from '../src/contract/wiim-values';
import { onOffOf, otaUrlOf, outletOf, startupOf, widthOf, wifiOf } from '../src/contract/sonoff-values';
import { encodeOtaFlash, encodeWifi } from '../src/sonoff/codec';
import { prepareCommand, WIIM_COMMANDS, type CommandContext, type WiimCommandName } from '../src/wiim/commands';

const hex64 = 'a'.repeat(64);

describe('message values: numbers', () => {
  it('reads numbers and numeric strings, and nothing else', () => {
    assert.equal(numberOf(5), 5);
    assert.equal(numberOf('50'), 50);
    assert.equal(numberOf(' 1.5 '), 1.5);
    assert.equal(numberOf('-1'), -1);
    for (const v of ['', ' ', 'x', '5x', Number.NaN, Number.POSITIVE_INFINITY, null, undefined, true, {}, [5]]) assert.equal(numberOf(v), undefined, String(v));
  });

  it('reads decimals in plain notation only: no hex, exponents, Infinity or trailing text', () => {
    assert.equal(numberOf('+5'), 5);
    assert.equal(numberOf('.5'), 0.5);
    assert.equal(numberOf('5.'), 5);
    for (const v of ['0x10', '0b1', '0o7', '1e1', '1E3', 'Infinity', '-Infinity', 'NaN', ' 12abc', '1_000', '1,5', '--1', '+-1', '.', '١٢']) {
      assert.equal(numberOf(v), undefined, v);
    }
  });
});

describe('message values: wiim-command', () => {
  /** A message value for every command; the type makes the table name each one. */
  const SAMPLES: Record<WiimCommandName, unknown> = {
    play: 'http://radio.example/stream.mp3',
    playlist: { url: 'http://h/l.m3u', index: '1' },
    pause: undefined,
    resume: undefined,
    toggle: undefined,
    stop: undefined,
    next: undefined,
    prev: undefined,
    seek: '30',
    volume: '+5',
    mute: 'toggle',
    repeat: { shuffle: 'true' },
    eq: 'Flat',
    source: 'Optical',
    preset: '2',
    reboot: undefined,
    shutdown: '600',
    'shutdown-timer': undefined,
    'time-sync': 1_704_164_645,
    alarm: { op: 'get', n: '1' },
    status: undefined,
    info: undefined,
    meta: undefined,
    presets: undefined,
    'wifi-state': undefined,
    join: '10.0.0.5',
    leave: undefined,
    kick: '10.0.0.7',
    ungroup: undefined,
    group: undefined,
    raw: 'getStatusEx',
    output: 'optical',
    balance: '-0.5',
    led: 'off',
    buttons: 'on',
    sub: { enabled: 'on', crossover: '80' },
    trigger: true,
    'eq-bands': { 31: '60', 16000: 40 },
    'group-volume': '30',
    'group-mute': 'true',
    'member-volume': { ip: '10.0.0.7', volume: '20' },
    'member-mute': { ip: '10.0.0.7', muted: 1 },
    notify: 'http://h/ding.mp3',
    firmware: 'check',
  };
  const device: CommandContext = {
    player: { volume: 40, muted: false, duration: 300, repeat: 'all', shuffle: false },
    eqList: ['Flat', 'Rock'],
    presetCount: 6,
    followers: ['10.0.0.7'],
  };

  it('turns a message value for every command into a request that the protocol builds', () => {
    for (const name of WIIM_COMMANDS) {
      const request = commandRequest(name, SAMPLES[name]);
      assert.equal(request.command, name);
      const prepared = prepareCommand(request);
      assert.equal(prepared.command, name);
      assert.notEqual(prepared.build(device).request, '', name);
    }
  });

  it('reads numeric strings, relative steps, words for booleans, "toggle" and objects', () => {
    const arg = (command: string, value: unknown) => commandRequest(command, value).arg;
    assert.equal(arg('volume', 30), 30);
    assert.equal(arg('volume', '50'), 50);
    assert.deepEqual(arg('volume', '+5'), { step: 5 });
    assert.deepEqual(arg('volume', '-5'), { step: -5 });
    assert.deepEqual(arg('volume', ' + 5 '), { step: 5 });
    assert.deepEqual(arg('volume', '+1.5'), { step: 1.5 }, 'read here, refused by the protocol');
    for (const v of [true, 1, '1', 'true', 'on']) assert.equal(arg('mute', v), true, String(v));
    for (const v of [false, 0, '0', 'false', 'off']) assert.equal(arg('mute', v), false, String(v));
    assert.equal(arg('mute', 'toggle'), 'toggle');
    assert.deepEqual(arg('repeat', ' one '), { repeat: 'one' });
    assert.deepEqual(arg('repeat', { repeat: 'off', shuffle: 0 }), { repeat: 'off', shuffle: false });
    assert.deepEqual(arg('repeat', { shuffle: 'on' }), { shuffle: true });
    assert.equal(arg('seek', '100'), 100);
    assert.equal(arg('preset', '2'), 2);
    assert.equal(arg('shutdown', '-1'), -1);
    assert.equal(arg('eq', 'Rock'), 'Rock');
    assert.equal(arg('source', 'line-in'), 'line-in');
    assert.equal(arg('join', '192.168.1.20'), '192.168.1.20');
    assert.equal(arg('raw', ' getStatusEx '), ' getStatusEx ', 'raw goes as typed; the protocol trims it');
    assert.equal(arg('pause', 'anything'), undefined, 'a command without an argument ignores the value');
  });

  it('reads on/off words in any case, spaces around, as the SONOFF nodes do', () => {
    const arg = (command: string, value: unknown) => commandRequest(command, value).arg;
    for (const [v, want] of [
      [' ON ', true],
      ['On', true],
      ['TRUE', true],
      [' 1', true],
      ['Off ', false],
      [' FALSE', false],
      ['0 ', false],
    ] as const) {
      for (const command of ['led', 'buttons', 'group-mute', 'trigger', 'mute']) assert.equal(arg(command, v), want, `${command} ${JSON.stringify(v)}`);
      assert.equal(onOffOf(v), want, 'the SONOFF nodes read the same words');
      assert.deepEqual(arg('member-mute', { ip: '10.0.0.7', muted: v }), { ip: '10.0.0.7', muted: want });
      assert.deepEqual(arg('sub', { enabled: v }), { enabled: want });
      assert.deepEqual(arg('repeat', { shuffle: v }), { shuffle: want });
    }
    assert.equal(arg('mute', ' Toggle '), 'toggle');
    for (const command of ['led', 'buttons', 'group-mute', 'trigger'])
      throwsArgument(() => commandRequest(command, 'o n'), new RegExp(`^${command} takes on or off`));
  });

  it('sends balance in plain decimal with at most two decimals', () => {
    const sent = (value: unknown) => prepareCommand(commandRequest('balance', value)).build({}).request;
    assert.equal(sent(1e-7), 'setChannelBalance:0');
    assert.equal(sent(-1e-7), 'setChannelBalance:0');
    assert.equal(sent(0.1 + 0.2), 'setChannelBalance:0.3');
    assert.equal(sent('0.336'), 'setChannelBalance:0.34');
    assert.equal(sent(-0.5), 'setChannelBalance:-0.5');
    assert.equal(sent(-1), 'setChannelBalance:-1');
    assert.equal(sent(0.01), 'setChannelBalance:0.01');
    for (let i = -1000; i <= 1000; i++) assert.match(sent(i / 1000), /^setChannelBalance:-?(0|1)(\.\d\d?)?$/, String(i / 1000));
    assert.equal(prepareCommand(commandRequest('balance', 0.30000000000000004)).build({}).applied, 0.3);
  });

  it('takes eq-bands keys that are the band names exactly', () => {
    assert.deepEqual(commandRequest('eq-bands', { 31: 60, '16000': 40 }).arg, { 31: 60, 16000: 40 });
    for (const key of ['1e3', ' 31', '0x1F', '31.0', '031', '+31', '1000 ', '']) {
      throwsArgument(() => commandRequest('eq-bands', { [key]: 50 }), /^eq-bands: ".*" is not a band; the bands are 31, 63, 125/);
      // a typed caller that skips the message edge is refused the same way
      throwsArgument(() => prepareCommand({ command: 'eq-bands', arg: { [key]: 50 } as never }), /is not a band/);
    }
  });

  it('takes only the IPv4 address of a follower in the group for member-volume and member-mute', () => {
    const group: CommandContext = { followers: ['10.0.0.7', '10.0.0.8'] };
    const built = prepareCommand(commandRequest('member-volume', { ip: ' 10.0.0.8 ', volume: '12' }));
    assert.deepEqual(built.needs, ['followers']);
    assert.equal(built.build(group).request, 'multiroom:SlaveVolume:10.0.0.8:12');
    assert.equal(prepareCommand(commandRequest('member-mute', { ip: '10.0.0.7', muted: 'on' })).build(group).request, 'multiroom:SlaveMute:10.0.0.7:1');
    for (const ip of ['999.1.1.1', 'host.example', '1', '10.0.0', '10.0.0.07', '10.0.0.7.1', '::1', '10.0.0.256']) {
      throwsArgument(
        () => prepareCommand(commandRequest('member-volume', { ip, volume: 5 })),
        /^the member address \(ip\) must be the IPv4 address of a follower, got "/,
      );
      throwsArgument(() => prepareCommand(commandRequest('member-mute', { ip, muted: true })), /must be the IPv4 address of a follower/);
    }
    throwsArgument(
      () => prepareCommand(commandRequest('member-volume', { ip: '10.0.0.9', volume: 5 })).build(group),
      /^member-volume: 10\.0\.0\.9 is not a follower in this group \(followers: 10\.0\.0\.7, 10\.0\.0\.8\)$/,
    );
    throwsArgument(() => prepareCommand(commandRequest('member-mute', { ip: '10.0.0.7', muted: true })).build({ followers: [] }), /no followers/);
  });

  it('reads a play URL from a string or {url}, and nothing as resume', () => {
    for (const v of [undefined, null, '']) assert.equal(commandRequest('play', v).arg, undefined);
    assert.equal(commandRequest('play', { url: 'http://h/a.mp3' }).arg, 'http://h/a.mp3');
    assert.deepEqual(commandRequest('playlist', 'http://h/l.m3u').arg, { url: 'http://h/l.m3u', index: 0 });
    assert.deepEqual(commandRequest('playlist', { url: 'http://h/l.m3u', index: '' }).arg, { url: 'http://h/l.m3u', index: 0 });
    assert.deepEqual(commandRequest('playlist', { url: 'http://h/l.m3u', index: '2' }).arg, { url: 'http://h/l.m3u', index: 2 });
  });

  it('reads time-sync from a Date, an ISO string, an epoch in s or ms, or nothing', () => {
    const at = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    const time = (v: unknown) => (commandRequest('time-sync', v).arg as Date).getTime();
    assert.equal(time(at), at.getTime());
    assert.equal(time('2024-01-02T04:04:05+01:00'), at.getTime());
    assert.equal(time(at.getTime() / 1000), at.getTime());
    assert.equal(time(String(at.getTime() / 1000)), at.getTime());
    assert.equal(time(at.getTime()), at.getTime());
    for (const v of [undefined, null, '']) assert.equal(commandRequest('time-sync', v).arg, undefined);
  });

  it('reads an alarm object: op or action, n or alarm, numbers and texts', () => {
    assert.deepEqual(commandRequest('alarm', { op: 'stop' }).arg, { op: 'stop' });
    assert.deepEqual(commandRequest('alarm', { action: 'get', alarm: '1' }).arg, { op: 'get', n: 1 });
    assert.deepEqual(commandRequest('alarm', { op: 'cancel', n: 2 }).arg, { op: 'cancel', n: 2 });
    assert.deepEqual(commandRequest('alarm', { n: 0, trigger: '5', operation: '1', time: '07:15:00', day: 15, url: 'http://a/b.mp3' }).arg, {
      op: 'set',
      n: 0,
      trigger: 5,
      operation: 1,
      time: '07:15:00',
      day: '15',
      url: 'http://a/b.mp3',
    });
    assert.deepEqual(commandRequest('alarm', { n: 0, trigger: 2, operation: 2, time: '070000', url: '' }).arg, {
      op: 'set',
      n: 0,
      trigger: 2,
      operation: 2,
      time: '070000',
      day: undefined,
      url: undefined,
    });
  });

  it('refuses what cannot be read as the argument, and an unknown command with the list of commands', () => {
    throwsArgument(() => commandRequest('dance', 1), /^unknown command "dance"; known commands: play, playlist, pause/);
    throwsArgument(() => commandRequest('volume', 'loud'), /^volume must be a whole number from 0 to 100 or a step like "\+5"\/"-5", got "loud"$/);
    throwsArgument(() => commandRequest('volume', '+x'), /volume must be a whole number/);
    throwsArgument(() => commandRequest('volume', {}), /got an object$/);
    throwsArgument(() => commandRequest('mute', 'maybe'), /^mute takes true, false or "toggle", got "maybe"$/);
    throwsArgument(() => commandRequest('repeat', 'twice'), /^repeat must be "all", "one" or "off", got "twice"$/);
    throwsArgument(() => commandRequest('repeat', { repeat: 'twice' }), /repeat must be "all", "one" or "off"/);
    throwsArgument(() => commandRequest('repeat', { repeat: 'all', shuffle: 'maybe' }), /^shuffle must be true or false, got "maybe"$/);
    throwsArgument(() => commandRequest('repeat', 5), /^repeat takes \{repeat: "all"\|"one"\|"off", shuffle: true\|false\}, got number 5$/);
    throwsArgument(() => commandRequest('seek', 'soon'), /^seek takes a position in seconds \(0 or more\), got "soon"$/);
    throwsArgument(() => commandRequest('preset', 'x'), /^preset must be a whole number from 1 to 99, got "x"$/);
    throwsArgument(() => commandRequest('shutdown', 'x'), /^shutdown seconds must be a whole number from -1 to 604800/);
    throwsArgument(() => commandRequest('eq', { x: 1 }), /^eq must be a string, got an object$/);
    throwsArgument(() => commandRequest('source', { x: 1 }), /^source must be a string, got an object$/);
    throwsArgument(() => commandRequest('join', undefined), /^join \(the leader address\) must be a string, got nothing$/);
    throwsArgument(() => commandRequest('kick', ['10.0.0.7']), /^kick \(the follower address\) must be a string, got an array$/);
    throwsArgument(() => commandRequest('play', {}), /^play URL must be a string, got nothing$/);
    throwsArgument(() => commandRequest('playlist', { index: 1 }), /^playlist URL must be a string, got nothing$/);
    throwsArgument(() => commandRequest('playlist', { url: 'http://h/l.m3u', index: 'x' }), /^playlist index must be a whole number from 0 to 100000/);
    throwsArgument(() => commandRequest('time-sync', 'not a date'), /^time-sync: "not a date" is not a date$/);
    throwsArgument(() => commandRequest('time-sync', new Date('x')), /^time-sync: an object is not a date$/);
    throwsArgument(() => commandRequest('time-sync', true), /^time-sync takes a Date, an ISO date string, an epoch or nothing, got boolean true$/);
    throwsArgument(() => commandRequest('alarm', 'at seven'), /^alarm takes \{op: "set"\|"get"\|"stop", n, \.\.\.\}$/);
    throwsArgument(() => commandRequest('alarm', { op: 'ring', n: 0 }), /^alarm op must be "set", "get", "cancel" or "stop", got "ring"$/);
    throwsArgument(() => commandRequest('alarm', { op: 'get' }), /^alarm n must be a whole number from 0 to 2, got nothing$/);
    throwsArgument(() => commandRequest('alarm', { n: 0, trigger: 'x' }), /^alarm trigger must be a whole number from 0 to 5/);
    throwsArgument(() => commandRequest('alarm', { n: 0, trigger: 2, operation: 'x' }), /^alarm operation must be a whole number from 0 to 2/);
    throwsArgument(() => commandRequest('alarm', { n: 0, trigger: 2, time: '070000', url: {} }), /^alarm url must be a string, got an object$/);
    throwsArgument(() => commandRequest('raw', 5), /^raw takes a command string, got number 5$/);
    throwsArgument(() => commandRequest('raw', undefined), /^raw takes a command string, got nothing$/);
  });

  it('leaves ranges and forms to the protocol, which refuses them in the same words', () => {
    const prepared = (command: string, value: unknown) => () => prepareCommand(commandRequest(command, value));
    throwsArgument(prepared('volume', '101'), /^volume must be from 0 to 100, got 101$/);
    throwsArgument(prepared('volume', 50.5), /^volume must be a whole number from 0 to 100 or a step like "\+5"\/"-5", got number 50.5$/);
    throwsArgument(prepared('volume', '+1.5'), /^a relative volume step must be a whole number, got \+1.5$/);
    throwsArgument(prepared('seek', -5), /^seek takes a position in seconds \(0 or more\), got number -5$/);
    throwsArgument(prepared('preset', 0), /^preset must be from 1 to 99, got 0$/);
    throwsArgument(prepared('shutdown', 1.5), /^shutdown seconds must be a whole number from -1 to 604800, got number 1.5$/);
    throwsArgument(prepared('play', 'javascript alert'), /^play URL must be a URL/);
    throwsArgument(prepared('eq', ' '), /^eq is empty$/);
    throwsArgument(prepared('raw', ''), /^raw takes a command string, got ""$/);
    throwsArgument(prepared('time-sync', '1999-12-31T00:00:00Z'), /^time-sync: the year must be from 2000 to 2099, got 1999$/);
    throwsArgument(prepared('alarm', { n: 3, trigger: 2, time: '070000', url: 'http://a/b' }), /^alarm n must be from 0 to 2, got 3$/);
    throwsArgument(prepared('alarm', { n: 0, trigger: 1, time: '070000', day: 20240101.5, url: 'http://a/b' }), /YYYYMMDD/);
  });
});

describe('message values: SONOFF', () => {
  it('reads on and off from booleans, 1/0 and words in any case', () => {
    for (const v of [true, 1, 'on', 'ON', ' On ', 'true', 'TRUE', '1']) assert.equal(onOffOf(v), true, String(v));
    for (const v of [false, 0, 'off', 'Off', 'false', '0', ' 0 ']) assert.equal(onOffOf(v), false, String(v));
    throwsArgument(() => onOffOf('maybe'), /^switch must be true\/false, 1\/0 or "on"\/"off", not "maybe"$/);
    throwsArgument(() => onOffOf(2), /switch must be/);
    throwsArgument(() => onOffOf(null), /switch must be/);
    throwsArgument(() => onOffOf(undefined, 'pulse'), /^pulse must be true\/false/);
  });

  it('reads startup values in any case', () => {
    assert.equal(startupOf('on'), 'on');
    assert.equal(startupOf('OFF'), 'off');
    assert.equal(startupOf(' Stay '), 'stay');
    throwsArgument(() => startupOf('sometimes'), /^startup must be "on", "off" or "stay", not "sometimes"$/);
    throwsArgument(() => startupOf(1), /startup must be/);
  });

  it('reads outlets and widths from numbers and numeric strings', () => {
    assert.equal(outletOf(1), 1);
    assert.equal(outletOf(' 2 '), 2);
    assert.equal(outletOf('1.5'), 1.5, 'read here, refused by the protocol');
    throwsArgument(() => outletOf('x'), /^outlet must be a number, not "x"$/);
    throwsArgument(() => outletOf(null), /^outlet must be a number, not null$/);
    assert.equal(widthOf(1500), 1500);
    assert.equal(widthOf('1500'), 1500);
    throwsArgument(() => widthOf('abc'), /^pulse width must be a number of ms, not "abc"$/);
    throwsArgument(() => widthOf({}), /pulse width must be a number of ms/);
  });

  it('reads {ssid, password}; the protocol refuses a missing ssid', () => {
    assert.deepEqual(wifiOf({ ssid: 'home', password: 'secret12' }), { ssid: 'home', password: 'secret12' });
    assert.deepEqual(wifiOf({ ssid: 'cafe' }), { ssid: 'cafe', password: '' }, 'no password: an open network');
    throwsArgument(() => wifiOf({ ssid: 'net', password: 12345 }), /^wifi password must be a string \(empty for an open network\)$/);
    for (const v of [{ password: 'secret12' }, { ssid: 5, password: 'x' }, 'home', null]) {
      const { ssid, password } = wifiOf(v);
      throwsArgument(() => encodeWifi(ssid, password), /^wifi needs a non-empty ssid string$/);
    }
  });

  it('reads {url, sha256} of an image; the protocol refuses a digest of another form', () => {
    assert.deepEqual(otaUrlOf({ url: 'http://h/fw.bin', sha256: hex64 }), { url: 'http://h/fw.bin', sha256: hex64 });
    throwsArgument(() => otaUrlOf({ url: 5, sha256: hex64 }), /^ota_flash needs a downloadUrl string$/);
    const { url, sha256 } = otaUrlOf({ url: 'http://h/fw.bin', sha256: 5 });
    throwsArgument(() => encodeOtaFlash(url, sha256), /^ota_flash sha256 must be 64 hexadecimal digits$/);
  });
});
