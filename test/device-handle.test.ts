import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from './helpers/fake-clock';
import { coreNode, helper, node, refused, until, withTab } from './helpers/runtime';
import type { DeviceUpdate, SonoffDevice, WiimDevice } from '../src/api';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import sonoffDimmer from '../src/nodes/sonoff-dimmer';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

// The device handle (`device` on each config node, src/api.ts) through a real
// Node-RED runtime and the simulators: the replay, changes, the message
// contract as a call (same refusals as the nodes, nothing sent), coalescing,
// and polling that lives only as long as a subscription.

const nodes = [wiimConfig, wiimCommand, sonoffConfig, sonoffSwitch, sonoffDimmer, coreNode('common/25-catch.js')] as Array<(RED: unknown) => void>;
const settings = helper.settings();
const catcher = [
  { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
  { id: 'out', type: 'helper' },
];

async function load(flow: Array<Record<string, unknown>>, clock: FakeClock): Promise<void> {
  settings.wiimSonoffClock = clock;
  await helper.load(nodes, withTab(flow));
}

const deviceOf = <D>(id: string): D => (node(id) as unknown as { device: D }).device;

/** Runs `work` to its end, whatever it is, and returns the error it failed with. */
async function failure(work: Promise<unknown>): Promise<Error & { kind?: string }> {
  return work.then(
    () => assert.fail('expected a refusal'),
    (err: Error & { kind?: string }) => err,
  );
}

describe('device handle: WiiM', () => {
  const sim = new WiimSimulator({ name: 'Handle' });
  let port = 0;
  let clock: FakeClock;
  before(async () => {
    port = (await sim.start({ port: 0 })).port;
  });
  after(() => sim.stop());
  beforeEach(async () => {
    sim.reset();
    clock = new FakeClock();
    const cfg = { id: 'cfg', type: 'wiim-config', name: 'Living room', host: '127.0.0.1', port: String(port), protocol: 'https', timeout: '1000' };
    await load(
      [
        { ...cfg, pollPlaying: '1', pollIdle: '5', events: 'off' },
        { id: 'cmd', type: 'wiim-command', device: 'cfg', command: '', value: '', wires: [['out']] },
        ...catcher,
      ],
      clock,
    );
  });
  afterEach(async () => {
    await helper.unload();
    delete settings.wiimSonoffClock;
  });

  it('replays health and state at once, then reports each change, and polls only while subscribed', async () => {
    const device = deviceOf<WiimDevice>('cfg');
    assert.equal(device.family, 'wiim');
    assert.equal(device.name, 'Living room');
    const seen: Array<DeviceUpdate<unknown>> = [];
    const stop = device.subscribe((u) => seen.push(u));
    assert.deepEqual(seen, [{ health: 'connecting', state: undefined, changed: [], source: 'health' }], 'the replay comes before subscribe returns');

    await clock.advance(0);
    await until(() => seen.some((u) => u.source === 'poll'), 'the first poll');
    const first = seen.find((u) => u.source === 'poll') as DeviceUpdate<{ volume?: number }>;
    assert.equal(first.state?.volume, 30);
    assert.ok(first.changed.includes('volume') && first.changed.includes('online'), first.changed.join());
    // the reply that carried the state is what makes the device online: that health follows as an update of its own
    await until(() => seen.at(-1)?.health === 'online', 'online');
    assert.deepEqual(seen.at(-1), { health: 'online', state: first.state, changed: [], source: 'health' });

    const polls = sim.count('getPlayerStatus');
    await clock.advance(5000);
    await until(() => sim.count('getPlayerStatus') > polls, 'the next poll');
    assert.equal(seen.filter((u) => u.source === 'poll').length, 1, 'an unchanged poll is no update');

    sim.state.volume = 44;
    const n = seen.length;
    await clock.advance(5000);
    await until(() => seen.length > n, 'the change');
    assert.deepEqual(
      seen.slice(n).map((u) => [u.source, u.changed, (u.state as { volume: number }).volume]),
      [['poll', ['volume'], 44]],
    );

    // a second subscriber starts from what is known now
    const late: Array<DeviceUpdate<unknown>> = [];
    const stopLate = device.subscribe((u) => late.push(u));
    assert.equal((late[0].state as { volume: number }).volume, 44);
    assert.equal(late[0].health, 'online');
    stopLate();

    stop();
    const after = sim.count('getPlayerStatus');
    await clock.advance(60_000);
    assert.equal(sim.count('getPlayerStatus'), after, 'no poll once the last subscription ended');
    assert.equal(clock.pending, 0, 'no timer left');
  });

  it('with meta, the state carries the artwork and, once known, the preset count', async () => {
    sim.state.status = 'play';
    const device = deviceOf<WiimDevice>('cfg');
    const seen: Array<DeviceUpdate<{ artwork?: string | null; presets?: number }>> = [];
    const stop = device.subscribe((u) => seen.push(u), { meta: true });
    await clock.advance(0);
    await until(() => seen.some((u) => u.source === 'poll'), 'the first poll');
    assert.equal(device.state?.artwork, 'https://img.example.invalid/kind-of-blue.jpg');
    // a preset command needs the count: known from here on if the poll had not learned it yet
    await device.send('preset', 2);
    assert.equal(device.state?.presets, sim.state.presetKeys);
    assert.equal(device.state?.state, 'loading');
    stop();
  });

  it('send refuses a bad value with the node’s own text, and sends nothing', async () => {
    const device = deviceOf<WiimDevice>('cfg');
    for (const [command, value] of [
      ['volume', 150],
      ['volume', 'loud'],
      ['seek', 'soon'],
      ['repeat', { repeat: 'twice' }],
      ['member-volume', { ip: '10.0.0.2' }],
      ['frobnicate', 1],
    ] as const) {
      const err = await failure(device.send(command, value));
      assert.equal(err.kind, 'argument', `${command}: ${err.message}`);
      const caught = await refused('cmd', { payload: { command, value } }, /./);
      assert.equal(String(err), caught.error.message, `${command}: the same text as wiim-command's`);
    }
    assert.deepEqual(sim.requests, [], 'nothing reached the device');
  });

  it('send runs wiim-command’s commands, and a burst of volumes coalesces (latest wins)', async () => {
    const device = deviceOf<WiimDevice>('cfg');
    assert.deepEqual(await device.send('volume', 20), { payload: 20, state: undefined });
    const burst = await Promise.all([device.send('volume', '+5'), device.send('volume', 31), device.send('volume', 32), device.send('volume', 33)]);
    assert.deepEqual(
      burst.map((r) => r.payload),
      [25, 33, 33, 33],
    );
    assert.deepEqual(
      sim.requests.filter((r) => r.startsWith('setPlayerCmd:vol')),
      ['setPlayerCmd:vol:20', 'setPlayerCmd:vol:25', 'setPlayerCmd:vol:33'],
    );
    assert.equal(sim.state.volume, 33);
    await device.send('source', 'line-in');
    await device.send('repeat', { repeat: 'all', shuffle: true });
    const status = await device.send('status');
    assert.equal((status.payload as { source: string }).source, 'line-in');
    assert.equal(status.state?.repeat, 'all');
    assert.equal(status.state?.shuffle, true);
  });
});

describe('device handle: SONOFF', () => {
  let relay: SonoffSimulator;
  let dimmer: SonoffSimulator;
  /** a relay no node uses: only a subscription makes its session poll */
  let lone: SonoffSimulator;
  const ports = { relay: 0, dimmer: 0, lone: 0 };
  let clock: FakeClock;
  beforeEach(async () => {
    relay = new SonoffSimulator({ multi: true });
    dimmer = new SonoffSimulator({ model: 'd1', deviceid: '1000d1d1d1' });
    lone = new SonoffSimulator({ deviceid: '1000101010' });
    ports.relay = (await relay.start({ port: 0 })).port;
    ports.dimmer = (await dimmer.start({ port: 0 })).port;
    ports.lone = (await lone.start({ port: 0 })).port;
    clock = new FakeClock();
    const cfg = { type: 'sonoff-config', host: '127.0.0.1', model: 'auto', pollInterval: '10', timeout: '1000' };
    await load(
      [
        { ...cfg, id: 'scfg', name: 'Strip', deviceid: relay.deviceid, port: String(ports.relay) },
        { ...cfg, id: 'dcfg', name: 'Lamp', deviceid: dimmer.deviceid, port: String(ports.dimmer), pollInterval: '0' },
        { ...cfg, id: 'lcfg', name: 'Alone', deviceid: lone.deviceid, port: String(ports.lone) },
        { ...cfg, id: 'bad', name: 'Nowhere', deviceid: '', host: 'http://x/' },
        { id: 'sw', type: 'sonoff-switch', device: 'scfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
        { id: 'dim', type: 'sonoff-dimmer', device: 'dcfg', wires: [['out']] },
        ...catcher,
      ],
      clock,
    );
  });
  afterEach(async () => {
    await helper.unload();
    delete settings.wiimSonoffClock;
    await Promise.all([relay.stop(), dimmer.stop(), lone.stop()]);
  });

  it('switches an outlet and reports the change by field name, with the device’s family, kind and encryption', async () => {
    const device = deviceOf<SonoffDevice>('scfg');
    assert.equal(device.family, 'sonoff');
    const seen: Array<DeviceUpdate<unknown>> = [];
    const stop = device.subscribe((u) => seen.push(u));
    await clock.drive(until(() => device.state !== undefined, 'the first read'));
    const result = await clock.drive(device.send('switch', true, { outlet: 2 }));
    assert.equal(result.payload, true);
    assert.equal(relay.outlets[2].on, true);
    assert.equal(result.state?.outlets.find((o) => o.outlet === 2)?.on, true);
    assert.deepEqual([result.state?.family, result.state?.kind, result.state?.encrypted, result.state?.deviceid], ['multi', 'relay', false, relay.deviceid]);
    const command = seen.filter((u) => u.source === 'command');
    assert.deepEqual(
      command.map((u) => u.changed),
      [['outlets.2.on']],
    );

    // a change the relay made on its own reaches the subscriber with the next poll
    relay.pressButton(1);
    const n = seen.length;
    await clock.advance(10_000);
    await until(() => seen.length > n, 'the polled change');
    assert.deepEqual(seen.at(-1)?.changed, ['outlets.1.on']);
    assert.equal(seen.at(-1)?.source, 'poll');

    stop();
  });

  it('a relay that no node uses is read only while a subscription lives', async () => {
    const device = deviceOf<SonoffDevice>('lcfg');
    await clock.advance(30_000);
    assert.deepEqual(lone.requests, [], 'no user, no read');
    const seen: Array<DeviceUpdate<unknown>> = [];
    const stop = device.subscribe((u) => seen.push(u));
    await until(() => seen.some((u) => u.source === 'poll'), 'the first read');
    assert.deepEqual(
      seen.find((u) => u.source === 'poll')?.changed.filter((f) => f.startsWith('outlets.')),
      ['outlets.0.on', 'outlets.0.startup', 'outlets.0.pulse', 'outlets.0.pulseWidth'],
    );
    const first = lone.requests.length;
    await clock.advance(10_000);
    await until(() => lone.requests.length > first, 'a regular poll');
    stop();
    const reads = lone.requests.length;
    await clock.advance(120_000);
    assert.equal(lone.requests.length, reads, 'no read once the subscription ended');
  });

  it('refuses a bad switch value with sonoff-switch’s own text, and sends nothing', async () => {
    const device = deviceOf<SonoffDevice>('scfg');
    await clock.drive(until(() => device.state !== undefined, 'the first read'));
    const before = relay.requests.length;
    for (const [value, outlet] of [
      ['maybe', 0],
      [{ outlet: 1 }, 0],
      [true, 9],
    ] as const) {
      const err = await failure(device.send('switch', value, { outlet }));
      assert.equal(err.kind, 'argument', err.message);
      const msg = typeof value === 'object' ? { payload: value } : { payload: outlet === 0 ? value : { switch: value, outlet } };
      const caught = await clock.drive(refused('sw', msg, /./));
      assert.equal(String(err), caught.error.message);
    }
    assert.equal(relay.requests.length, before, 'nothing reached the relay');
  });

  it('a burst of switch commands for one outlet coalesces: the latest wins and every call gets the confirmed state', async () => {
    const device = deviceOf<SonoffDevice>('scfg');
    await clock.drive(until(() => device.state !== undefined, 'the first read'));
    await clock.advance(1000);
    const before = relay.requestsTo('switches').length;
    const burst = await clock.drive(Promise.all([device.send('switch', true), device.send('switch', false), device.send('switch', true)]));
    assert.deepEqual(
      burst.map((r) => r.payload),
      [true, true, true],
    );
    // the first goes at once when the relay's 200 ms gap has passed, and the other two as one behind it; when a
    // read ended within the gap (the first reads run in real time, the gap on the fake clock), all three wait as one
    const sent = relay.requestsTo('switches').slice(before);
    assert.ok(sent.length === 1 || sent.length === 2, `three commands made ${sent.length} requests`);
    const lastSwitch = (sent.at(-1)?.body as { data?: { switches?: Array<{ switch: string }> } }).data?.switches?.[0]?.switch;
    assert.equal(lastSwitch, 'on', 'the latest value went last');
    assert.equal(relay.outlets[0].on, true);
  });

  it('sets the dimmer’s brightness as sonoff-dimmer does', async () => {
    const device = deviceOf<SonoffDevice>('dcfg');
    const r = await clock.drive(device.send('brightness', 40));
    assert.equal(r.payload, 40);
    assert.equal(dimmer.brightness, 40);
    assert.equal(r.state?.kind, 'dimmer');
    const err = await failure(device.send('brightness', 140));
    const caught = await clock.drive(refused('dim', { payload: 140 }, /./));
    assert.equal(String(err), caught.error.message);
  });

  it('is there, unconfigured, when the settings are unusable: the replay says why, and send refuses', async () => {
    const device = deviceOf<SonoffDevice>('bad');
    assert.equal(device.health, 'unconfigured');
    assert.equal(device.state, undefined);
    const seen: Array<DeviceUpdate<unknown>> = [];
    const stop = device.subscribe((u) => seen.push(u));
    assert.equal(seen.length, 1);
    assert.equal(seen[0].health, 'unconfigured');
    assert.equal(seen[0].error?.kind, 'argument');
    assert.match(seen[0].error?.message ?? '', /host/);
    const err = await failure(device.send('switch', true));
    assert.equal(err.kind, 'argument');
    assert.equal(err.message, seen[0].error?.message);
    stop();
  });
});

describe('device handle: the published types', () => {
  it('another package compiles against the built package with `import type` only', function () {
    this.timeout(60000);
    const root = path.resolve(__dirname, '..', '..');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handle-types-'));
    try {
      const pkg = path.join(dir, 'node_modules', 'node-red-contrib-wiim-sonoff');
      fs.mkdirSync(pkg, { recursive: true });
      fs.copyFileSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
      fs.symlinkSync(path.join(root, 'dist'), path.join(pkg, 'dist'));
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'));
      fs.writeFileSync(
        path.join(dir, 'widget.ts'),
        [
          "import type { WiimDevice, SonoffDevice, DeviceUpdate, WiimDeviceState, Health } from 'node-red-contrib-wiim-sonoff';",
          'export function bind(w: WiimDevice, s: SonoffDevice): () => void {',
          '  const stop = w.subscribe((u: DeviceUpdate<WiimDeviceState>) => {',
          '    const h: Health = u.health; const v: number | undefined = u.state?.volume; const a: string | null | undefined = u.state?.artwork; void [h, v, a];',
          '  }, { meta: true });',
          "  void w.send('volume', 30).catch((err: { kind: string }) => err.kind);",
          "  void s.send('switch', true, { outlet: 2 }).then((r) => r.state?.outlets[0]?.on);",
          '  return stop;',
          '}',
          // a field the state does not have must not compile: the types are real, not `any`
          '// @ts-expect-error',
          'export const wrong = (w: WiimDevice) => w.state?.nonsense;',
        ].join('\n'),
      );
      const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
      const args = [
        '--noEmit',
        '--strict',
        '--module',
        'node16',
        '--moduleResolution',
        'node16',
        '--types',
        'node',
        '--typeRoots',
        path.join(root, 'node_modules', '@types'),
        'widget.ts',
      ];
      execFileSync(process.execPath, [tsc, ...args], { cwd: dir, stdio: 'pipe' });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      assert.deepEqual(require(path.join(root, 'dist', 'src', 'api.js')), {}, 'the entry point holds types only');
    } catch (err) {
      const out = (err as { stdout?: Buffer }).stdout?.toString();
      throw out ? new Error(out) : err;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
