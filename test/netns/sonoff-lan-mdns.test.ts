import assert from 'node:assert/strict';
import { coreNode, collect, helper, node, sessionOf, until, withTab } from '../helpers/runtime';
import sonoffConfig from '../../src/nodes/sonoff-config';
import sonoffSwitch from '../../src/nodes/sonoff-switch';
import sonoffDimmer from '../../src/nodes/sonoff-dimmer';
import sonoffSensor from '../../src/nodes/sonoff-sensor';
import type { SonoffSession } from '../../src/sessions/sonoff-session';
import { acquireSonoffWatcher, discoverSonoff } from '../../src/sonoff/discovery';
import { MdnsAdvertiser } from '../../src/sim/mdns-advertiser';
import { SonoffSimulator } from '../../src/sim/sonoff-sim';
import { mdnsRelays } from '../helpers/mdns-relays';
import { freePort } from '../helpers/net';

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

  it('a second announcer of the same deviceid with records that do not decrypt, or a goodbye, neither moves the device, nor marks it offline, nor blames the key; the real relay keeps working', async () => {
    const relay = await sim({ deviceid: '1000abab05' });
    await helper.load(nodes, flow('1000abab05', { type: 'sonoff-switch', outlet: '0', payloadType: 'boolean' }), { cfg: { devicekey: KEY } });
    const session = cfgSession();
    await until(() => session.state !== undefined && session.health === 'online', 'state from the encrypted record', 8000);
    const real = session.address;
    const stateBefore = JSON.stringify(session.state?.outlets);
    // the records as the session gets them: its listener was added first, so it has handled each one before this one sees it
    const watcher = acquireSonoffWatcher();
    const seen: Array<Readonly<Record<string, string>>> = [];
    let goodbyes = 0;
    watcher.follow('1000abab05', { service: (s) => seen.push(s.txt), withdrawn: () => goodbyes++ });
    const elsewhere = await freePort();
    const forged = [
      // ciphertext that is not, under the device's key
      ['encrypt=true', 'iv=AAAAAAAAAAAAAAAAAAAAAA==', 'data1=bm90IGNpcGhlcnRleHQgYXQgYWxsIQ=='],
      // a plain record, as a DIY device sends, with a state the relay does not have
      [`data1={"switch":"${relay.outlets[0].on ? 'off' : 'on'}"}`],
    ];
    try {
      for (const [i, entries] of forged.entries()) {
        const seq = String(9000 + i);
        const spoof = new MdnsAdvertiser(() => ({
          service: '_ewelink._tcp.local',
          instance: 'eWeLink_1000abab05',
          host: '127.0.0.1',
          port: elsewhere,
          txt: ['txtvers=1', 'id=1000abab05', 'type=diy_plug', 'apivers=1', `seq=${seq}`, ...entries],
        }));
        spoof.start();
        await until(() => seen.some((t) => t.seq === seq), `forged record ${i} reached the session`);
        // the first leaves without a word, the second says goodbye: the session asks the device, which answers
        const reads = relay.requests.length;
        await spoof.stop(i === 1);
        if (i === 1) {
          await until(() => goodbyes === 1, 'the goodbye reached the session');
          assert.equal(session.health, 'online', 'a goodbye alone does not mark it offline');
          await until(() => relay.requests.length > reads, 'the device asked after the goodbye');
        }
        assert.deepEqual(session.address, real, `forged record ${i}: the address stays`);
        assert.equal(session.health, 'online', `forged record ${i}: still online`);
        assert.doesNotMatch(session.lastError?.message ?? '', /devicekey/, `forged record ${i}: the key is not blamed`);
        assert.equal(JSON.stringify(session.state?.outlets), stateBefore, `forged record ${i}: no state taken`);
      }
    } finally {
      watcher.release();
    }
    // the real relay: its pushes and commands still work
    const outs = collect<Msg>('out');
    relay.pressButton(0);
    await until(() => outs.length === 1, 'pushed output');
    assert.deepEqual([outs[0].payload, outs[0].sonoff?.source], [relay.outlets[0].on, 'push']);
    node('user').receive({ payload: !relay.outlets[0].on });
    await until(() => outs.length === 2, 'command output');
    assert.equal(relay.requestsTo('switch').length, 1);
    assert.deepEqual(session.address, real);
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

  describe('Test connection with the saved devicekey (the editor endpoint)', () => {
    before(() => helper.startServer());
    after(() => helper.stopServer());

    it('goes to where the session found the deviceid, and to no other host unless the key is typed', async () => {
      const meter = await sim({ deviceid: '1000abab09', model: 'powr3' });
      // the same key would open this one too: it must not be lent to it
      const other = new SonoffSimulator({ deviceid: '1000abab09', model: 'powr3', devicekey: KEY });
      await other.start({ port: 0 });
      try {
        await helper.load(nodes, flow('1000abab09', { type: 'sonoff-sensor', reading: 'all' }), { cfg: { devicekey: KEY } });
        const session = cfgSession();
        await until(() => session.address !== undefined, 'the address from mDNS', 8000);
        const test = async (form: Record<string, unknown>) =>
          (await helper.request().post('/sonoff-config/test').send(form).expect(200)).body as { ok: boolean; model?: string; error?: string };
        const saved = { id: 'cfg', deviceid: '1000abab09', devicekey: '__PWRD__' };
        const found = await test({ ...saved, host: '' });
        assert.equal(found.ok, true, JSON.stringify(found));
        assert.equal(found.model, 'meter');
        const same = await test({ ...saved, host: '127.0.0.1', port: String(meter.address.port) });
        assert.equal(same.ok, true, JSON.stringify(same));
        const elsewhere = await test({ ...saved, host: '127.0.0.1', port: String(other.address.port) });
        assert.match(elsewhere.error ?? '', /the saved devicekey is only for the saved device/);
        // the same form with a session on another deviceid is no found address either
        const wrongId = await test({ ...saved, deviceid: '1000abab10', host: '' });
        assert.match(wrongId.error ?? '', /enter a host to test/);
        assert.equal(other.requests.length, 0, 'nothing reached the other host');
      } finally {
        await other.stop();
      }
    });
  });
});
