import assert from 'node:assert/strict';
import net from 'node:net';
import { request } from 'undici';
import { parseCli } from '../src/sim/cli';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

const ID = '1000abcdef';

/** A raw request, as a device client would send it, without the code under test. */
async function post(sim: SonoffSimulator, endpoint: string, data: Record<string, unknown>, deviceid = ID): Promise<Record<string, unknown>> {
  const res = await request(`${sim.url}/zeroconf/${endpoint}`, {
    method: 'POST',
    body: JSON.stringify({ deviceid, data }),
    headers: { 'content-type': 'application/json' },
  });
  return (await res.body.json()) as Record<string, unknown>;
}

describe('sonoff simulator: D1, meters, TH and real-device quirks (raw HTTP)', () => {
  let sim: SonoffSimulator;
  afterEach(async () => sim?.stop());

  it('D1: dimmable takes switch "on" and brightness 1..100, else error 400; it reports brightness, not switches', async () => {
    sim = new SonoffSimulator({ deviceid: ID, model: 'd1', type: 'diylight' });
    await sim.start();
    assert.equal((await post(sim, 'dimmable', { switch: 'on', brightness: 70, mode: 0 })).error, 0);
    for (const bad of [
      { switch: 'on', brightness: 101, mode: 0 },
      { switch: 'on', brightness: 0, mode: 0 },
      { switch: 'off', brightness: 50, mode: 0 },
    ])
      assert.equal((await post(sim, 'dimmable', bad)).error, 400);
    const info = (await post(sim, 'info', {})).data as Record<string, unknown>;
    assert.equal(info.brightness, 70);
    assert.equal(info.switch, 'on');
    assert.equal(info.switches, undefined);
  });

  it('TH: the relay takes switch only with mainSwitch and deviceType "normal"; readings as strings', async () => {
    sim = new SonoffSimulator({ deviceid: ID, model: 'th' });
    await sim.start();
    assert.equal((await post(sim, 'switch', { switch: 'on' })).error, 422);
    assert.equal((await post(sim, 'switch', { switch: 'on', mainSwitch: 'on', deviceType: 'normal' })).error, 0);
    const info = (await post(sim, 'info', {})).data as Record<string, unknown>;
    assert.equal(info.currentTemperature, '21.5');
    assert.equal(info.currentHumidity, '45');
  });

  it('meters push readings only while active, and sledonline makes them active', async () => {
    sim = new SonoffSimulator({ deviceid: ID, model: 'powr3' });
    await sim.start();
    const before = sim.pushes;
    sim.stepReadings();
    assert.equal(sim.pushes, before);
    assert.equal((await post(sim, 'sledonline', { sledOnline: 'on' })).error, 0);
    const active = sim.pushes;
    sim.stepReadings();
    assert.equal(sim.pushes, active + 1);
    const info = (await post(sim, 'info', {})).data as Record<string, unknown>;
    assert.equal(typeof info.power, 'number');
    assert.equal(typeof info.dayKwh, 'number');
  });

  it('POWR2 reports its alarm limits and W, V and A as plain numbers, and announces itself as enhanced_plug', async () => {
    sim = new SonoffSimulator({ deviceid: ID, model: 'powr2' });
    await sim.start();
    const info = (await post(sim, 'info', {})).data as Record<string, unknown>;
    assert.deepEqual([info.power, info.voltage, info.current, info.alarmVValue], [12.5, 230.1, 0.05, [-1, -1]]);
    assert.ok(sim.txtEntries().includes('type=enhanced_plug'));
  });

  it('the deviceid-drop firmware closes the connection without an answer when the deviceid is filled in', async () => {
    sim = new SonoffSimulator({ deviceid: ID, dropOnDeviceid: true, requireDeviceid: false });
    await sim.start();
    await assert.rejects(post(sim, 'switch', { switch: 'on' }));
    assert.equal((await post(sim, 'switch', { switch: 'on' }, '')).error, 0);
  });

  it('one connection at a time: a second connection is reset while the first is open', async () => {
    sim = new SonoffSimulator({ deviceid: ID, oneConnection: true });
    await sim.start();
    const first = net.connect(sim.port, '127.0.0.1');
    await new Promise((r) => first.once('connect', r));
    await new Promise((r) => setImmediate(r));
    await assert.rejects(post(sim, 'info', {}));
    assert.equal(sim.connectionsRefused, 1);
    first.destroy();
  });

  it('the CLI takes --model, --devicekey, --drop-deviceid and --one-connection', () => {
    assert.deepEqual(parseCli(['sonoff', '--model', 'th', '--devicekey', 'k', '--drop-deviceid', '--one-connection']), {
      family: 'sonoff',
      port: 8081,
      host: '127.0.0.1',
      deviceid: '1000abcdef',
      multi: false,
      mdns: false,
      model: 'th',
      devicekey: 'k',
      dropDeviceid: true,
      oneConnection: true,
    });
    assert.throws(() => parseCli(['sonoff', '--model', 'toaster']), /--model must be one of/);
    assert.throws(() => parseCli(['wiim', '--devicekey', 'k']), /not an option of wiim/);
  });
});
