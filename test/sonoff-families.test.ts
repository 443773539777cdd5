import { sonoffSessionOnFakeClock } from './helpers/sonoff-session-fixture';
import assert from 'node:assert/strict';
import net from 'node:net';
import { rejectsWith } from './helpers/assert';
import { FakeClock } from './helpers/fake-clock';
import {
  LIVENESS_MS,
  METER_QUIET_MS,
  METER_RESENDS_MAX,
  SonoffSession,
  type SonoffSessionOptions,
  type SonoffStateEvent,
} from '../src/sessions/sonoff-session';
import { SonoffSimulator, type SonoffSimOptions } from '../src/sim/sonoff-sim';
import { RESET_RETRY_MS, SonoffClient } from '../src/sonoff/client';
import { encodeDimmable, encodeThSwitch } from '../src/sonoff/codec';
import { kindOf, normaliseState, readingsOf, readingsOfState } from '../src/sonoff/state';

const ID = '1000abcdef';

describe('sonoff device families by data', () => {
  it('tells the D1 from the MINIR3 (both diylight) by brightness against switches', () => {
    assert.equal(kindOf({ switch: 'on', brightness: 40, mode: 0 }), 'dimmer');
    assert.equal(kindOf({ switches: [{ outlet: 0, switch: 'on' }] }), undefined);
    const d1 = normaliseState({ switch: 'on', brightness: 40, mode: 0 });
    assert.deepEqual(d1.outlets, [{ outlet: 0, on: true, brightness: 40 }]);
    assert.equal(d1.family, 'single');
  });

  it('a meter by its readings, whatever else the data says (units: sonoff-meter-units.test.ts)', () => {
    assert.equal(kindOf({ switch: 'on', power: '1' }), 'meter');
    assert.equal(kindOf({ switches: [{ outlet: 0, switch: 'on' }], dayKwh: 3 }), 'meter');
  });

  it('reads TH and THR3 readings, ignoring 0 and absurd values', () => {
    assert.deepEqual(readingsOf({ currentTemperature: '21.5', currentHumidity: '45' }), { temperature: 21.5, humidity: 45 });
    assert.deepEqual(readingsOf({ temperature: 19, humidity: 50 }), { temperature: 19, humidity: 50 });
    assert.deepEqual(readingsOf({ currentTemperature: 'unavailable', currentHumidity: 0 }), {});
    assert.deepEqual(readingsOf({ temperature: 0, humidity: 180 }), {});
    assert.deepEqual(readingsOf({ temperature: 2000 }), {});
    assert.equal(kindOf({ switch: 'on', mainSwitch: 'on', deviceType: 'normal' }), 'th');
  });

  it('encodes the dimmer and the TH relay, refusing a brightness the D1 does not take', () => {
    assert.deepEqual(encodeDimmable(55), { endpoint: 'dimmable', data: { switch: 'on', brightness: 55, mode: 0 } });
    for (const bad of [0, 101, 50.5, NaN]) assert.throws(() => encodeDimmable(bad), /brightness must be an integer from 1 to 100/);
    assert.deepEqual(encodeThSwitch(true).data, { switch: 'on', mainSwitch: 'on', deviceType: 'normal' });
  });
});

