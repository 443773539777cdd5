import assert from 'node:assert/strict';
import { coreNode, collect, helper, node, ok, refused, until, withTab } from './helpers/runtime';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

const catchNode = coreNode('common/25-catch.js');
const nodes = [sonoffConfig, sonoffSwitch, catchNode] as Array<(RED: unknown) => void>;

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
