import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { coreNode, helper, nextMessage, node, ok, outcome, refused, withTab } from './helpers/runtime';
import { DeviceError } from '../src/shared/errors';
import { hostSetting } from '../src/nodes/settings';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

const catchNode = coreNode('common/25-catch.js');
const nodes = [wiimConfig, wiimCommand, sonoffConfig, sonoffSwitch, catchNode] as Array<(RED: unknown) => void>;
const ID = '1000abcdef';

/** Whether the loopback interface has ::1 (`ip -6 addr show lo`, else Node's own view). */
function hasIpv6Loopback(): boolean {
  try {
    return /inet6 ::1\//.test(execFileSync('ip', ['-6', 'addr', 'show', 'lo'], { encoding: 'utf8' }));
  } catch {
    return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.internal && i.address === '::1'));
  }
}

function flow(wiimHost: string, wiimPort: number, sonoffHost: string, sonoffPort: number): object[] {
  return withTab([
    {
      id: 'wcfg',
      type: 'wiim-config',
      name: '',
      host: wiimHost,
      port: String(wiimPort),
      protocol: 'https',
      timeout: '2000',
      pollPlaying: '3600',
      pollIdle: '3600',
      fingerprint: '',
    },
    { id: 'wcmd', type: 'wiim-command', device: 'wcfg', command: '', value: '', wires: [['out']] },
    {
      id: 'scfg',
      type: 'sonoff-config',
      name: '',
      deviceid: ID,
      host: sonoffHost,
      port: String(sonoffPort),
      model: 'auto',
      pollInterval: '0',
      timeout: '2000',
    },
    { id: 'ssw', type: 'sonoff-switch', device: 'scfg', outlet: '0', payloadType: 'boolean', wires: [['swout']] },
    { id: 'out', type: 'helper' },
    { id: 'swout', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ]);
}

describe('device hosts: IPv4, IPv6 and host names, checked alike by both config nodes', function () {
  this.timeout(20000);
  afterEach(() => helper.unload());

  it('hostSetting takes addresses and names (IPv6 bare or bracketed, returned bare) and refuses URLs, paths, ports and spaces', () => {
    const good: Array<[string, string]> = [
      ['127.0.0.1', '127.0.0.1'],
      [' 192.168.1.20 ', '192.168.1.20'],
      ['::1', '::1'],
      ['[::1]', '::1'],
      ['[fe80::1%eth0]', 'fe80::1%eth0'],
      ['2001:db8::7', '2001:db8::7'],
      ['WiiM-Mini.local', 'WiiM-Mini.local'],
      ['relay_1.lan.', 'relay_1.lan.'],
      ['', ''],
    ];
    for (const [typed, host] of good) assert.equal(hostSetting(typed), host, typed);
    for (const bad of [
      'http://10.0.0.2',
      '10.0.0.2:80',
      '10.0.0.2/x',
      'a b',
      '[127.0.0.1]',
      '[::1',
      '::1]',
      '[]',
      'host?x',
      'user@host',
      '-lead.local',
      'x'.repeat(300),
    ]) {
      assert.throws(
        () => hostSetting(bad),
        (err: unknown) => err instanceof DeviceError && err.kind === 'argument' && /must be an IPv4 or IPv6 address or a host name/.test(err.message),
        bad,
      );
    }
  });

  it("a host that is none becomes each config node's problem, shown by every user, never a crash", async () => {
    await helper.load(nodes, flow('https://10.0.0.2/', 1, 'relay /x', 1));
    for (const [cfg, user] of [
      ['wcfg', 'wcmd'],
      ['scfg', 'ssw'],
    ]) {
      const problem = (node(cfg) as unknown as { problem?: DeviceError }).problem;
      assert.match(String(problem?.message), /must be an IPv4 or IPv6 address or a host name/, cfg);
      await refused(user, { payload: cfg === 'wcfg' ? 'status' : true }, /must be an IPv4 or IPv6 address or a host name/);
    }
  });

  describe('over IPv6 loopback', () => {
    const wiim = new WiimSimulator({ name: 'Six', host: '::1' });
    const relay = new SonoffSimulator({ deviceid: ID, host: '::1' });
    before(async function () {
      if (!hasIpv6Loopback()) {
        // CI runs where loopback has ::1; elsewhere, say so and skip
        if (process.env.CI === 'true') throw new Error('the loopback interface has no ::1, which CI must have');
        this.skip();
      }
      await wiim.start({ port: 0 });
      await relay.start({ port: 0 });
    });
    after(async () => {
      await wiim.stop();
      await relay.stop();
    });

    for (const typed of ['[::1]', '::1']) {
      it(`host ${typed}: wiim-config and sonoff-config reach simulators listening on ::1`, async () => {
        await helper.load(nodes, flow(typed, wiim.port, typed, relay.port));
        // sonoff-switch sends the first state it reads from the relay
        const first = await nextMessage<{ payload: unknown }>('swout');
        assert.equal(first.payload, relay.outlets[0].on);
        const status = await ok('wcmd', { payload: 'status' });
        assert.equal((status.payload as { volume: number }).volume, wiim.state.volume);
        assert.equal((await ok('wcmd', { topic: 'volume', payload: 33 })).payload, 33);
        assert.equal(wiim.state.volume, 33);
        const want = !relay.outlets[0].on;
        const r = await outcome<{ payload: unknown }>('ssw', { payload: want }, 8000, 'swout');
        assert.equal(r.out?.payload, want);
        assert.equal(relay.outlets[0].on, want);
      });
    }
  });
});
