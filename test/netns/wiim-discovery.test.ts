import assert from 'node:assert/strict';
import { Bonjour } from 'bonjour-service';
import { helper, withTab } from '../helpers/runtime';
import { mdnsUsers } from '../../src/shared/mdns';
import { discoverWiim } from '../../src/wiim/discovery';
import wiimConfig from '../../src/nodes/wiim-config';

// Runs inside `unshare -n` (scripts/netns-test.js): the adverts below never
// leave this private network namespace.
describe('wiim discovery over mDNS (private network namespace)', function () {
  this.timeout(20000);
  let publisher: Bonjour;

  before(() => {
    publisher = new Bonjour();
    publisher.publish({ name: 'Kitchen WiiM', type: 'linkplay', port: 443, txt: { project: 'WiiM_Pro', devicename: 'Kitchen' } });
    publisher.publish({ name: 'Old Speaker', type: 'linkplay', port: 80, host: 'old-speaker.local', txt: {} });
  });
  after(
    () =>
      new Promise<void>((resolve) => {
        publisher.unpublishAll(() => publisher.destroy(() => resolve()));
      }),
  );

  it('finds LinkPlay devices with name, model, host and port, and releases the socket', async () => {
    const found = await discoverWiim(1500);
    const kitchen = found.find((d) => d.name === 'Kitchen');
    assert.ok(kitchen, `found: ${JSON.stringify(found)}`);
    assert.equal(kitchen.model, 'WiiM_Pro');
    assert.equal(kitchen.port, 443);
    assert.match(kitchen.host, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(mdnsUsers(), 0);
  });

  describe('the editor endpoint', () => {
    before(() => helper.startServer());
    after(() => helper.stopServer());
    afterEach(() => helper.unload());

    it('GET wiim-config/discover lists the devices', async () => {
      await helper.load(wiimConfig as (RED: unknown) => void, withTab([]));
      const res = await helper.request().get('/wiim-config/discover?timeout=1500');
      assert.equal(res.status, 200);
      const devices = (res.body as { devices: Array<{ name: string; model: string }> }).devices;
      assert.ok(
        devices.some((d) => d.name === 'Kitchen' && d.model === 'WiiM_Pro'),
        JSON.stringify(devices),
      );
      assert.equal(mdnsUsers(), 0);
    });
  });
});
