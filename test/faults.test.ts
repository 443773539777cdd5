import assert from 'node:assert/strict';
import { FakeClock, settle } from './helpers/fake-clock';
import { activeResources, collect, helper, ok, refused, sessionOf, until, withTab, type Msg } from './helpers/runtime';
import { catcher, guardProcess, load, openSockets, send, simulators, sonoffCfg, wiimCfg } from './helpers/reliability';
import { alignedDelay } from '../src/sessions/device-session';
import { PollGate } from '../src/sessions/poll-gate';
import type { WiimSession } from '../src/sessions/wiim-session';
import type { SonoffSession } from '../src/sessions/sonoff-session';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

// Faults: what the wire and the devices do wrong (timeouts, resets, garbage,
// devices that go away and come back) and deploy/redeploy leaks. Bad input
// from messages is in bad-input.test.ts. Real Node-RED (test helper), real
// simulators on 127.0.0.1, no mocks.

describe('poll scheduling', () => {
  it('puts every poll of an interval on the same tick of the clock, never closer than a quarter interval', () => {
    // sessions started at different moments meet on the clock's multiples of their interval
    assert.equal(12_000 + alignedDelay(5000, 12_000), 15_000);
    assert.equal(13_700 + alignedDelay(5000, 13_700), 15_000);
    assert.equal(14_200 + alignedDelay(5000, 14_200), 20_000, 'the next tick is only 800 ms away: the one after');
    assert.equal(alignedDelay(5000, 15_000), 5000);
    for (let now = 0; now < 3000; now += 7) {
      const d = alignedDelay(1000, now);
      assert.ok(d >= 250 && d <= 1250, `${d} ms at ${now}`);
      assert.equal((now + d) % 1000, 0);
    }
  });

  /** A poll for the gate that runs until the test ends it. */
  function heldPoll(started: number[], i: number) {
    let end!: (ok: boolean) => void;
    const ended = new Promise<number>((resolve, reject) => (end = (ok) => (ok ? resolve(i) : reject(new Error(`poll ${i} failed`)))));
    return { end, run: () => (started.push(i), ended) };
  }

  /** A poll that holds the gate's one slot until the test ends it, and a second poll waiting for that slot. */
  function holdAndWait(gate: PollGate, started: number[]) {
    const held = heldPoll(started, 0);
    const heldResult = gate.run(held.run);
    let ran = false;
    const next = gate.run(async () => (ran = true));
    return { held, heldResult, next, ran: () => ran };
  }

  it('runs at most `slots` polls at a time through the gate, the others in their order as slots free', async () => {
    const gate = new PollGate(2, 60_000);
    const started: number[] = [];
    const polls = [0, 1, 2, 3, 4].map((i) => heldPoll(started, i));
    const results = polls.map((p) => gate.run(p.run));
    await settle();
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual(gate.load, { running: 2, waiting: 3 });
    polls[1].end(true);
    await until(() => started.length === 3, 'the third poll');
    assert.deepEqual(started, [0, 1, 2]);
    polls[0].end(false); // a failed poll frees its slot as well, and its caller gets the error
    await until(() => started.length === 4, 'the fourth poll');
    assert.deepEqual(started, [0, 1, 2, 3]);
    await assert.rejects(results[0], /poll 0 failed/);
    for (const p of polls.slice(2)) p.end(true);
    assert.deepEqual(await Promise.all(results.slice(1)), [1, 2, 3, 4]);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('lets a poll that does not end hold its slot only for the lease', async () => {
    const clock = new FakeClock();
    const gate = new PollGate(1, 200, clock);
    const started: number[] = [];
    // a device that does not answer: the next poll gets the slot when the lease ends, not when the poll does
    const { held: stuck, heldResult: stuckResult, next, ran } = holdAndWait(gate, started);
    await clock.advance(199);
    assert.equal(ran(), false, 'still within the lease');
    await clock.advance(1);
    assert.equal(await next, true);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
    stuck.end(true);
    assert.equal(await stuckResult, 0);
    // the late end freed nothing twice: one slot still means one poll at a time
    const a = heldPoll(started, 1);
    const b = heldPoll(started, 2);
    const results = [gate.run(a.run), gate.run(b.run)];
    await settle();
    assert.deepEqual(gate.load, { running: 1, waiting: 1 });
    a.end(true);
    b.end(true);
    assert.deepEqual(await Promise.all(results), [1, 2]);
  });

  it("counts a lease in the loop's idle time: while the loop is busy (a thousand sessions starting), no slot is given away", async () => {
    const clock = new FakeClock();
    let idle = 0; // the loop's idle time: it does not move while the loop is busy
    const gate = new PollGate(1, 200, clock, () => idle);
    const { held: busy, heldResult: busyResult, next, ran } = holdAndWait(gate, []);
    await clock.advance(1000);
    assert.equal(ran(), false, 'a second of a busy loop: the lease still holds');
    assert.deepEqual(gate.load, { running: 1, waiting: 1 });
    idle = 150;
    await clock.advance(150);
    assert.equal(ran(), false, '150 ms idle of a 200 ms lease');
    idle = 200;
    await clock.advance(50);
    assert.equal(await next, true, 'the lease ran out once the loop had been idle for 200 ms');
    busy.end(true);
    assert.equal(await busyResult, 0);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });
});

describe('reliability: faults', function () {
  this.timeout(60000);
  guardProcess();

  // ------------------------------------------------------------------ faults
  describe('fault matrix', () => {
    const { wiim, relay, ports } = simulators('Faulty');
    const wport = () => ports.wiim;
    const sport = () => ports.sonoff;

    async function deploy(): Promise<void> {
      wiim.reset();
      await load(
        withTab([
          wiimCfg('wcfg', wport()),
          wiimCfg('wpin', wport(), { fingerprint: wiim.fingerprint }),
          { id: 'wcmd', type: 'wiim-command', device: 'wcfg', command: '', value: '', wires: [['out']] },
          { id: 'wcmdpin', type: 'wiim-command', device: 'wpin', command: '', value: '', wires: [['out']] },
          { id: 'wst', type: 'wiim-status', device: 'wcfg', output: 'change', meta: false, wires: [['stout']] },
          { id: 'stout', type: 'helper' },
          sonoffCfg('scfg', sport()),
          { id: 'ssw', type: 'sonoff-switch', device: 'scfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
          ...catcher,
        ]),
      );
      await until(() => sessionOf<WiimSession>('wcfg').state !== undefined && sessionOf<SonoffSession>('scfg').state !== undefined, 'first readings');
    }

    /** After a fault: both WiiM nodes work again, and Node-RED is still running. */
    async function wiimRecovers(): Promise<void> {
      wiim.faults = { ...wiim.faults, latencyMs: 0, drop: false, http500: false, garbage: false, truncated: false, slowDripMs: 0 };
      const v = 10 + Math.floor(Math.random() * 80);
      const m = await ok('wcmd', { topic: 'volume', payload: v });
      assert.equal(m.payload, v);
      assert.equal(wiim.state.volume, v);
      const s = await send('wst', { payload: 'refresh' }, 'stout');
      assert.equal((s.out?.payload as { volume: number }).volume, v);
    }

    async function sonoffRecovers(): Promise<void> {
      Object.assign(relay.faults, { latencyMs: 0, drop: false, http500: false, garbage: false, truncated: false, errorCode: 0 });
      const want = !relay.outlets[0].on;
      const m = await ok('ssw', { payload: want });
      assert.equal(m.payload, want);
      assert.equal(relay.outlets[0].on, want);
    }

    const wiimCases: Array<{ name: string; fault: Partial<WiimSimulator['faults']>; expect: RegExp | 'ok' }> = [
      { name: 'latency beyond the timeout', fault: { latencyMs: 1500 }, expect: /no answer from 127\.0\.0\.1:\d+ within 1000 ms/ },
      { name: 'latency below the timeout', fault: { latencyMs: 300 }, expect: 'ok' },
      { name: 'connection reset mid-response', fault: { drop: true }, expect: /closed the connection before replying/ },
      { name: 'truncated JSON', fault: { truncated: true }, expect: /sent a reply that is not JSON to getPlayerStatus: "\{"type"/ },
      { name: 'non-JSON garbage', fault: { garbage: true }, expect: /sent a reply that is not JSON to getPlayerStatus: "<html>/ },
      { name: 'HTTP 500', fault: { http500: true }, expect: /HTTP 500/ },
      { name: 'slow-drip reply longer than the timeout', fault: { slowDripMs: 40 }, expect: /within 1000 ms/ },
    ];

    it('WiiM (wiim-command and wiim-status): each fault gives a clear error or the right result, then the device works again', async () => {
      await deploy();
      for (const c of wiimCases) {
        Object.assign(wiim.faults, c.fault);
        const cmd = await send('wcmd', { payload: 'status' });
        const st = await send('wst', { payload: 'refresh' }, 'stout');
        for (const [label, r] of [
          ['wiim-command', cmd],
          ['wiim-status', st],
        ] as const) {
          if (c.expect === 'ok') {
            assert.ok(r.out, `${c.name}, ${label}: expected a result, got ${r.caught?.error.message}`);
            assert.equal((r.out.payload as { volume: number }).volume, wiim.state.volume, `${c.name}, ${label}`);
            assert.equal((r.out.payload as { state: string }).state, 'stopped');
          } else {
            assert.ok(r.caught, `${c.name}, ${label}: expected an error, got ${JSON.stringify(r.out?.payload)}`);
            assert.match(r.caught.error.message, c.expect, `${c.name}, ${label}`);
          }
        }
        await wiimRecovers();
      }
      // a slow drip that ends inside the timeout is a normal reply
      wiim.faults.slowDripMs = 100;
      const paused = await ok('wcmd', { payload: 'pause' });
      assert.equal(paused.payload, true);
      await wiimRecovers();
    });

    it('WiiM: a changed certificate is fine unpinned and refused, clearly, when pinned', async () => {
      await deploy();
      assert.equal((await ok('wcmdpin', { payload: 'status' })).wiim !== undefined, true);
      const before = wiim.fingerprint;
      const after = wiim.regenerateCertificate();
      assert.notEqual(after, before);
      const m = await ok('wcmd', { payload: 'status' });
      assert.equal((m.payload as { volume: number }).volume, wiim.state.volume);
      const r = await refused('wcmdpin', { payload: 'status' }, /does not match the pinned fingerprint/);
      assert.ok(r.error.message.includes(`device: ${after}`), 'the error names the new certificate');
      await wiimRecovers();
    });

    const sonoffCases: Array<{ name: string; fault: Partial<SonoffSimulator['faults']>; expect: RegExp | 'ok' }> = [
      { name: 'latency beyond the timeout', fault: { latencyMs: 1500 }, expect: /no answer from 127\.0\.0\.1:\d+ within 1000 ms/ },
      { name: 'latency below the timeout', fault: { latencyMs: 300 }, expect: 'ok' },
      { name: 'connection reset mid-response', fault: { drop: true }, expect: /closed the connection before replying/ },
      { name: 'truncated JSON', fault: { truncated: true }, expect: /unreadable reply to switch/ },
      { name: 'non-JSON garbage', fault: { garbage: true }, expect: /unreadable reply to switch/ },
      { name: 'HTTP 500', fault: { http500: true }, expect: /unreadable reply to switch \(HTTP 500\)/ },
      { name: 'device error code', fault: { errorCode: 400 }, expect: /SONOFF error 400 on switch: bad request/ },
    ];

    it('SONOFF (sonoff-switch): each fault gives a clear error or the right result, then the relay works again', async () => {
      await deploy();
      for (const c of sonoffCases) {
        Object.assign(relay.faults, c.fault);
        const want = !relay.outlets[0].on;
        const r = await send('ssw', { payload: want });
        if (c.expect === 'ok') {
          assert.ok(r.out, `${c.name}: expected a result, got ${r.caught?.error.message}`);
          assert.equal(r.out.payload, want);
          assert.equal(relay.outlets[0].on, want);
        } else {
          assert.ok(r.caught, `${c.name}: expected an error, got ${JSON.stringify(r.out?.payload)}`);
          assert.match(r.caught.error.message, c.expect, c.name);
        }
        await sonoffRecovers();
      }
    });
  });
  // ------------------------------------------------------------------ leaks
  describe('deploy and redeploy', () => {
    const { wiim, relay, ports } = simulators('Leak check');
    const wport = () => ports.wiim;
    const sport = () => ports.sonoff;

    function flow(i: number): object[] {
      return withTab([
        wiimCfg('wcfg', wport(), { name: `wiim ${i}`, pollPlaying: '0.5', pollIdle: '0.5' }),
        { id: 'wcmd', type: 'wiim-command', device: 'wcfg', command: '', value: '', wires: [['out']] },
        { id: 'wst', type: 'wiim-status', device: 'wcfg', output: 'change', meta: i % 2 === 0, wires: [[]] },
        sonoffCfg('scfg', sport(), { name: `relay ${i}`, pollInterval: '1' }),
        { id: 'ssw', type: 'sonoff-switch', device: 'scfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
        { id: 'spulse', type: 'sonoff-pulse', device: 'scfg', outlet: '0', width: '1000', wires: [['out']] },
        { id: 'sota', type: 'sonoff-ota', device: 'scfg', firmware: '', sha256: '', wires: [['out']] },
        { id: 'sdim', type: 'sonoff-dimmer', device: 'scfg', wires: [['out']] },
        { id: 'ssen', type: 'sonoff-sensor', device: 'scfg', reading: i % 2 === 0 ? 'all' : 'power', wires: [['out']] },
        ...catcher,
      ]);
    }

    it('100 deploys of every node type leave no handle, timer or socket behind', async function () {
      this.timeout(180000);
      const clock = new FakeClock();
      await until(() => openSockets(wiim) === 0 && openSockets(relay) === 0, 'no connection left by the tests before');
      const baseline = activeResources();
      await load(flow(0), clock);
      const sockets: number[] = [];
      for (let i = 1; i <= 100; i++) {
        await helper.setFlows(flow(i), 'full');
        if (i % 10 === 0) {
          // each generation really runs: it talks to both devices (the relay's first read goes out at once, the WiiM's first poll is due now)
          const w = wiim.requests.length;
          const s = relay.requests.length;
          await clock.advance(0);
          await until(() => wiim.requests.length > w && relay.requests.length > s, `deploy ${i} talks to the devices`);
          sockets.push(openSockets(wiim) + openSockets(relay));
        }
      }
      // one session per config, however many deploys
      await until(
        () => openSockets(wiim) <= 1 && openSockets(relay) <= 1,
        `one connection per device (wiim ${openSockets(wiim)}, relay ${openSockets(relay)})`,
      );
      assert.ok(Math.max(...sockets) <= 4, `open connections stay flat over the deploys: ${sockets.join(', ')}`);
      assert.equal((await ok('wcmd', { topic: 'volume', payload: 12 })).payload, 12);
      await helper.unload();
      assert.equal(clock.pending, 0, 'no session timer left');
      await until(() => openSockets(wiim) === 0 && openSockets(relay) === 0, 'every connection closed after unload');
      const same = () => JSON.stringify(activeResources()) === JSON.stringify(baseline);
      await until(same, `handles back to ${JSON.stringify(baseline)} (now ${JSON.stringify(activeResources())})`, 8000).catch(() =>
        assert.deepEqual(activeResources(), baseline),
      );
      const w = wiim.requests.length;
      const s = relay.requests.length;
      await clock.advance(60_000);
      assert.equal(wiim.requests.length, w, 'no WiiM poll after unload');
      assert.equal(relay.requests.length, s, 'no SONOFF poll after unload');
    });
  });

  // ------------------------------------------------------------------ garbage
  describe('devices that answer only garbage', () => {
    const { wiim, relay, ports } = simulators('Garbled');
    /** The warnings a config node logged. */
    const warnings = (id: string): string[] =>
      (helper.log().args as Array<[{ level: number; id?: string; msg?: unknown }]>).filter(([e]) => e.level === 30 && e.id === id).map(([e]) => String(e.msg));

    it('show a red "bad replies" status (never green), warn once, back off their polls, and come back online when the replies are good', async () => {
      wiim.reset();
      const clock = new FakeClock();
      await load(
        withTab([
          wiimCfg('wcfg', ports.wiim, { pollPlaying: '1', pollIdle: '1' }),
          { id: 'wst', type: 'wiim-status', device: 'wcfg', output: 'change', meta: false, wires: [['stout']] },
          { id: 'stout', type: 'helper' },
          { id: 'wcmd', type: 'wiim-command', device: 'wcfg', command: '', value: '', wires: [['out']] },
          sonoffCfg('scfg', ports.sonoff, { pollInterval: '1' }),
          { id: 'ssw', type: 'sonoff-switch', device: 'scfg', outlet: '0', payloadType: 'boolean', wires: [['swout']] },
          { id: 'swout', type: 'helper' },
          { id: 'watch', type: 'status', scope: ['wst', 'wcmd', 'ssw'], wires: [['stat']] },
          { id: 'stat', type: 'helper' },
          ...catcher,
        ]),
        clock,
      );
      const sessions = [sessionOf<WiimSession>('wcfg'), sessionOf<SonoffSession>('scfg')];
      clock.busyWhile(() => sessions.some((x) => x.queue.sending));
      const status = collect<{ status: { text: string; fill: string; shape: string } } & Msg>('stat');
      const shown = (id: string) => status.filter((m) => (m.status as { source?: { id: string } }).source?.id === id).map((m) => m.status);
      await clock.advance(0);
      await until(() => sessions.every((x) => x.health === 'online'), 'both online');
      // a 1 MB body from the WiiM, HTTP 400 from the relay
      wiim.faults.oversize = true;
      relay.faults.http400 = true;
      const n = status.length;
      const polled = { wiim: wiim.count('getPlayerStatus'), relay: relay.requestsTo('info').length };
      const pollTimes: Record<'wiim' | 'relay', number[]> = { wiim: [], relay: [] };
      const start = clock.now();
      for (let s = 0; s < 60; s++) {
        const before = { wiim: wiim.count('getPlayerStatus'), relay: relay.requestsTo('info').length };
        await clock.advance(1000);
        if (wiim.count('getPlayerStatus') > before.wiim) pollTimes.wiim.push((clock.now() - start) / 1000);
        if (relay.requestsTo('info').length > before.relay) pollTimes.relay.push((clock.now() - start) / 1000);
      }
      assert.deepEqual(
        sessions.map((x) => x.health),
        ['faulty', 'faulty'],
      );
      // one backoff rule for both families: from the first bad reply, 2^n s apart up to the 30 s cap
      assert.deepEqual(pollTimes.wiim, [1, 2, 4, 8, 16, 32]);
      assert.deepEqual(pollTimes.relay, [1, 2, 4, 8, 16, 32]);
      assert.equal(wiim.count('getPlayerStatus'), polled.wiim + 6);
      assert.equal(relay.requestsTo('info').length, polled.relay + 6);
      await until(() => ['wst', 'wcmd', 'ssw'].every((id) => shown(id).at(-1)?.text.endsWith('.status.badreplies')), 'bad replies on every node');
      for (const id of ['wst', 'wcmd', 'ssw']) {
        assert.deepEqual({ fill: shown(id).at(-1)?.fill, shape: shown(id).at(-1)?.shape }, { fill: 'red', shape: 'ring' });
        assert.ok(!status.slice(n).some((m) => (m.status as { source?: { id: string } }).source?.id === id && m.status.fill === 'green'), `${id}: never green`);
      }
      assert.equal(warnings('wcfg').length, 1, warnings('wcfg').join('\n'));
      assert.match(warnings('wcfg')[0], /replies cannot be read: .*larger than 1048576 bytes/);
      assert.equal(warnings('scfg').length, 1, warnings('scfg').join('\n'));
      assert.match(warnings('scfg')[0], /replies cannot be read: .*HTTP 400/);
      // good replies again
      wiim.faults.oversize = false;
      relay.faults.http400 = false;
      for (let i = 0; i < 100 && !sessions.every((x) => x.health === 'online'); i++) await clock.tick();
      await until(() => ['wst', 'wcmd', 'ssw'].every((id) => !shown(id).at(-1)?.text.endsWith('.status.badreplies')), 'statuses after the fault');
      assert.equal(shown('wcmd').at(-1)?.text, 'wiim-command.status.online');
      assert.equal(warnings('wcfg').length + warnings('scfg').length, 2, 'no warning on recovery');
    });
  });

  // ------------------------------------------------------------------ offline
  describe('offline and recovery', () => {
    it("two WiiM devices: one unplugged goes offline, fails fast, leaves the other's rhythm alone, and comes back", async () => {
      const a = new WiimSimulator({ name: 'A' });
      const b = new WiimSimulator({ name: 'B' });
      const { port: pa } = await a.start({ port: 0 });
      const { port: pb } = await b.start({ port: 0 });
      const clock = new FakeClock();
      try {
        await load(
          withTab([
            wiimCfg('cfgA', pa, { pollPlaying: '0.2', pollIdle: '0.2', timeout: '3000' }),
            wiimCfg('cfgB', pb, { pollPlaying: '0.2', pollIdle: '0.2', timeout: '3000' }),
            { id: 'stA', type: 'wiim-status', device: 'cfgA', output: 'change', meta: false, wires: [['outA']] },
            { id: 'stB', type: 'wiim-status', device: 'cfgB', output: 'change', meta: false, wires: [['outB']] },
            { id: 'outA', type: 'helper' },
            { id: 'outB', type: 'helper' },
            { id: 'cmdA', type: 'wiim-command', device: 'cfgA', command: 'volume', value: '', wires: [['out']] },
            { id: 'cmdB', type: 'wiim-command', device: 'cfgB', command: 'volume', value: '', wires: [['out']] },
            ...catcher,
          ]),
          clock,
        );
        const sessions = [sessionOf<WiimSession>('cfgA'), sessionOf<WiimSession>('cfgB')];
        clock.busyWhile(() => sessions.some((x) => x.queue.sending));
        const outA = collect<Msg>('outA');
        const online = (m: Msg) => (m.payload as { online: boolean }).online;
        await clock.advance(0);
        await until(() => outA.length >= 1 && sessionOf<WiimSession>('cfgB').state !== undefined, 'first states');
        const polls = () => b.count('getPlayerStatus');
        const window = async () => {
          const n = polls();
          await clock.advance(2000);
          return polls() - n;
        };
        assert.equal(await window(), 10, 'B is polled every 200 ms');
        await a.stop();
        assert.equal(await window(), 10, "B's polls go on at the same pace during A's outage");
        await until(() => outA.some((m) => online(m) === false), 'online:false from A');
        const off = outA.find((m) => online(m) === false) as Msg;
        assert.equal((off.payload as { volume: number }).volume, 30, 'the last known state goes with it');
        // a command to A fails at once as offline (no waiting for the 3 s timeout) ...
        const r = await refused('cmdA', { payload: 20 }, /is offline/);
        assert.doesNotMatch(r.error.message, /within \d+ ms/);
        // ... while B answers
        assert.equal((await ok('cmdB', { payload: 21 })).payload, 21);
        assert.equal(b.state.volume, 21);
        const n = outA.length;
        await a.start({ port: pa });
        for (let i = 0; i < 1000 && !outA.slice(n).some((m) => online(m) === true); i++) await clock.tick();
        await until(() => outA.slice(n).some((m) => online(m) === true), 'online:true from A');
        assert.equal((await ok('cmdA', { payload: 22 })).payload, 22);
        assert.equal(a.state.volume, 22);
      } finally {
        await helper.unload();
        await a.stop();
        await b.stop();
      }
    });

    it('a SONOFF relay with polling: offline status, fast offline errors, back online on the same port', async () => {
      const relay = new SonoffSimulator();
      const { port } = await relay.start({ port: 0 });
      const clock = new FakeClock();
      try {
        await load(
          withTab([
            sonoffCfg('cfg', port, { pollInterval: '1', timeout: '3000' }),
            { id: 'rsw', type: 'sonoff-switch', device: 'cfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
            { id: 'watch', type: 'status', scope: ['rsw'], wires: [['stat']] },
            { id: 'stat', type: 'helper' },
            ...catcher,
          ]),
          clock,
        );
        const status = collect<{ status: { text: string; fill: string } }>('stat');
        const session = sessionOf<SonoffSession>('cfg');
        clock.busyWhile(() => session.queue.sending);
        await until(() => session.state !== undefined, 'the first reading');
        const polls = relay.requestsTo('info').length;
        await clock.advance(2000);
        assert.equal(relay.requestsTo('info').length, polls + 2, 'two polls');
        await relay.setOffline(true);
        // polls 1 and 2 s apart: after a failure the next waits the backoff delay
        await clock.advance(4000);
        assert.equal(session.health, 'offline', 'offline after three failed polls');
        await until(() => status.some((s) => /offline/.test(s.status.text) && s.status.fill === 'red'), 'an offline status');
        await refused('rsw', { payload: true }, /is offline/);
        assert.equal(relay.outlets[0].on, false);
        const n = status.length;
        await relay.setOffline(false);
        const health = () => session.health;
        for (let i = 0; i < 100 && health() !== 'online'; i++) await clock.tick();
        assert.equal(health(), 'online', 'online again');
        await until(() => status.slice(n).some((s) => !/offline/.test(s.status.text)), 'a status that is not offline');
        // the command may wait for a poll due with the probe, and the relay's gap after each
        const m = await clock.drive(ok('rsw', { payload: true }));
        assert.equal(m.payload, true);
        assert.equal(relay.outlets[0].on, true);
      } finally {
        await helper.unload();
        await relay.stop();
      }
    });
  });
});