describe('sonoff sessions for the new families, on the fake clock', () => {
  let sim: SonoffSimulator;
  let session: SonoffSession;
  let clock: FakeClock;
  afterEach(async () => {
    await session?.close();
    await sim?.stop();
  });

  async function setup(simOptions: SonoffSimOptions, options: Partial<SonoffSessionOptions> = {}): Promise<SonoffStateEvent[]> {
    ({ sim, session, clock } = await sonoffSessionOnFakeClock({ ...simOptions, deviceid: ID }, options));
    const seen: SonoffStateEvent[] = [];
    session.on('state', (c) => seen.push(c));
    return seen;
  }

  /** Runs a session call while the fake clock moves past the gaps between requests. */
  async function settled<T>(call: Promise<T>): Promise<T> {
    await clock.advance(1000);
    return call;
  }

  it('dimmer: brightness through dimmable, 0 through switch off, over encrypted LAN mode', async () => {
    await setup({ model: 'd1', devicekey: 'k' }, { devicekey: 'k' });
    const snap = await settled(session.setBrightness(30));
    assert.deepEqual([snap.state.on, snap.state.brightness], [true, 30]);
    assert.equal(sim.brightness, 30);
    const off = await settled(session.setBrightness(0));
    assert.equal(off.state.on, false);
    assert.equal(sim.outlets[0].on, false);
    assert.deepEqual(
      sim.requests.map((r) => r.endpoint),
      ['getState', 'dimmable', 'switch'],
    );
    await rejectsWith(session.setBrightness(101), 'argument', /1 to 100/);
  });

  it('TH: the relay is switched with mainSwitch and deviceType, and readings arrive as a readings change', async () => {
    const seen = await setup({ model: 'th' });
    await settled(session.setSwitch(0, true));
    assert.equal(sim.outlets[0].on, true);
    const readings = seen.filter((c) => c.changed.includes('temperature'));
    assert.deepEqual(readingsOfState(readings[0].state), { temperature: 21.5, humidity: 45 });
  });

  it('liveness: a silent relay is pinged after a minute, goes offline after offlineAfter failures, and comes back', async () => {
    await setup({}, { offlineAfter: 2, backoffMinMs: 1000, backoffMaxMs: 1000 });
    session.register({});
    await clock.idle();
    assert.equal(session.health, 'online');
    const n = sim.requests.length;
    await clock.advance(LIVENESS_MS - 1000);
    assert.equal(sim.requests.length, n, 'nothing while the relay was heard recently');
    await clock.advance(1000);
    assert.equal(sim.requests.length, n + 1, 'one ping');
    assert.equal(sim.requests.at(-1)?.endpoint, 'info');
    await sim.setOffline(true);
    await clock.advance(LIVENESS_MS);
    await clock.advance(1000);
    assert.equal(session.health, 'offline');
    await sim.setOffline(false);
    await clock.advance(1000);
    await clock.advance(1000);
    assert.equal(session.health, 'online');
  });

  it('meters: sledonline is resent with the LED state when no reading came, at most a few times in a row', async () => {
    await setup({ model: 'powr2' });
    session.register({});
    await clock.idle();
    assert.equal(session.kind, 'meter');
    await clock.advance(METER_QUIET_MS * (METER_RESENDS_MAX + 3));
    const resends = sim.requestsTo('sledonline');
    assert.equal(resends.length, METER_RESENDS_MAX);
    assert.deepEqual(resends[0].body, { deviceid: ID, data: { sledOnline: 'on' } });
  });

  it('meters polled as often as the quiet time: no resend races a poll that brings a reading; resends once the readings stop', async () => {
    await setup({ model: 'powr3' }, { pollInterval: METER_QUIET_MS / 1000 });
    // the first read half a second before a poll tick: the quiet time then runs out just before the next poll, and later on the tick of each poll
    await clock.advance(METER_QUIET_MS - 500 - (clock.now() % METER_QUIET_MS));
    session.register({});
    await clock.idle();
    assert.equal(session.kind, 'meter');
    for (let i = 0; i < 6; i++) {
      sim.stepReadings();
      await clock.advance(METER_QUIET_MS);
    }
    assert.ok(sim.requestsTo('info').length >= 6, 'polled all along');
    assert.deepEqual(sim.requestsTo('sledonline'), [], 'every poll brought a new reading');
    await clock.advance(METER_QUIET_MS * (METER_RESENDS_MAX + 2));
    const resends = sim.requestsTo('sledonline').length;
    assert.ok(resends >= 1 && resends <= METER_RESENDS_MAX, `${resends} resends once the readings stopped`);
  });

  it('meters: the model set to powr3 reads hundredths whatever the data shows; auto reads the POWR2 as it sends', async () => {
    await setup({ model: 'powr2' }, { model: 'powr3' });
    const forced = await settled(session.refresh());
    assert.deepEqual([forced.power, forced.voltage, forced.meterUnits, session.kind], [0.13, 2.3, 'powr3', 'meter']);
    await session.close();
    await sim.stop();
    await setup({ model: 'powr2' });
    const auto = await settled(session.refresh());
    assert.deepEqual([auto.power, auto.voltage, auto.meterUnits, session.kind], [12.5, 230.1, 'powr2', 'meter']);
  });

  it('multi-channel power-on state sends the whole configure list with the others kept', async () => {
    await setup({ multi: true });
    sim.outlets[2].startup = 'on';
    await settled(session.setStartup(1, 'stay'));
    assert.deepEqual(sim.requestsTo('startups')[0].body, {
      deviceid: ID,
      data: {
        configure: [
          { startup: 'off', outlet: 0 },
          { startup: 'stay', outlet: 1 },
          { startup: 'on', outlet: 2 },
          { startup: 'off', outlet: 3 },
        ],
      },
    });
    assert.deepEqual(
      sim.outlets.map((o) => o.startup),
      ['off', 'stay', 'on', 'off'],
    );
  });

  it('turning inching off sends no width, on either family', async () => {
    await setup({ multi: true });
    await settled(session.setPulse(1, { pulse: true, width: 1500 }));
    await settled(session.setPulse(1, { pulse: false }));
    assert.deepEqual(sim.requestsTo('pulses')[1].body, { deviceid: ID, data: { pulses: [{ pulse: 'off', switch: 'off', outlet: 1 }] } });
    assert.equal(sim.outlets[1].pulseWidth, 1500);
  });

  it('the LED: sledOnline is read with the state and set with sledonline', async () => {
    await setup({});
    const snap = await settled(session.setLed(false));
    assert.equal(snap.device.led, false);
    assert.equal(sim.sledOnline, 'off');
    const state = await settled(session.refresh());
    assert.equal(state.led, false);
  });
});

