import assert from 'node:assert/strict';
import { coreNode, collect, helper, node, ok, outcome, refused, until, withTab, type Msg } from './helpers/runtime';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import sonoffDimmer from '../src/nodes/sonoff-dimmer';
import sonoffSensor from '../src/nodes/sonoff-sensor';
import sonoffPulse from '../src/nodes/sonoff-pulse';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

const catchNode = coreNode('common/25-catch.js');
const nodes = [sonoffConfig, sonoffSwitch, sonoffDimmer, sonoffSensor, sonoffPulse, catchNode] as Array<(RED: unknown) => void>;

const ID = '1000abcdef';
const KEY = '9b0810bc-557a-406c-8266-614767890531';

function flow(port: number, extra: Record<string, unknown> = {}): object[] {
  return withTab([
    { id: 'cfg', type: 'sonoff-config', name: 'Stock', deviceid: ID, host: '127.0.0.1', port: String(port), model: 'auto', pollInterval: '0', ...extra },
    { id: 'sw', type: 'sonoff-switch', device: 'cfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
    { id: 'out', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ]);
}

/** Every status text a node shows from now on. */
function statusTexts(id: string): string[] {
  const n = node(id) as unknown as { status(s: { text?: string }): void };
  const seen: string[] = [];
  const original = n.status.bind(n);
  n.status = (s) => {
    seen.push(JSON.stringify(s));
    original(s);
  };
  return seen;
}

describe('sonoff-config with a devicekey (encrypted LAN mode)', function () {
  let sim: SonoffSimulator;

  beforeEach(async () => {
    sim = new SonoffSimulator({ deviceid: ID, devicekey: KEY });
    await sim.start();
  });

  afterEach(async () => {
    await helper.unload();
    await sim.stop();
  });

  it('switches an encrypted relay with the key from the credentials, and the key shows nowhere', async () => {
    await helper.load(nodes, flow(sim.port), { cfg: { devicekey: KEY } });
    const statuses = statusTexts('sw');
    const outputs = collect('out');
    // the node first reports the state it found
    await until(() => outputs.length === 1, 'the first state');
    const out = await ok('sw', { payload: true });
    assert.equal(out.payload, true);
    assert.equal(sim.outlets[0].on, true);
    assert.equal(sim.requestsTo('switch').length, 1);
    await ok('sw', { payload: false });
    assert.equal(sim.outlets[0].on, false);
    const everything = JSON.stringify([helper.log().args, statuses, outputs]);
    assert.doesNotMatch(everything, new RegExp(KEY));
  });

  it('without the key, a command says to enter the devicekey', async () => {
    await helper.load(nodes, flow(sim.port), {});
    await refused('sw', { payload: true }, /LAN \(encrypted\) mode: enter its devicekey/);
    assert.equal(sim.outlets[0].on, false);
  });

  it('with a wrong key, a command says the devicekey does not fit, and nothing switches', async () => {
    await helper.load(nodes, flow(sim.port), { cfg: { devicekey: 'not-the-key' } });
    await refused('sw', { payload: true }, /cannot decrypt: check the devicekey/);
    assert.equal(sim.outlets[0].on, false);
    await until(() => sim.requestsTo('getState').length > 0, 'the first read');
  });
});

describe('sonoff-dimmer and sonoff-sensor in Node-RED', function () {
  let sim: SonoffSimulator;

  afterEach(async () => {
    await helper.unload();
    await sim.stop();
  });

  function devices(port: number, reading: string): object[] {
    return withTab([
      { id: 'cfg', type: 'sonoff-config', name: 'Dev', deviceid: ID, host: '127.0.0.1', port: String(port), model: 'auto', pollInterval: '0' },
      { id: 'dim', type: 'sonoff-dimmer', device: 'cfg', wires: [['out']] },
      { id: 'sen', type: 'sonoff-sensor', device: 'cfg', reading, wires: [['readings']] },
      { id: 'out', type: 'helper' },
      { id: 'readings', type: 'helper' },
      { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);
  }

  it('dimmer: a brightness, off, {switch, brightness} and toggle; the payload is the brightness while on and 0 while off', async () => {
    sim = new SonoffSimulator({ deviceid: ID, model: 'd1', type: 'diylight', devicekey: KEY });
    await sim.start();
    await helper.load(nodes, devices(sim.port, 'all'), { cfg: { devicekey: KEY } });
    const first = collect('out');
    await until(() => first.length === 1, 'the first state');
    assert.equal(first[0].payload, 0);
    const on = await ok('dim', { payload: 40 });
    assert.equal(on.payload, 40);
    assert.deepEqual(on.sonoff && { ...(on.sonoff as object), seq: undefined }, {
      switch: true,
      brightness: 40,
      deviceid: ID,
      rssi: -55,
      seq: undefined,
      source: 'command',
    });
    assert.equal((await ok('dim', { payload: false })).payload, 0);
    assert.equal(sim.outlets[0].on, false);
    assert.equal((await ok('dim', { payload: { switch: 'on', brightness: '25' } })).payload, 25);
    assert.equal((await ok('dim', { payload: 'toggle' })).payload, 0);
    assert.equal((await ok('dim', { payload: 0 })).payload, 0);
    assert.deepEqual(
      sim.requests.map((r) => r.endpoint),
      ['getState', 'dimmable', 'switch', 'dimmable', 'switch', 'switch'],
    );
  });

  it('dimmer: bad values are refused with nothing sent', async () => {
    sim = new SonoffSimulator({ deviceid: ID, model: 'd1' });
    await sim.start();
    await helper.load(nodes, devices(sim.port, 'all'));
    await until(() => sim.requests.length === 1, 'the first read');
    for (const payload of [101, -1, 2.5, 'bright', { brightness: 500 }, { colour: 'red' }, [1]]) await refused('dim', { payload }, /brightness|switch|payload/);
    assert.equal(sim.requests.length, 1);
  });

  it('sensor: a POWR2 sending plain numbers shows volts, with the model auto or set to powr2 (the form of SonoffLAN issue 941)', async () => {
    sim = new SonoffSimulator({ deviceid: ID, model: 'powr2' });
    await sim.start();
    for (const model of ['auto', 'powr2']) {
      const flow = devices(sim.port, 'all').map((n) => ((n as { id: string }).id === 'cfg' ? { ...n, model } : n));
      await helper.load(nodes, flow);
      const seen = collect('readings');
      await until(() => seen.length === 1, 'the first readings');
      assert.deepEqual(seen[0].payload, { power: 12.5, voltage: 230.1, current: 0.05 }, model);
      assert.equal((seen[0].sonoff as { kind?: string }).kind, 'meter');
      await helper.unload();
    }
  });

  it('sensor: one reading as a number, and a read on demand', async () => {
    sim = new SonoffSimulator({ deviceid: ID, model: 'th' });
    await sim.start();
    await helper.load(nodes, devices(sim.port, 'temperature'));
    const seen = collect('readings');
    await until(() => seen.length === 1, 'the first reading');
    assert.equal(seen[0].payload, 21.5);
    sim.stepReadings();
    const read = await outcome<Msg>('sen', {}, 5000, 'readings');
    assert.equal(read.out?.payload, 22);
    assert.equal((read.out?.sonoff as { source?: string }).source, 'refresh');
  });
});

describe('real-device gaps through the nodes', function () {
  let sim: SonoffSimulator;
  afterEach(async () => {
    await helper.unload();
    await sim.stop();
  });

  it('MINIR3: a bare width to sonoff-pulse means on for the width, then off, whatever the outlet returned to before', async () => {
    sim = new SonoffSimulator({ deviceid: ID, multi: true });
    sim.outlets[1].pulseSwitch = 'on';
    await sim.start();
    await helper.load(
      nodes,
      withTab([
        { id: 'cfg', type: 'sonoff-config', deviceid: ID, host: '127.0.0.1', port: String(sim.port), model: 'auto', pollInterval: '0' },
        { id: 'pulse', type: 'sonoff-pulse', device: 'cfg', outlet: '1', width: '', wires: [['out']] },
        { id: 'sw', type: 'sonoff-switch', device: 'cfg', outlet: '1', payloadType: 'boolean', wires: [['out']] },
        { id: 'out', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const first = collect('out');
    await until(() => first.length === 1, "the switch node's first state");
    await ok('pulse', { payload: 1000 });
    assert.deepEqual([sim.outlets[1].pulse, sim.outlets[1].pulseSwitch, sim.outlets[1].pulseWidth], [true, 'off', 1000]);
    const led = await ok('sw', { topic: 'led', payload: 'off' });
    assert.equal(led.payload, false);
    assert.equal(sim.sledOnline, 'off');
    const info = await ok('sw', { topic: 'info' });
    assert.equal((info.payload as { led?: boolean }).led, false);
  });
});

describe('Test connection with a devicekey (the editor endpoint)', function () {
  let powr3: SonoffSimulator;
  let elsewhere: SonoffSimulator;

  before(async () => {
    await helper.startServer();
    powr3 = new SonoffSimulator({ deviceid: ID, model: 'powr3', devicekey: KEY });
    await powr3.start({ port: 0 });
    // another device that the same key would open, on another loopback address
    elsewhere = new SonoffSimulator({ deviceid: ID, model: 'powr3', devicekey: KEY, host: '127.0.0.2' });
    await elsewhere.start({ port: 0 });
  });
  afterEach(() => helper.unload());
  after(async () => {
    await helper.stopServer();
    await powr3.stop();
    await elsewhere.stop();
  });

  const test = async (form: Record<string, unknown>) =>
    (await helper.request().post('/sonoff-config/test').send(form).expect(200)).body as { ok: boolean; model?: string; error?: string };

  it('names the model the nodes use: an encrypted POWR3 is a meter', async () => {
    await helper.load(nodes, flow(powr3.port), { cfg: { devicekey: KEY } });
    const r = await test({ id: 'cfg', host: '127.0.0.1', port: String(powr3.port), deviceid: ID, devicekey: '__PWRD__' });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.model, 'meter');
    const typed = await test({ host: '127.0.0.1', port: String(powr3.port), deviceid: ID, devicekey: KEY });
    assert.equal(typed.model, 'meter');
  });

  it('sends the saved devicekey only to the saved host; another host needs the key in the same request, else nothing is sent', async () => {
    await helper.load(nodes, flow(powr3.port), { cfg: { devicekey: KEY } });
    const other = { host: '127.0.0.2', port: String(elsewhere.port), deviceid: ID };
    for (const form of [
      { id: 'cfg', ...other, devicekey: '__PWRD__' },
      { id: 'cfg', host: '127.0.0.1', port: String(elsewhere.port), deviceid: ID, devicekey: '__PWRD__' },
    ]) {
      const r = await test(form);
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.match(r.error ?? '', /the saved devicekey is only for the saved device; to test 127\.0\.0\.[12]:\d+, enter its devicekey/);
    }
    assert.equal(elsewhere.requests.length, 0, 'nothing reached the other host');
    // without a key, the other host is asked in the clear, and says it wants one
    const plain = await test({ id: 'cfg', ...other, devicekey: '' });
    assert.match(plain.error ?? '', /enter its devicekey/);
    assert.equal(elsewhere.requests.filter((q) => q.endpoint === 'getState' || q.endpoint === 'info').length, 1);
    // the key typed in the same request opens it
    const typed = await test({ id: 'cfg', ...other, devicekey: KEY });
    assert.equal(typed.ok, true, JSON.stringify(typed));
    assert.equal(typed.model, 'meter');
  });
});
