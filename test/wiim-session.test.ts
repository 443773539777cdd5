import assert from 'node:assert/strict';
import { rejectsWith } from './helpers/assert';
import { wiimSessionFixture } from './helpers/wiim-session-fixture';
import { recordReleases } from './helpers/releases';
import { until } from './helpers/wait';
import { prepareCommand } from '../src/wiim/commands';
import { commandRequest } from '../src/contract/wiim-values';
import { WiimSession, type WiimStateEvent } from '../src/sessions/wiim-session';
import { PollGate } from '../src/sessions/poll-gate';
import { KEEP_ALIVE_MS } from '../src/shared/http';

/** A command as wiim-command sends it: checked by prepareCommand first. */
const command = (session: WiimSession, name: string, value?: unknown) => session.command(prepareCommand(commandRequest(name, value)));

describe('wiim session against the simulator', function () {
  this.timeout(20000);
  const fx = wiimSessionFixture('Test Room');
  const { sim, sessions } = fx;
  const open = fx.open;

  function events(session: WiimSession): WiimStateEvent[] {
    const out: WiimStateEvent[] = [];
    session.on('state', (e) => out.push(e));
    return out;
  }

  it('coalesces volume commands: fewer requests, the latest wins, every caller is answered', async () => {
    sim.faults.latencyMs = 50;
    const session = open();
    const results = await Promise.all([10, 20, 30, 40, 50].map((v) => command(session, 'volume', v)));
    assert.equal(sim.count('setPlayerCmd:vol'), 2);
    assert.equal(sim.state.volume, 50);
    assert.deepEqual(
      results.map((r) => r.payload),
      [10, 50, 50, 50, 50],
    );
    await session.close();
    await rejectsWith(command(session, 'pause'), 'closed');
  });

  it('polls a playing device every pollPlayingMs and an idle one every pollIdleMs, on the multiples of the interval', async () => {
    sim.state.status = 'stop';
    const session = open({ pollPlayingMs: 1000, pollIdleMs: 5000 });
    const seen = events(session);
    const polls = () => sim.count('getPlayerStatus');
    session.register({});
    await fx.clock.tick();
    assert.equal(polls(), 1, 'the first poll at once');
    assert.equal(seen[0].source, 'poll');
    assert.equal((fx.clock.nextAt as number) % 5000, 0, 'the next poll on a multiple of the idle interval');
    await fx.clock.advance(20_000);
    assert.equal(polls(), 5);
    sim.state.status = 'play';
    await fx.clock.tick(); // this poll finds it playing
    const n = polls();
    await fx.clock.advance(10_000);
    assert.equal(polls(), n + 10, 'every second while playing');
    assert.equal(seen.at(-1)?.state.state, 'playing');
  });

  it('reads the follower list, output and EQ preset at most once a minute, however often it polls; at once after an EQ command', async () => {
    sim.state.status = 'play';
    const session = open({ pollPlayingMs: 1000, pollIdleMs: 5000 });
    const extras = () => [sim.count('multiroom:getSlaveList'), sim.count('getNewAudioOutputHardwareMode'), sim.count('EQGetBand')];
    session.register({});
    await fx.clock.tick();
    assert.deepEqual(extras(), [1, 1, 1], 'read with the first poll');
    const polls = sim.count('getPlayerStatus');
    await fx.clock.advance(50_000);
    assert.ok(sim.count('getPlayerStatus') >= polls + 49, 'polled every second');
    assert.deepEqual(extras(), [1, 1, 1], 'not every sixth poll (6 s) of a playing device');
    await fx.clock.advance(15_000);
    assert.deepEqual(extras(), [2, 2, 2], 'once the minute is over');
    await command(session, 'eq', 'Rock');
    await fx.clock.idle(); // the re-poll that confirms the command
    assert.deepEqual(extras().slice(1), [3, 3], 'the output and EQ preset read again after an EQ command');
    assert.equal(session.state?.eqPreset, 'Rock');
  });

  it('stops polling when the last user leaves: the clock moves on, and nothing reaches the device', async () => {
    const session = open({ pollPlayingMs: 1000, pollIdleMs: 1000 });
    const user = {};
    session.register(user);
    await fx.clock.advance(3000);
    const n = sim.requests.length;
    assert.ok(n > 0);
    session.deregister(user);
    await fx.clock.advance(60_000);
    assert.equal(sim.requests.length, n);
    assert.equal(fx.clock.pending, 0, 'no timer left');
  });

  it('names the source of each state: poll, refresh (a message asked), command', async () => {
    sim.state.status = 'stop';
    const session = open({ pollIdleMs: 5000 });
    const seen = events(session);
    session.register({});
    await fx.clock.tick();
    const requester = {};
    const refreshed = await session.refresh(requester);
    assert.equal(refreshed.source, 'refresh');
    assert.ok(refreshed.requesters?.has(requester));
    await command(session, 'volume', 44);
    await fx.clock.idle(); // the re-poll that confirms the command
    assert.deepEqual(
      seen.map((e) => e.source),
      ['poll', 'refresh', 'command', 'poll'],
      'the command updates the state at once, and the re-poll confirms it',
    );
    assert.equal(seen.at(-1)?.state.volume, 44);
  });

  it('a regular poll waits for a slot in the poll gate; a refresh asked for by a node does not', async () => {
    sim.state.status = 'stop';
    const gate = new PollGate(1, 60_000, fx.clock);
    let endOther!: () => void;
    const other = gate.run(() => new Promise<void>((resolve) => (endOther = resolve))); // another device's poll holds the only slot
    const session = open({ pollGate: gate });
    session.register({});
    await fx.clock.tick();
    assert.deepEqual(gate.load, { running: 1, waiting: 1 }, 'the first poll at the gate');
    assert.equal(sim.count('getPlayerStatus'), 0, 'the first poll waits for the slot');
    await session.refresh();
    assert.equal(sim.count('getPlayerStatus'), 1);
    endOther();
    await other;
    await until(() => sim.count('getPlayerStatus') === 2, 'the poll after the slot was freed');
    await fx.clock.idle();
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('an idle device that answers as before gives the same state and raw objects; a change gives new ones', async () => {
    sim.state.status = 'stop';
    const session = open();
    await session.refresh(); // the first read also reads the follower list
    const a = await session.refresh();
    const b = await session.refresh();
    assert.equal(b.state, a.state, 'the same state object');
    assert.equal(b.raw, a.raw, 'the same raw replies');
    assert.deepEqual(b.changed, []);
    sim.state.volume = 41;
    const c = await session.refresh();
    assert.notEqual(c.state, a.state);
    assert.notEqual(c.raw.player, a.raw.player);
    assert.deepEqual(c.changed, ['volume']);
    assert.equal(c.state.volume, 41);
    assert.equal(a.state.volume, 30, 'the earlier state object is left as it was');
  });

  it('a playing device keeps one connection across its polls; an idle one lets it go right after each poll', async () => {
    sim.state.status = 'play';
    // a keep-alive far longer than the test: a connection that goes was let go by the session
    const session = open({ pollPlayingMs: 1000, pollIdleMs: 8000, keepAliveMs: 600_000 });
    const seen = events(session);
    const before = sim.connectionsAccepted;
    session.register({});
    await fx.clock.tick();
    assert.ok((fx.clock.nextIn as number) < KEEP_ALIVE_MS, 'the next poll falls within the keep-alive');
    await fx.clock.tick();
    await fx.clock.tick();
    assert.equal(seen.length, 3);
    assert.equal(sim.connectionsAccepted - before, 1, 'the polls share one connection');
    assert.equal(sim.openConnections, 1);
    sim.state.status = 'stop';
    await fx.clock.tick();
    assert.equal(seen.at(-1)?.state.state, 'stopped');
    assert.ok((fx.clock.nextIn as number) > KEEP_ALIVE_MS);
    await until(() => sim.openConnections === 0, 'the idle device to have no connection open after its poll');
  });

  it('an idle device read every few seconds keeps its undici Client between polls; one read a minute apart does not', async () => {
    sim.state.status = 'stop';
    for (const [pollIdleMs, kept] of [
      [5000, true],
      [60_000, false],
    ] as const) {
      const session = open({ pollPlayingMs: 1000, pollIdleMs, events: 'off' });
      const released = recordReleases(session.client);
      session.register({});
      await fx.clock.tick();
      await fx.clock.tick();
      assert.ok(released.length >= 2, `released after each poll (every ${pollIdleMs} ms)`);
      assert.ok(
        released.every((keep) => keep === kept),
        `polled every ${pollIdleMs} ms: the Client ${kept ? 'stays' : 'goes'} (${released.join(', ')})`,
      );
      await session.close();
    }
  });

  it('commands a moment apart share one connection, though the re-poll after each finds the device idle', async () => {
    const session = open({ pollPlayingMs: 1000, pollIdleMs: 3000, keepAliveMs: 600_000 });
    session.register({});
    await fx.clock.tick();
    await until(() => sim.openConnections === 0, 'the first poll to let its connection go');
    const before = sim.connectionsAccepted;
    for (const volume of [10, 20, 30]) {
      await command(session, 'volume', volume);
      await fx.clock.advance(100); // a slider moved by hand
    }
    assert.equal(sim.state.volume, 30);
    assert.equal(sim.count('getPlayerStatus'), 4, 'each command was confirmed by a re-poll');
    assert.equal(sim.connectionsAccepted - before, 1);
  });

  it('goes offline after failed polls with growing backoff, fails commands at once, probes, and comes back', async () => {
    sim.state.status = 'stop';
    // polling alone: the UPnP subscription's own timers are tested in wiim-events.test.ts
    const session = open({ pollPlayingMs: 1000, pollIdleMs: 1000, backoffMinMs: 1000, backoffMaxMs: 8000, offlineAfter: 3, events: 'off' });
    const seen = events(session);
    const health: string[] = [];
    session.on('health', (h) => health.push(h));
    session.register({});
    await fx.clock.tick();
    assert.equal(session.health, 'online');
    await sim.stop();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      await fx.clock.tick();
      delays.push(fx.clock.nextIn as number);
    }
    // two failed polls retried after 1 and 2 s; the third makes it offline, and the probes back off to the cap
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000]);
    assert.deepEqual(health, ['online', 'offline']);
    const offline = seen.at(-1) as WiimStateEvent;
    assert.equal(offline.state.online, false);
    assert.equal(offline.source, 'poll');
    assert.deepEqual(offline.changed, ['online']);
    assert.equal(offline.state.volume, 30, 'the last known state goes with it');
    await sim.start({ port: fx.port });
    const n = sim.requests.length;
    await rejectsWith(command(session, 'volume', 20), 'offline', /is offline/);
    assert.equal(sim.requests.length, n, 'nothing was sent');
    await fx.clock.tick();
    assert.deepEqual(health, ['online', 'offline', 'online']);
    assert.equal(seen.at(-1)?.state.online, true);
    assert.ok((fx.clock.nextIn as number) <= 1250, 'regular polls again');
    assert.equal((await command(session, 'volume', 20)).payload, 20);
  });

  for (const fault of ['garbage', 'http400', 'http500', 'oversize', 'redirect', 'deepJson'] as const) {
    it(`a device that answers only garbage (${fault}) is faulty, never online, polled with growing backoff, and online at the first good reply`, async () => {
      sim.state.status = 'stop';
      sim.faults[fault] = true;
      // polling alone: the UPnP subscription's own timers are tested in wiim-events.test.ts
      const session = open({ pollPlayingMs: 1000, pollIdleMs: 1000, backoffMinMs: 1000, backoffMaxMs: 8000, offlineAfter: 3, events: 'off' });
      const health: string[] = [];
      session.on('health', (h) => health.push(h));
      session.register({});
      const delays: number[] = [];
      for (let i = 0; i < 6; i++) {
        await fx.clock.tick();
        delays.push(fx.clock.nextIn as number);
      }
      assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000, 8000]);
      assert.equal(sim.count('getPlayerStatus'), 6);
      assert.deepEqual(health, ['faulty']);
      assert.equal(session.state?.online, undefined, 'no state from garbage');
      // a command still goes out (the device may take it), and its unreadable reply says so
      await rejectsWith(command(session, 'volume', 20), 'protocol');
      sim.faults[fault] = false;
      await fx.clock.tick();
      assert.deepEqual(health, ['faulty', 'online']);
      assert.equal(session.state?.online, true);
      assert.ok((fx.clock.nextIn as number) <= 1250, 'regular polls again');
    });
  }

  it('probes an offline device that no wiim-status node listens to, until the session closes', async () => {
    const session = open({ backoffMinMs: 1000, backoffMaxMs: 1000, offlineAfter: 1 });
    await sim.stop();
    await rejectsWith(command(session, 'pause'), 'network');
    assert.equal(session.health, 'offline');
    await sim.start({ port: fx.port });
    await fx.clock.tick();
    assert.equal(session.health, 'online', 'the probe found it');
    assert.equal(fx.clock.pending, 0, 'no polls without a listener');
  });

  it('(real time) polls on the system clock', async () => {
    const session = new WiimSession({ host: '127.0.0.1', port: fx.port, protocol: 'https', pollPlayingMs: 100, pollIdleMs: 100 });
    sessions.push(session);
    session.register({});
    await until(() => sim.count('getPlayerStatus') >= 3, 'three polls');
  });
});
