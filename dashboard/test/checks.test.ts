import assert from 'node:assert/strict';
import { checkPlayerAction, type PlayerExtra, type PlayerState } from '../src/player';
import { checkTileAction, tileView, type TileState } from '../src/tile';
import { BUCKET_MS, DAY_MS, History, MAX_POINTS } from '../src/history';
import type { DeviceUpdate } from '../src/device';

// What a browser may ask of a device: only the widget's own actions, with
// checked values. Everything else is refused before the device handle is
// called (the browser test proves that nothing reaches a simulator).

const online = <S>(state: S): DeviceUpdate<S> => ({ health: 'online', state, changed: [], source: 'poll' });
const extra: PlayerExtra = {
  inputs: ['wifi', 'line-in', 'bluetooth', 'optical'],
  product: 'WiiM Pro',
  presets: [{ number: 1, name: 'Jazz Radio', artwork: null }],
  followers: [{ name: 'Kitchen', ip: '192.168.1.77', volume: 20 }],
};
const playing = online<PlayerState>({ state: 'playing', volume: 30, repeat: 'all', shuffle: false, duration: 300, group: 'leader' });

describe('widget actions: the player card', () => {
  it('maps its buttons to the commands of wiim-command', () => {
    assert.deepEqual(checkPlayerAction('play', undefined, playing, extra), { command: 'resume' });
    assert.deepEqual(checkPlayerAction('pause', undefined, playing, extra), { command: 'pause' });
    assert.deepEqual(checkPlayerAction('next', undefined, playing, extra), { command: 'next' });
    assert.deepEqual(checkPlayerAction('prev', undefined, playing, extra), { command: 'prev' });
    assert.deepEqual(checkPlayerAction('mute', true, playing, extra), { command: 'mute', value: true });
    assert.deepEqual(checkPlayerAction('shuffle', true, playing, extra), { command: 'repeat', value: { repeat: 'all', shuffle: true }, shown: true });
    assert.deepEqual(checkPlayerAction('repeat', 'one', playing, extra), { command: 'repeat', value: { repeat: 'one', shuffle: false }, shown: 'one' });
  });

  it('takes a volume 0-100, a source the model has, a preset that exists, a seek within the track, a listed follower', () => {
    assert.deepEqual(checkPlayerAction('volume', 0, playing, extra), { command: 'volume', value: 0 });
    assert.deepEqual(checkPlayerAction('volume', 100, playing, extra), { command: 'volume', value: 100 });
    for (const v of [-1, 101, 150, 12.5, '+5', 'loud', null, true, { v: 1 }])
      assert.equal(checkPlayerAction('volume', v, playing, extra), undefined, String(v));
    assert.deepEqual(checkPlayerAction('source', 'line-in', playing, extra), { command: 'source', value: 'line-in' });
    assert.equal(checkPlayerAction('source', 'hdmi', playing, extra), undefined);
    assert.deepEqual(checkPlayerAction('preset', 1, playing, extra), { command: 'preset', value: 1 });
    assert.equal(checkPlayerAction('preset', 2, playing, extra), undefined);
    assert.deepEqual(checkPlayerAction('seek', 150, playing, extra), { command: 'seek', value: 150 });
    assert.equal(checkPlayerAction('seek', 301, playing, extra), undefined);
    assert.deepEqual(checkPlayerAction('member-volume', { ip: '192.168.1.77', volume: 40 }, playing, extra), {
      command: 'member-volume',
      value: { ip: '192.168.1.77', volume: 40 },
    });
    assert.equal(checkPlayerAction('member-volume', { ip: '192.168.1.99', volume: 40 }, playing, extra), undefined);
    assert.equal(checkPlayerAction('member-volume', { ip: '192.168.1.77', volume: 40, host: 'x' }, playing, extra), undefined);
  });

  it('refuses raw, Wi-Fi, firmware, an argument to a button, and anything while offline', () => {
    for (const a of ['raw', 'reboot', 'firmware', 'wifi-state', 'join', 'kick', 'ungroup', 'eq', 'toggle', 'constructor', '__proto__'])
      assert.equal(checkPlayerAction(a, 'x', playing, extra), undefined, a);
    assert.equal(checkPlayerAction('pause', 'now', playing, extra), undefined);
    const offline: DeviceUpdate<PlayerState> = { health: 'offline', state: playing.state, changed: [], source: 'health' };
    assert.equal(checkPlayerAction('pause', undefined, offline, extra), undefined);
  });
});