describe('sonoff client: requests the device reset before answering', () => {
  let sim: SonoffSimulator;
  let client: SonoffClient;
  afterEach(async () => {
    await client?.close();
    await sim?.stop();
  });

  it('the deviceid-drop firmware: retried with an empty deviceid, and remembered', async () => {
    sim = new SonoffSimulator({ deviceid: ID, dropOnDeviceid: true, requireDeviceid: false });
    const { host, port } = await sim.start();
    client = new SonoffClient({ host, port, deviceid: ID, timeoutMs: 2000 });
    await client.switch(true);
    assert.equal(sim.outlets[0].on, true);
    assert.equal(client.blankDeviceid, true);
    const before = sim.requests.length;
    await client.switch(false);
    assert.equal(sim.requests.length, before + 1, 'straight to the empty deviceid');
    assert.deepEqual(sim.requests.at(-1)?.body, { deviceid: '', data: { switch: 'off' } });
  });

  it('(real time) a request reset while another connection holds the device is sent again and goes through', async () => {
    sim = new SonoffSimulator({ deviceid: ID, oneConnection: true });
    const { host, port } = await sim.start();
    client = new SonoffClient({ host, port, deviceid: ID, timeoutMs: 2000 });
    // another controller holds the only connection for a moment
    const other = net.connect(port, host);
    await new Promise((r) => other.once('connect', r));
    setTimeout(() => other.destroy(), RESET_RETRY_MS);
    await client.switch(true);
    assert.equal(sim.outlets[0].on, true);
    assert.ok(sim.connectionsRefused >= 1);
    assert.equal(client.blankDeviceid, false, 'a busy device is no reason to drop the deviceid');
  });
});
