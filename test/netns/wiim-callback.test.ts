import assert from 'node:assert/strict';
import net from 'node:net';
import { helper, sessionOf, until, withTab } from '../helpers/runtime';
import wiimConfig from '../../src/nodes/wiim-config';
import wiimStatus from '../../src/nodes/wiim-status';
import { WiimSimulator } from '../../src/sim/wiim-sim';
import type { WiimSession } from '../../src/sessions/wiim-session';
import { CALLBACK_PATH, DEFAULT_CALLBACK_PORT } from '../../src/sessions/upnp-callback';

// Runs inside `unshare -n` (scripts/netns-test.js): the fixed callback port is bound only in this private namespace.
describe('wiim UPnP callback port in a runtime (private network namespace)', function () {
  this.timeout(30000);
  const sim = new WiimSimulator({ name: 'Den' });
  let port: number;
  /** the runtime's own settings: the suite's helpers set the callback port to 0; here the default applies */
  const settings = helper.settings();

  before(async () => {
    ({ port } = await sim.start({ port: 0 }));
    delete settings.wiimSonoffCallbackPort;
  });
  after(async () => {
    settings.wiimSonoffCallbackPort = 0;
    await sim.stop();
  });
  afterEach(() => helper.unload());

  const flow = () =>
    withTab([
      {
        id: 'cfg',
        type: 'wiim-config',
        name: 'Den',
        host: '127.0.0.1',
        port: String(port),
        protocol: 'https',
        pollPlaying: '30',
        pollIdle: '30',
        upnpPort: String(sim.upnp.port),
      },
      { id: 'st', type: 'wiim-status', device: 'cfg', output: 'change', meta: false, wires: [[]] },
    ]);

  /** Deploys the flow and gives the callback URL the device was told. */
  async function callbackUrl(): Promise<URL> {
    sim.reset();
    await helper.load([wiimConfig, wiimStatus] as Array<(RED: unknown) => void>, flow());
    const session = sessionOf<WiimSession>('cfg');
    await until(() => session.live, 'events live');
    return new URL(session.events?.callbackUrl ?? '');
  }

  it('listens at port 18491 on the address that reaches the device, the same after a redeploy; the next port when it is taken', async () => {
    for (let deploy = 0; deploy < 2; deploy++) {
      const url = await callbackUrl();
      assert.equal(url.port, String(DEFAULT_CALLBACK_PORT), `deploy ${deploy}`);
      assert.equal(url.hostname, '127.0.0.1');
      assert.equal(url.pathname, CALLBACK_PATH);
      await helper.unload();
    }
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(DEFAULT_CALLBACK_PORT, '127.0.0.1', resolve));
    try {
      assert.equal((await callbackUrl()).port, String(DEFAULT_CALLBACK_PORT + 1));
    } finally {
      blocker.close();
    }
  });
});