describe('widget actions: the SONOFF tile', () => {
  const relay = online<TileState>({ kind: 'relay', outlets: [{ outlet: 0, on: false }] });
  const dimmer = online<TileState>({ kind: 'dimmer', outlets: [{ outlet: 0, on: true, brightness: 40 }] });

  it('switches its own outlet, and sets a D1 brightness 1-100', () => {
    assert.deepEqual(checkTileAction(2)('switch', true, relay), { command: 'switch', value: true, outlet: 2 });
    assert.deepEqual(checkTileAction(0)('brightness', 1, dimmer), { command: 'brightness', value: 1 });
    assert.deepEqual(checkTileAction(0)('brightness', 100, dimmer), { command: 'brightness', value: 100 });
  });

  it('refuses a switch that is not a boolean, brightness out of range or on a relay, and other commands', () => {
    for (const v of ['on', 1, 'toggle', null]) assert.equal(checkTileAction(0)('switch', v, relay), undefined, String(v));
    for (const v of [0, 101, 50.5, '50x']) assert.equal(checkTileAction(0)('brightness', v, dimmer), undefined, String(v));
    assert.equal(checkTileAction(0)('brightness', 50, relay), undefined);
    for (const a of ['wifi', 'ota', 'startup', 'pulse', 'raw']) assert.equal(checkTileAction(0)(a, true, relay), undefined, a);
  });
});

describe('the tile view: the LAN mode', () => {
  const offline = (message: string): DeviceUpdate<TileState> => ({
    health: 'offline',
    state: undefined,
    changed: [],
    source: 'health',
    error: { kind: 'protocol', message },
  });

  it('is encrypted for a device with a devicekey, and for one that asks for its key (the message of src/sonoff/crypto.ts)', () => {
    assert.equal(tileView(0, () => 'encrypted')(offline('timeout')).lan, 'encrypted');
    assert.equal(tileView(0, () => 'diy')(offline('this device is in LAN (encrypted) mode: enter its devicekey')).lan, 'encrypted');
    assert.equal(tileView(0, () => 'diy')(online<TileState>({ kind: 'relay', encrypted: true, outlets: [] })).lan, 'encrypted');
  });

  it('is DIY for a device without a key that has no key problem', () => {
    assert.equal(tileView(0, () => 'diy')(offline('connect ECONNREFUSED 127.0.0.1:8081')).lan, 'diy');
    assert.equal(tileView(0, () => 'diy')(online<TileState>({ kind: 'relay', outlets: [{ outlet: 0, on: true }] })).lan, 'diy');
  });
});

describe('the readings history', () => {
  it('keeps one mean per 5 minutes, at most 24 h', () => {
    const h = new History();
    const t0 = 1_000 * BUCKET_MS;
    h.add('power', 10, t0);
    h.add('power', 20, t0 + 1000);
    assert.deepEqual(h.points('power'), [[t0, 15]]);
    for (let i = 1; i <= 2 * MAX_POINTS; i++) h.add('power', i, t0 + i * BUCKET_MS);
    const points = h.points('power');
    assert.ok(points.length <= MAX_POINTS);
    const last = t0 + 2 * MAX_POINTS * BUCKET_MS;
    assert.equal(points[points.length - 1][0], last);
    assert.ok(points[0][0] >= last - DAY_MS);
    h.add('power', Number.NaN, last);
    assert.equal(h.points('power').length, points.length);
  });
});
