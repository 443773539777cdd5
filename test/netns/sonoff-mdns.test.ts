import assert from 'node:assert/strict';
import { coreNode, collect, helper, node, sessionOf, until, withTab } from '../helpers/runtime';
import sonoffConfig from '../../src/nodes/sonoff-config';
import sonoffSwitch from '../../src/nodes/sonoff-switch';
import type { SonoffSession } from '../../src/sessions/sonoff-session';
import { discoverSonoff, sonoffWatcherUsers } from '../../src/sonoff/discovery';
import { mdnsUsers } from '../../src/shared/mdns';
import { mdnsRelays } from '../helpers/mdns-relays';

// Runs inside `unshare -n` (scripts/netns-test.js): a private network
// namespace with only loopback, multicast on. Nothing leaves this machine.

const catchNode = coreNode('common/25-catch.js');
const nodes = [sonoffConfig, sonoffSwitch, catchNode] as Array<(RED: unknown) => void>;
type Msg = Record<string, unknown> & { payload?: unknown; sonoff?: { source: string; seq?: number; outlet: number } };

function flow(configs: Array<{ id: string; deviceid: string }>): object[] {
  const list: Array<Record<string, unknown>> = [];
  for (const c of configs) {
    list.push({ id: c.id, type: 'sonoff-config', name: '', deviceid: c.deviceid, host: '', port: '8081', model: 'auto', pollInterval: '0' });
    list.push({ id: `sw-${c.id}`, type: 'sonoff-switch', device: c.id, outlet: '0', payloadType: 'boolean', wires: [['out']] });
  }
  list.push({ id: 'out', type: 'helper' });
  list.push({ id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] });
  list.push({ id: 'caught', type: 'helper' });
  return withTab(list);
}

