import { sonoffSessionOnFakeClock } from './helpers/sonoff-session-fixture';
import assert from 'node:assert/strict';
import { rejectsWith } from './helpers/assert';
import { FakeClock } from './helpers/fake-clock';
import { recordReleases } from './helpers/releases';
import { until } from './helpers/wait';
import { SonoffSession, type SonoffSessionOptions, type SonoffStateEvent } from '../src/sessions/sonoff-session';
import { flashImage, flashUrl } from '../src/sessions/sonoff-flash';
import { SonoffSimulator, makeFirmwareImage } from '../src/sim/sonoff-sim';
import { RESET_RETRIES } from '../src/sonoff/client';
import type { StartupValue } from '../src/sonoff/state';
import { sha256 } from '../src/sonoff/ota';

const ID = '1000abcdef';
/** The relay's least gap between requests (SONOFF DIY API). */
const GAP_MS = 200;

describe('sonoff session against the simulator', () => {
  let sim: SonoffSimulator;
  let session: SonoffSession;
  let clock: FakeClock;
  afterEach(async () => {
    await session?.close();
    await sim?.stop();
  });

  /** A relay and a session on the fake clock; time waits for requests on the wire. */
  async function setup(multi: boolean, options: Partial<SonoffSessionOptions> = {}): Promise<void> {
    ({ sim, session, clock } = await sonoffSessionOnFakeClock({ deviceid: ID, multi }, options));
  }

  /** A relay polled every `pollInterval` s (0: none) and its first read, at once; the releases of its connection from then on. */
  async function releasesFromFirstRead(pollInterval: number): Promise<boolean[]> {
    await setup(false, { pollInterval });
    const released = recordReleases(session.client);
    session.register({});
    await clock.idle();
    assert.equal(sim.requestsTo('info').length, 1, 'a first read at once');
    return released;
  }

  /** Moves the clock on a second at a time, `seconds` times: when (ms from now) requests reached the relay. */
  async function requestTimes(seconds: number): Promise<number[]> {
    const sentAt: number[] = [];
    const start = clock.now();
    for (let s = 0; s < seconds; s++) {
      const before = sim.requests.length;
      await clock.advance(1000);
      if (sim.requests.length > before) sentAt.push(clock.now() - start);
    }
    return sentAt;
  }

  function changes(): SonoffStateEvent[] {
    const out: SonoffStateEvent[] = [];
    session.on('state', (c) => out.push(c));
    return out;
  }

  it('leaves the gap between requests to one device: the next goes out when the clock has moved 200 ms', async () => {
    await setup(false);
    const all = Promise.all([
      session.setSwitch(0, true),
      session.setStartup(0, 'on'),
      session.signalStrength(),
      session.refresh(),
      session.setPulse(0, { pulse: true, width: 1000 }),
    ]);
    await clock.idle();
    assert.deepEqual(
      sim.requests.map((r) => r.endpoint),
      ['info'],
      'the first info learns the family',
    );
    for (let sent = 1; sent < 6; sent++) {
      await clock.advance(GAP_MS - 1);
      assert.equal(sim.requests.length, sent, 'nothing before the gap is over');
      await clock.advance(1);
      assert.equal(sim.requests.length, sent + 1);
    }
    await all;
    assert.deepEqual(sim.requests.map((r) => r.endpoint).sort(), ['info', 'info', 'pulse', 'signal_strength', 'startup', 'switch']);
  });

  it('(real time) keeps one connection for requests 200 ms apart to a relay that keeps idle ones for 2 s', async () => {
    sim = new SonoffSimulator({ deviceid: ID });
    const { port } = await sim.start();
    session = new SonoffSession({ deviceid: ID, host: '127.0.0.1', port, model: 'auto', pollInterval: 0 });
    await session.setSwitch(0, true);
    await session.setSwitch(0, false);
    await session.signalStrength();
    assert.equal(sim.requests.length, 4); // the first info learns the family
    assert.equal(sim.connectionsAccepted, 1);
  });

  it('polls every pollInterval on the fake clock, and lets the connection go right after each poll', async () => {
    const released = await releasesFromFirstRead(2);
    for (let poll = 2; poll <= 6; poll++) {
      const before = released.length;
      await clock.advance(2000);
      assert.equal(sim.requestsTo('info').length, poll);
      assert.ok(released.length > before, `released after poll ${poll}: the next is 2 s away`);
    }
    assert.ok(
      released.every((keep) => keep),
      'each release keeps the undici Client: the next read is 2 s away',
    );
    await until(() => sim.openConnections === 0, 'no connection open after the poll');
  });

  it('lets the undici Client go with the connection when the next read is a minute away (a relay heard through mDNS)', async () => {
    const released = await releasesFromFirstRead(0);
    assert.deepEqual(released, [false], 'released after the first read, Client and all');
    await until(() => sim.openConnections === 0, 'no connection open after the read');
  });

  it('a poll that answers the bytes of an earlier one still reports the change back after a command in between', async () => {
    await setup(false, { pollInterval: 2 });
    const seen = changes();
    session.register({});
    await clock.idle();
    await clock.advance(2000);
    assert.equal(session.outletState(0)?.on, false);
    const seq = sim.seq;
    await clock.drive(session.setSwitch(0, true));
    assert.equal(session.outletState(0)?.on, true);
    // someone switched it back at the relay, and it answers exactly as before our command
    sim.outlets[0].on = false;
    sim.seq = seq;
    const polls = sim.requestsTo('info').length;
    await clock.advance(2000);
    assert.equal(sim.requestsTo('info').length, polls + 1);
    assert.equal(session.outletState(0)?.on, false);
    assert.deepEqual(
      // after the first state: the events that switched outlet 0
      seen
        .slice(1)
        .filter((c) => c.changed.includes('outlets.0.on'))
        .map((c) => [c.state.outlets[0].on, c.source]),
      [
        [true, 'command'],
        [false, 'poll'],
      ],
    );
  });

  it('coalesces a burst of switch commands: fewer requests, the last value wins, every caller gets the confirmed state', async () => {
    await setup(true);
    await session.refresh();
    sim.requests.length = 0;
    await clock.advance(GAP_MS); // past the gap: the first command goes out at once
    const values = [true, false, true, false, true, true, false, true, false, false];
    const burst = Promise.all(values.map((v) => session.setSwitch(1, v)));
    await clock.advance(GAP_MS);
    const results = await burst;
    assert.equal(sim.requestsTo('switches').length, 2);
    assert.equal(sim.outlets[1].on, false);
    // the first ran alone; every later caller was folded into the last command
    assert.equal(results[0].state.on, true);
    for (const r of results.slice(1)) assert.equal(r.state.on, false);
    assert.ok(results.every((r) => r.source === 'command' && r.outlet === 1));
  });

  it('refuses bad arguments and sends nothing', async () => {
    await setup(false);
    await session.refresh();
    const before = sim.requests.length;
    await rejectsWith(session.setSwitch(1, true), 'argument', /outlet/);
    await rejectsWith(session.setSwitch(0.5, true), 'argument', /outlet/);
    await rejectsWith(session.setPulse(0, { pulse: true, width: 750 }), 'argument', /multiple of 500/);
    await rejectsWith(session.setPulse(0, { pulse: true, width: 3_600_500 }), 'argument');
    // a value a typed caller should not have, refused all the same
    await rejectsWith(session.setStartup(0, 'later' as StartupValue), 'argument');
    await rejectsWith(session.setWifi('', 'pw'), 'argument');
    await rejectsWith(flashUrl(session, 'ftp://x/y', 'a'.repeat(64)), 'argument');
    await rejectsWith(flashUrl(session, 'http://127.0.0.1/fw.bin', 'xyz'), 'argument');
    assert.equal(sim.requests.length, before);
  });

  it('refuses what no relay takes before it even reads the family of an unknown device', async () => {
    await setup(true);
    await rejectsWith(session.setPulse(0, { pulse: true, width: 700 }), 'argument', /multiple of 500/);
    await rejectsWith(session.setPulse(0, { pulse: true, width: -500 }), 'argument');
    await rejectsWith(session.setSwitch(7, true), 'argument', /outlet/);
    await rejectsWith(session.toggle(-1), 'argument', /outlet/);
    await rejectsWith(session.setStartup(0, 'sometimes' as StartupValue), 'argument');
    assert.equal(sim.requests.length, 0, 'not even an info read went out');
    // a width only a single-channel relay takes is checked once the family is known
    await rejectsWith(session.setPulse(0, { pulse: true, width: 3_600_000 }), 'argument', /3599500/);
    assert.deepEqual(
      sim.requests.map((r) => r.endpoint),
      ['info'],
    );
  });

  it('refresh() reads the device as it reports itself now, source refresh; snapshot() answers with the last known state', async () => {
    await setup(true);
    const seen = changes();
    sim.outlets[2].on = true;
    await session.refresh();
    const snap = session.snapshot(2, 'refresh');
    assert.equal(snap.outlet, 2);
    assert.equal(snap.state.on, true);
    assert.equal(snap.source, 'refresh');
    assert.equal(snap.device.family, 'multi');
    // one event for the device, naming each outlet's fields
    assert.equal(seen.length, 1);
    assert.equal(seen[0].source, 'refresh');
    assert.ok(seen[0].changed.includes('outlets.2.on') && seen[0].changed.includes('outlets.0.on'), seen[0].changed.join());
    sim.outlets[2].on = false; // not read yet
    assert.deepEqual(session.snapshot(2, 'poll'), { ...snap, source: 'poll' });
    assert.deepEqual(session.snapshot(9, 'poll').state, { outlet: 9 }, 'an outlet it does not know');
  });

  it('polls info, emits changes naming the outlet fields with source poll, and follows pulse timers', async () => {
    await setup(true, { pollInterval: 0.25 });
    session.register({});
    await clock.idle();
    const seen = changes();
    sim.pressButton(2);
    await clock.advance(250);
    assert.deepEqual(
      seen.map((c) => [c.changed, c.state.outlets[2].on, c.source]),
      [[['outlets.2.on'], true, 'poll']],
    );
    await clock.advance(GAP_MS);
    await session.setPulse(3, { pulse: true, width: 500 });
    const on = session.setSwitch(3, true);
    await clock.advance(GAP_MS);
    await on;
    // the relay switches back by itself (on its own, real, timer); the next poll sees it
    await until(() => sim.outlets[3].on === false, 'the pulse to end');
    await clock.advance(250);
    const last = seen.at(-1);
    assert.deepEqual(last && [last.changed, last.state.outlets[3].on, last.source], [['outlets.3.on'], false, 'poll']);
  });

  it('goes offline after failed reads, fails commands at once, probes with growing backoff, and comes back', async () => {
    await setup(false, { pollInterval: 1, backoffMinMs: 1000, backoffMaxMs: 8000, offlineAfter: 3 });
    session.register({});
    await clock.idle();
    assert.equal(session.health, 'online');
    const health: string[] = [];
    session.on('health', (h) => health.push(h));
    sim.faults.drop = true; // the relay reads each request and hangs up: every read fails, and the log shows it
    // polls at 1, 2 and 4 s: after a failure the next waits the backoff delay (1, then 2 s), or the interval if longer
    await clock.advance(3000);
    assert.deepEqual(health, [], 'two failures are not yet offline');
    await clock.advance(1000);
    assert.deepEqual(health, ['offline']);
    const n = sim.requests.length;
    await rejectsWith(session.setSwitch(0, true), 'offline', /is offline/);
    assert.equal(sim.requests.length, n, 'nothing was sent');
    // while offline the regular polls pause; the probes come after 4, 8 and 8 s (the cap)
    assert.deepEqual(await requestTimes(20), [4000, 12_000, 20_000]);
    // each probe is one read, sent again after each reset (RESET_RETRIES) and once with an empty deviceid
    assert.deepEqual(
      sim.requests.slice(n).map((r) => r.endpoint),
      Array<string>(3 * (1 + RESET_RETRIES + 1)).fill('info'),
    );
    sim.faults.drop = false;
    await clock.advance(8000);
    assert.deepEqual(health, ['offline', 'online']);
    await clock.advance(1000); // the poll due with the probe waited for the gap
    const polls = sim.requestsTo('info').length;
    await clock.advance(3000);
    assert.equal(sim.requestsTo('info').length, polls + 3, 'regular polls again');
    await clock.advance(GAP_MS);
    const snap = await session.setSwitch(0, true);
    assert.equal(snap.state.on, true);
  });

  for (const fault of ['garbage', 'http400', 'oversize', 'redirect', 'deepJson'] as const) {
    it(`a relay that answers only garbage (${fault}) is faulty, never online, polled with backoff, and online at the first good reply`, async () => {
      await setup(false, { pollInterval: 1, backoffMinMs: 1000, backoffMaxMs: 8000, offlineAfter: 3 });
      sim.faults[fault] = true;
      const health: string[] = [];
      session.on('health', (h) => health.push(h));
      session.register({});
      // the first read at once, then each poll after the backoff delay of the bad replies so far: 1, 2, 4 and 8 s (the cap)
      assert.deepEqual(await requestTimes(40), [1000, 3000, 7000, 15_000, 23_000, 31_000, 39_000]);
      assert.equal(sim.requests.length, 8, 'the first read and seven polls');
      assert.deepEqual(health, ['faulty']);
      assert.equal(session.lastError?.kind, 'protocol');
      sim.faults[fault] = false;
      await clock.advance(8000);
      assert.deepEqual(health, ['faulty', 'online']);
      const polls = sim.requests.length;
      await clock.advance(3000);
      assert.equal(sim.requests.length, polls + 3, 'polls a second apart again');
    });
  }

  it('flashes an image through the queue: info, ota_unlock, ota_flash, and reads the new version', async () => {
    sim = new SonoffSimulator({ deviceid: ID });
    const { port } = await sim.start();
    session = new SonoffSession({ deviceid: ID, host: '127.0.0.1', port, model: 'auto', pollInterval: 0 });
    const image = makeFirmwareImage(64 * 1024);
    const percents: number[] = [];
    const result = await flashImage(session, image, { onProgress: (p) => percents.push(p) });
    assert.equal(result.status, 'done');
    assert.equal(result.bytes, image.length);
    assert.equal(result.sha256, sha256(image));
    assert.equal(percents.at(-1), 100);
    assert.deepEqual(
      sim.requests.map((r) => r.endpoint),
      ['info', 'ota_unlock', 'ota_flash', 'info'],
    );
    assert.deepEqual(
      sim.flashes.map((f) => f.sha256),
      [sha256(image)],
    );
  });
});
