import assert from 'node:assert/strict';
import { coreNode, collect, helper, node, sessionOf, until, withTab } from '../helpers/runtime';
import sonoffConfig from '../../src/nodes/sonoff-config';
import sonoffSwitch from '../../src/nodes/sonoff-switch';
import sonoffDimmer from '../../src/nodes/sonoff-dimmer';
import sonoffSensor from '../../src/nodes/sonoff-sensor';
import type { SonoffSession } from '../../src/sessions/sonoff-session';
import { discoverSonoff } from '../../src/sonoff/discovery';
import { mdnsRelays } from '../helpers/mdns-relays';

// Runs inside `unshare -n` (scripts/netns-test.js): loopback only, multicast on.

const catchNode = coreNode('common/25-catch.js');
const nodes = [sonoffConfig, sonoffSwitch, sonoffDimmer, sonoffSensor, catchNode] as Array<(RED: unknown) => void>;
type Msg = Record<string, unknown> & { payload?: unknown; sonoff?: { source: string; seq?: number } };
const KEY = '64271b79-89f6-4d18-8318-7d751faacd13';

function flow(deviceid: string, user: Record<string, unknown>): object[] {
  return withTab([
    { id: 'cfg', type: 'sonoff-config', name: '', deviceid, host: '', port: '8081', model: 'auto', pollInterval: '0' },
    { id: 'user', device: 'cfg', wires: [['out']], ...user },
    { id: 'out', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ]);
}

const cfgSession = (): SonoffSession => sessionOf<SonoffSession>('cfg');

describe('sonoff encrypted LAN mode over mDNS (network namespace)', function () {
  this.timeout(30000);
  const sim = mdnsRelays({ devicekey: KEY });

  it('Discover lists an encrypted relay as encrypted, without a state it cannot read', async () => {
    await sim({ deviceid: '1000eeeeee' });
    const found = await discoverSonoff(1500);
    assert.deepEqual(
      found.map((d) => [d.deviceid, d.encrypted, d.state]),
      [['1000eeeeee', true, undefined]],
    );
  });

  it('an encrypted push is decrypted with the key and reaches sonoff-switch; a command goes out encrypted', async () => {
    const relay = await sim({ deviceid: '1000ffffff' });
    await helper.load(nodes, flow('1000ffffff', { type: 'sonoff-switch', outlet: '0', payloadType: 'boolean' }), { cfg: { devicekey: KEY } });
    const session = cfgSession();
    await until(() => session.state !== undefined, 'state from the encrypted record', 8000);
    assert.equal(relay.requests.length, 0, 'the state came from the TXT record');
    const outs = collect<Msg>('out');
    relay.pressButton(0);
    await until(() => outs.length === 1, 'pushed output');
    assert.deepEqual([outs[0].payload, outs[0].sonoff?.source], [true, 'push']);
    node('user').receive({ payload: false });
    await until(() => outs.length === 2, 'command output');
    assert.equal(relay.outlets[0].on, false);
    assert.equal(relay.requestsTo('switch').length, 1);
  });

  it('a wrong key: the device is reported with "cannot decrypt", and no state is taken from its records', async () => {
    await sim({ deviceid: '1000abab01' });
    await helper.load(nodes, flow('1000abab01', { type: 'sonoff-switch', outlet: '0', payloadType: 'boolean' }), { cfg: { devicekey: 'wrong' } });
    const session = cfgSession();
    await until(() => session.lastError !== undefined, 'the key problem', 8000);
    assert.match(session.lastError?.message ?? '', /cannot decrypt: check the devicekey/);
    assert.equal(session.state, undefined);
  });

  it('no key: the device asks for its devicekey', async () => {
    await sim({ deviceid: '1000abab02' });
    await helper.load(nodes, flow('1000abab02', { type: 'sonoff-switch', outlet: '0', payloadType: 'boolean' }));
    const session = cfgSession();
    await until(() => session.lastError !== undefined, 'the key problem', 8000);
    assert.match(session.lastError?.message ?? '', /LAN \(encrypted\) mode: enter its devicekey/);
  });

  it('sonoff-dimmer follows a pushed change of an encrypted D1', async () => {
    const d1 = await sim({ deviceid: '1000abab03', model: 'd1', type: 'diylight' });
    await helper.load(nodes, flow('1000abab03', { type: 'sonoff-dimmer' }), { cfg: { devicekey: KEY } });
    const outs = collect<Msg>('out');
    await until(() => outs.length === 1, 'the first state', 8000);
    d1.brightness = 80;
    d1.pressButton(0);
    await until(() => outs.length === 2, 'pushed output');
    assert.deepEqual([outs[1].payload, outs[1].sonoff?.source], [80, 'push']);
  });

  it("sonoff-sensor sends an encrypted meter's pushed readings while it is active", async () => {
    const meter = await sim({ deviceid: '1000abab04', model: 'powr3' });
    await helper.load(nodes, flow('1000abab04', { type: 'sonoff-sensor', reading: 'power' }), { cfg: { devicekey: KEY } });
    const outs = collect<Msg>('out');
    await until(() => outs.length === 1, 'the first reading', 8000);
    assert.equal(outs[0].payload, 12.5);
    meter.activeUntil = Date.now() + 60_000;
    meter.stepReadings();
    await until(() => outs.length === 2, 'pushed reading');
    assert.deepEqual([outs[1].payload, outs[1].sonoff?.source], [19.75, 'push']);
  });
});