describe('sonoff over mDNS (network namespace)', function () {
  this.timeout(30000);
  const sim = mdnsRelays();

  it('discovers the simulated relays, with their state from split and reordered TXT chunks', async () => {
    const a = await sim({ deviceid: '1000aaaaaa' });
    const b = await sim({ deviceid: '1000bbbbbb', multi: true, txtChunkSize: 40, txtReverse: true });
    b.outlets[3].on = true;
    const found = await discoverSonoff(1500);
    assert.deepEqual(
      found.map((d) => [d.deviceid, d.host, d.port, d.state?.family]),
      [
        ['1000aaaaaa', '127.0.0.1', a.address.port, 'single'],
        ['1000bbbbbb', '127.0.0.1', b.address.port, 'multi'],
      ],
    );
    assert.equal(found[1].state?.outlets[3].on, true);
    assert.equal(found[0].name, 'eWeLink_1000aaaaaa');
    assert.equal(found[0].type, 'diy_plug');
    assert.equal(mdnsUsers(), 2, 'discovery left nothing open (the two simulators hold the socket)');
  });

  it('a button press reaches sonoff-switch as a push; commands go to the mDNS address', async () => {
    const relay = await sim({ deviceid: '1000cccccc' });
    await helper.load(nodes, flow([{ id: 'cfg', deviceid: '1000cccccc' }]));
    const session = sessionOf<SonoffSession>('cfg');
    await until(() => session.state !== undefined && session.address?.port === relay.address.port, 'address and state from mDNS', 8000);
    assert.equal(relay.requests.length, 0, 'the state came from the TXT record, not from a request');
    const outs = collect<Msg>('out');
    const errors = collect<{ error: { message: string } }>('caught');
    relay.pressButton(0);
    await until(() => outs.length === 1, 'pushed output');
    assert.equal(outs[0].payload, true);
    assert.equal(outs[0].sonoff?.source, 'push');
    assert.equal(outs[0].sonoff?.seq, relay.seq);
    // a command goes to the address from the record
    node('sw-cfg').receive({ payload: false });
    await until(() => outs.length === 2 || errors.length > 0, 'command output');
    assert.deepEqual(
      errors.map((e) => e.error.message),
      [],
    );
    assert.equal(outs[1].sonoff?.source, 'command');
    assert.equal(relay.outlets[0].on, false);
    // the record the relay announces after the command is no new change: no extra output
    relay.pressButton(0);
    await until(() => outs.length === 3, 'second push');
    assert.deepEqual(
      outs.map((m) => [m.payload, m.sonoff?.source]),
      [
        [true, 'push'],
        [false, 'command'],
        [true, 'push'],
      ],
    );
  });

  it("a button press that arrives while an info read is out stands: the read's older reply does not put it back", async () => {
    const relay = await sim({ deviceid: '1000cdcdcd' });
    await helper.load(nodes, flow([{ id: 'cfg', deviceid: relay.deviceid }]));
    const session = sessionOf<SonoffSession>('cfg');
    await until(() => session.state !== undefined && session.address?.port === relay.address.port, 'address and state from mDNS', 8000);
    const outs = collect<Msg>('out');
    // the relay answers the read now, and the reply reaches us only after its record
    const release = relay.holdReplies();
    const read = session.refresh();
    await until(() => relay.requests.some((r) => r.endpoint === 'info'), 'the read is out');
    relay.pressButton(0);
    await until(() => outs.length === 1, 'the press by mDNS');
    assert.deepEqual([outs[0].payload, outs[0].sonoff?.source], [true, 'push']);
    release();
    const state = await read;
    assert.equal(state.outlets[0].on, true, "the read's reply had the relay off");
    assert.equal(session.outletState(0)?.on, true);
    // the next press is the next output: nothing between put the relay back off
    relay.pressButton(0);
    await until(() => outs.length >= 2, 'the second press');
    assert.deepEqual(
      outs.map((m) => [m.payload, m.sonoff?.source]),
      [
        [true, 'push'],
        [false, 'push'],
      ],
    );
  });

  for (const [ahead, how] of [
    [1, 'equal to'],
    [100, 'far above'],
  ] as const) {
    it(`an accepted command's reply with a seq ${how} the next record's does not make the push that follows stale`, async () => {
      const relay = await sim({ deviceid: `1000ab00${ahead === 1 ? '01' : '99'}`, replySeqAhead: ahead });
      relay.seq = 40; // well above a rebooted relay's seq
      await helper.load(nodes, flow([{ id: 'cfg', deviceid: relay.deviceid }]));
      const session = sessionOf<SonoffSession>('cfg');
      await until(() => session.state !== undefined && session.address?.port === relay.address.port, 'address and state from mDNS', 8000);
      const outs = collect<Msg>('out');
      node('sw-cfg').receive({ payload: true });
      await until(() => outs.length === 1, 'command output');
      const replySeq = relay.seq + ahead;
      assert.deepEqual([outs[0].payload, outs[0].sonoff?.source, outs[0].sonoff?.seq], [true, 'command', replySeq], "the reply's seq is shown");
      // the button: a record whose seq is at or below the reply's
      relay.pressButton(0);
      assert.ok(relay.seq <= replySeq);
      await until(() => outs.length === 2, 'the push after the command');
      assert.deepEqual([outs[1].payload, outs[1].sonoff?.source, outs[1].sonoff?.seq], [false, 'push', relay.seq]);
      assert.equal(session.outletState(0)?.on, false);
    });
  }

  it('follows a change of port; a withdrawn record means offline; a rebooted relay (low seq) is taken afresh', async () => {
    const relay = await sim({ deviceid: '1000dddddd' });
    await helper.load(nodes, flow([{ id: 'cfg', deviceid: '1000dddddd' }]));
    const session = sessionOf<SonoffSession>('cfg');
    await until(() => session.address?.port === relay.address.port, 'first address', 8000);
    for (let i = 0; i < 12; i++) relay.pressButton(0); // seq well above 10
    await until(() => (session.seqNumber ?? 0) >= 13, 'seq followed');
    const oldPort = relay.address.port;
    // the OS may hand the freed port straight back; move until it differs
    for (let i = 0; i < 5 && relay.address.port === oldPort; i++) await relay.setAddress(undefined, 0);
    assert.notEqual(relay.address.port, oldPort);
    await until(() => session.address?.port === relay.address.port, 'new port followed', 8000);
    const outs = collect<Msg>('out');
    node('sw-cfg').receive({ payload: true });
    await until(() => outs.length === 1, 'command after the move');
    assert.equal(relay.outlets[0].on, true);

    // goodbye: the relay withdraws its record
    await relay.stop();
    await until(() => session.health === 'offline', 'offline after the goodbye');
    // it comes back after a reboot, seq counting from 1 again
    const back = await sim({ deviceid: '1000dddddd' });
    back.outlets[0].on = false;
    back.reboot();
    await until(() => session.health === 'online' && session.address?.port === back.address.port, 'online again', 8000);
    await until(() => session.outletState(0)?.on === false, 'the low-seq state was accepted');
    assert.ok((session.seqNumber ?? 99) < 10);
  });

  it('sessions share one watcher, closed when the last config node closes; the Discover endpoint leaves nothing open', async () => {
    await sim({ deviceid: '1000eeeeee' });
    await sim({ deviceid: '1000ffffff', multi: true });
    await helper.startServer();
    try {
      await helper.load(
        nodes,
        flow([
          { id: 'c1', deviceid: '1000eeeeee' },
          { id: 'c2', deviceid: '1000ffffff' },
        ]),
      );
      assert.equal(sonoffWatcherUsers(), 2);
      assert.equal(mdnsUsers(), 3, 'two simulators and one shared watcher');
      await until(
        () => sessionOf<SonoffSession>('c1').state !== undefined && sessionOf<SonoffSession>('c2').state?.family === 'multi',
        'both relays seen',
        8000,
      );
      const res = await helper.request().get('/sonoff-config/discover?timeout=1000').expect(200);
      const ids = (res.body as { devices: Array<{ deviceid: string }> }).devices.map((d) => d.deviceid);
      assert.deepEqual(ids, ['1000eeeeee', '1000ffffff']);
      assert.equal(mdnsUsers(), 3, 'discover closed its watcher');
      await helper.unload();
      assert.equal(sonoffWatcherUsers(), 0);
      assert.equal(mdnsUsers(), 2, 'only the simulators hold the socket');
    } finally {
      await helper.stopServer();
    }
  });
});
