import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { coreNode, activeResources, outcome, collect, helper, node, sessionOf, until, withTab } from './helpers/runtime';
import { FakeClock } from './helpers/fake-clock';
import { sessionOf as configSession } from '../src/nodes/config-node';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import sonoffPulse from '../src/nodes/sonoff-pulse';
import sonoffOta from '../src/nodes/sonoff-ota';
import type { SonoffSession } from '../src/sessions/sonoff-session';
import { SonoffSimulator, makeFirmwareImage } from '../src/sim/sonoff-sim';
import { FirmwareServer, MAX_IMAGE_BYTES, sha256 } from '../src/sonoff/ota';
import { mdnsUsers } from '../src/shared/mdns';
import type { SonoffMeta } from '../src/contract/sonoff-message';

const catchNode = coreNode('common/25-catch.js');
const statusNode = coreNode('common/25-status.js');
const nodes = [sonoffConfig, sonoffSwitch, sonoffPulse, sonoffOta, catchNode, statusNode] as Array<(RED: unknown) => void>;

const ID = '1000abcdef';

type Msg = Record<string, unknown> & { payload?: unknown; sonoff?: SonoffMeta };
type CaughtMsg = Msg & { error: { message: string; source: { id: string } } };

function cfg(port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'cfg', type: 'sonoff-config', name: 'Garden', deviceid: ID, host: '127.0.0.1', port: String(port), model: 'auto', pollInterval: '0', ...extra };
}

function flow(port: number, extra: Record<string, unknown> = {}, cfgExtra: Record<string, unknown> = {}): object[] {
  return withTab([
    cfg(port, cfgExtra),
    { id: 'sw', type: 'sonoff-switch', device: 'cfg', outlet: '0', payloadType: 'boolean', wires: [['out']], ...extra },
    { id: 'pulse', type: 'sonoff-pulse', device: 'cfg', outlet: '0', width: '', wires: [['out']] },
    { id: 'ota', type: 'sonoff-ota', device: 'cfg', firmware: '', sha256: '', wires: [['out']] },
    { id: 'out', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
    // OTA progress as messages, the way the help describes it
    { id: 'progress', type: 'status', scope: ['ota'], wires: [['progressOut']] },
    { id: 'progressOut', type: 'helper' },
  ]);
}

/** The fake clock of the test that runs on one (see startOnClock): messages move it on until they are answered. */
let testClock: FakeClock | undefined;

/** Sends a message into a node and resolves with its output or the caught error. */
function run(target: string, msg: Record<string, unknown>, timeoutMs = 5000): Promise<{ out?: Msg; caught?: CaughtMsg }> {
  const result = outcome<Msg, CaughtMsg>(target, msg, timeoutMs);
  return testClock ? testClock.drive(result) : result;
}

async function ok(target: string, msg: Record<string, unknown>, timeoutMs?: number): Promise<Msg> {
  const r = await run(target, msg, timeoutMs);
  assert.ok(r.out, `expected an output, got the error: ${r.caught?.error.message}`);
  return r.out;
}

async function refused(target: string, msg: Record<string, unknown>, pattern: RegExp): Promise<CaughtMsg> {
  const r = await run(target, msg);
  assert.ok(r.caught, `expected an error, got an output: ${JSON.stringify(r.out?.payload)}`);
  assert.match(r.caught.error.message, pattern);
  assert.equal(r.caught.error.source.id, target);
  return r.caught;
}

/** The runtime's own settings object (RED.settings), where tests hand in the clock. */
const settings = helper.settings();

/** Moves time on until `check` holds: one timer (a poll, a retry, a probe) at a time. */
async function tickUntil(clock: FakeClock, check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await clock.tick();
  // a message that a timer's work sent is delivered by the runtime on a later turn
  await until(check, what);
}

function cfgSession(): SonoffSession {
  return sessionOf<SonoffSession>('cfg');
}

function recordStatus(id: string): Array<{ fill?: string; shape?: string; text?: string }> {
  const n = node(id) as unknown as { status(s: object): void };
  const seen: Array<{ fill?: string; shape?: string; text?: string }> = [];
  const original = n.status.bind(n);
  n.status = (s: object) => {
    seen.push(s as { text?: string });
    original(s);
  };
  return seen;
}

describe('sonoff nodes in Node-RED', function () {
  this.timeout(30000);
  let sim: SonoffSimulator;
  let port: number;

  afterEach(async () => {
    await helper.unload();
    await sim?.stop();
    delete settings.wiimSonoffClock;
    testClock = undefined;
  });

  /**
   * As start(), with the sessions on a fresh fake clock: polls, backoff,
   * probes and the relay's 200 ms gap run only when the test moves time, and
   * time waits for the request in flight of whichever session `cfg` has now.
   */
  async function startOnClock(
    opts: ConstructorParameters<typeof SonoffSimulator>[0] = {},
    extra: Record<string, unknown> = {},
    cfgExtra: Record<string, unknown> = {},
  ): Promise<FakeClock> {
    const clock = new FakeClock();
    settings.wiimSonoffClock = clock;
    testClock = clock;
    await start(opts, extra, cfgExtra);
    clock.busyWhile(() => {
      const cfg = helper.getNode('cfg');
      return !!(cfg && configSession<SonoffSession>(cfg)?.queue.sending);
    });
    return clock;
  }

  async function start(
    opts: ConstructorParameters<typeof SonoffSimulator>[0] = {},
    extra: Record<string, unknown> = {},
    cfgExtra: Record<string, unknown> = {},
  ): Promise<void> {
    sim = new SonoffSimulator({ deviceid: ID, ...opts });
    ({ port } = await sim.start({ port: 0 }));
    await helper.load(nodes, flow(port, extra, cfgExtra));
    // sonoff-switch sends the first state it learns: let that message go by before a test listens
    const first = collect<Msg>('out');
    await until(() => first.length === 1, 'the first state');
  }

  it('switches on, off and toggles; the output reuses the input message with msg.sonoff', async () => {
    await startOnClock();
    const on = await ok('sw', { payload: true, topic: 'keep', extra: { a: 1 } });
    assert.equal(on.payload, true);
    assert.equal(on.topic, 'keep');
    assert.deepEqual(on.extra, { a: 1 });
    assert.equal(typeof on._msgid, 'string');
    assert.equal(sim.outlets[0].on, true);
    assert.equal(on.sonoff?.deviceid, ID);
    assert.equal(on.sonoff?.outlet, 0);
    assert.equal(on.sonoff?.source, 'command');
    assert.equal(on.sonoff?.fwVersion, '3.7.6');
    assert.equal(typeof on.sonoff?.seq, 'number');
    assert.equal((await ok('sw', { payload: 'off' })).payload, false);
    assert.equal(sim.outlets[0].on, false);
    assert.equal((await ok('sw', { payload: 1 })).payload, true);
    assert.equal((await ok('sw', { payload: 'toggle' })).payload, false);
    assert.equal(sim.outlets[0].on, false);
    assert.deepEqual(
      sim.requestsTo('switch').map((r) => (r.body as { data: { switch: string } }).data.switch),
      ['on', 'off', 'on', 'off'],
    );
    await refused('sw', { payload: 'maybe' }, /switch must be/);
  });

  it('reads the state; payloadType string sends "on"/"off"', async () => {
    await startOnClock({}, { payloadType: 'string' });
    sim.outlets[0].on = true;
    const st = await ok('sw', { payload: 'status' });
    assert.equal(st.payload, 'on');
    // a read that a message asked for (docs/architecture.md: where state comes from)
    assert.equal(st.sonoff?.source, 'refresh');
    const empty = await ok('sw', { payload: '' });
    assert.equal(empty.payload, 'on');
    assert.equal(sim.requestsTo('switch').length, 0);
    assert.equal((await ok('sw', { payload: false })).payload, 'off');
  });

  it('multi-channel: {switch, outlet} overrides the node outlet; a bad outlet sends nothing', async () => {
    await startOnClock({ multi: true, type: 'diy_plug' });
    const r = await ok('sw', { payload: { switch: 'on', outlet: 2 } });
    assert.equal(r.payload, true);
    assert.equal(r.sonoff?.outlet, 2);
    assert.equal(sim.outlets[2].on, true);
    assert.equal(sim.outlets[0].on, false);
    const before = sim.requests.length;
    await refused('sw', { payload: { switch: true, outlet: 4 } }, /outlet/);
    assert.equal(sim.requests.length, before);
  });

  it('topics startup, signal, info and wifi; the Wi-Fi password never leaves', async () => {
    await startOnClock();
    const s = await ok('sw', { topic: 'startup', payload: 'stay' });
    assert.equal(s.payload, 'stay');
    assert.equal(sim.outlets[0].startup, 'stay');
    const sig = await ok('sw', { topic: 'signal' });
    assert.equal(sig.payload, -55);
    const info = await ok('sw', { topic: 'info' });
    const p = info.payload as Record<string, unknown>;
    assert.equal(p.deviceid, ID);
    assert.equal(p.fwVersion, '3.7.6');
    assert.equal(p.ssid, 'eWeLink');
    assert.equal(p.rssi, -55);
    assert.equal(p.startup, 'stay');
    assert.equal(typeof p.bssid, 'string');
    const statuses = recordStatus('sw');
    const w = await ok('sw', { topic: 'wifi', payload: { ssid: 'home', password: 'hunter2-secret' } });
    assert.equal(w.payload, true);
    assert.equal(sim.ssid, 'home');
    assert.doesNotMatch(JSON.stringify(w), /hunter2/);
    assert.doesNotMatch(JSON.stringify(statuses), /hunter2/);
    assert.doesNotMatch(JSON.stringify(helper.log().args), /hunter2/);
    await refused('sw', { topic: 'startup', payload: 'sometimes' }, /startup must be/);
    await refused('sw', { topic: 'wifi', payload: { password: 'x' } }, /ssid/);
    sim.faults.errorCode = 400;
    const failed = await refused('sw', { topic: 'wifi', payload: { ssid: 'home', password: 'hunter2-secret' } }, /400/);
    assert.doesNotMatch(JSON.stringify(failed), /hunter2/);
    assert.doesNotMatch(JSON.stringify(statuses), /hunter2/);
  });

  it('sends the state it learns first, once, so that a dashboard switch starts right after a deploy', async () => {
    const clock = new FakeClock();
    settings.wiimSonoffClock = clock;
    sim = new SonoffSimulator({ deviceid: ID });
    ({ port } = await sim.start({ port: 0 }));
    sim.outlets[0].on = true;
    await helper.load(nodes, flow(port, {}, { pollInterval: '0.2' }));
    const session = cfgSession();
    clock.busyWhile(() => session.queue.sending);
    const outs = collect<Msg>('out');
    await until(() => outs.length === 1, 'the first state');
    assert.equal(outs[0].payload, true);
    assert.equal(outs[0].sonoff?.source, 'poll');
    const polls = sim.requestsTo('info').length;
    await clock.advance(600);
    assert.equal(sim.requestsTo('info').length, polls + 3, 'three more polls');
    // a change the next poll finds is sent: had the three polls sent anything, it would be the second output
    sim.pressButton(0);
    await tickUntil(clock, () => outs.length === 2, 'the change');
    assert.equal(outs[1].payload, false, 'polls that find nothing new send nothing');
  });

  it('emits pushed or polled changes (button, inching) with the right source', async () => {
    const clock = await startOnClock({}, {}, { pollInterval: '0.2' });
    assert.ok(cfgSession().state !== undefined, 'first read');
    const outs = collect<Msg>('out');
    const statuses = recordStatus('sw');
    sim.pressButton(0);
    await tickUntil(clock, () => outs.length === 1, 'button press output');
    assert.deepEqual(statuses[statuses.length - 1], { fill: 'green', shape: 'dot', text: 'sonoff-switch.status.on' });
    assert.equal(outs[0].payload, true);
    assert.equal(outs[0].sonoff?.source, 'poll');
    assert.equal(outs[0].topic, 'Garden');
  });

  it('sonoff-pulse: number enables with that width, false disables, bad widths send nothing', async () => {
    await startOnClock();
    const r = await ok('pulse', { payload: 2000 });
    assert.deepEqual(r.payload, { pulse: true, width: 2000 });
    assert.deepEqual([sim.outlets[0].pulse, sim.outlets[0].pulseWidth], [true, 2000]);
    assert.equal(r.sonoff?.pulseWidth, 2000);
    const off = await ok('pulse', { payload: false });
    assert.equal((off.payload as { pulse: boolean }).pulse, false);
    assert.equal(sim.outlets[0].pulse, false);
    const before = sim.requests.length;
    await refused('pulse', { payload: 750 }, /multiple of 500/);
    await refused('pulse', { payload: 3_600_500 }, /3600000/);
    assert.equal(sim.requests.length, before);
    // the relay really switches back
    await ok('pulse', { payload: { pulse: true, width: 500 } });
    await ok('sw', { payload: true });
    await until(() => sim.outlets[0].on === false, 'pulse end');
  });

  it('sonoff-pulse on a multi-channel relay: {pulse, width, switch, outlet}, width up to 3 599 500', async () => {
    await startOnClock({ multi: true });
    const r = await ok('pulse', { payload: { pulse: true, width: 3_599_500, switch: 'on', outlet: 1 } });
    assert.deepEqual(r.payload, { pulse: true, width: 3_599_500, switch: 'on' });
    assert.deepEqual([sim.outlets[1].pulse, sim.outlets[1].pulseSwitch, sim.outlets[1].pulseWidth], [true, 'on', 3_599_500]);
    await refused('pulse', { payload: { width: 3_600_000, outlet: 1 } }, /3599500/);
  });

  describe('sonoff-ota', () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sonoff-ota-'));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('flashes a good image from a path, with progress in the status', async () => {
      await start();
      const image = makeFirmwareImage(300 * 1024);
      const file = path.join(dir, 'good.bin');
      fs.writeFileSync(file, image);
      const statuses = recordStatus('ota');
      const progress = collect<{ status: { text: string; source: { id: string } } }>('progressOut');
      const r = await ok('ota', { payload: file }, 20000);
      assert.deepEqual(r.payload, { status: 'done', bytes: image.length, sha256: sha256(image), fwVersion: '3.7.7' });
      assert.equal(sim.flashes.length, 1);
      assert.equal(sim.flashes[0].sha256, sha256(image));
      assert.deepEqual(
        sim.requests.map((q) => q.endpoint).filter((e) => e !== 'info'),
        ['ota_unlock', 'ota_flash'],
      );
      assert.equal(sim.requests[0].endpoint, 'info');
      assert.ok(
        statuses.some((s) => s.text === '100 %'),
        JSON.stringify(statuses),
      );
      assert.deepEqual(statuses[statuses.length - 1], { fill: 'green', shape: 'dot', text: 'sonoff-ota.status.done' });
      await until(() => progress.some((m) => m.status.text === '100 %'), 'progress messages from a Status node');
      assert.ok(progress.every((m) => m.status.source.id === 'ota'));
    });

    it('flashes a Buffer', async () => {
      await start();
      const image = makeFirmwareImage(64 * 1024);
      const r = await ok('ota', { payload: image }, 20000);
      assert.equal((r.payload as { bytes: number }).bytes, image.length);
      assert.equal(sim.flashes.length, 1);
    });

    it('a wrong sha256 ends in a clear 471 message', async () => {
      await start();
      const image = makeFirmwareImage(8192);
      const server = new FirmwareServer({ image, allow: '127.0.0.1' });
      const url = await server.start();
      try {
        const c = await refused('ota', { payload: { url, sha256: 'ab'.repeat(32) } }, /471.*SHA-256 of the downloaded image does not match/);
        assert.ok(c.error.message.length > 20);
      } finally {
        await server.close();
      }
      assert.equal(sim.flashes.length, 0);
    });

    it('refuses an oversized (600 KB) or non-DOUT image before sending anything', async () => {
      await start();
      const big = path.join(dir, 'big.bin');
      fs.writeFileSync(big, makeFirmwareImage(600 * 1024));
      await refused('ota', { payload: big }, /508 KB/);
      await refused('ota', { payload: makeFirmwareImage(600 * 1024) }, /508 KB/);
      await refused('ota', { payload: makeFirmwareImage(4096, 0) }, /QIO.*DOUT/);
      await refused('ota', { payload: path.join(dir, 'missing.bin') }, /cannot read/);
      assert.equal(sim.requests.filter((q) => q.endpoint !== 'info').length, 0);
    });

    it('refuses what is not a regular file of at most 508 KB (/dev/zero, a FIFO, a directory, a missing file, 508 KB + 1), and flashes the next image', async () => {
      await start();
      const fifo = path.join(dir, 'pipe');
      execFileSync('mkfifo', [fifo]);
      const oneTooMany = path.join(dir, 'one-too-many.bin');
      fs.writeFileSync(oneTooMany, makeFirmwareImage(MAX_IMAGE_BYTES + 1));
      const unreadable = (p: string) =>
        new RegExp(`cannot read the firmware image at ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: give the path of a regular file`);
      const good = path.join(dir, 'next.bin');
      fs.writeFileSync(good, makeFirmwareImage(8192));
      const cases: Array<[string, RegExp]> = [
        ['/dev/zero', unreadable('/dev/zero')],
        [fifo, unreadable(fifo)], // no writer ever opens it: the test ends all the same
        [dir, unreadable(dir)],
        [path.join(dir, 'missing.bin'), unreadable(path.join(dir, 'missing.bin'))],
        [oneTooMany, /the firmware image is more than 520192 bytes; .*508 KB/],
      ];
      for (const [file, pattern] of cases) {
        const c = await refused('ota', { payload: file }, pattern);
        assert.doesNotMatch(c.error.message, /ENOENT|EACCES|EISDIR|no such file|permission/i);
        // the node is free again: the next flash runs
        const r = await ok('ota', { payload: good }, 20000);
        assert.equal((r.payload as { bytes: number }).bytes, 8192, file);
      }
      assert.equal(sim.flashes.length, cases.length);
    });

    it('reports the unlock service errors 500 and 503', async () => {
      await start({ unlockError: 503 });
      await refused('ota', { payload: makeFirmwareImage(4096) }, /503.*unreachable/);
      sim.unlockError = 500;
      await refused('ota', { payload: makeFirmwareImage(4096) }, /500.*refused/);
    });
  });

  it('goes offline (red ring, commands fail at once) and comes back online', async () => {
    const clock = await startOnClock({}, {}, { pollInterval: '0.2' });
    assert.equal(cfgSession().health, 'online');
    const statuses = recordStatus('sw');
    await sim.setOffline(true);
    await tickUntil(clock, () => statuses.some((s) => s.text === 'sonoff-switch.status.offline' && s.fill === 'red' && s.shape === 'ring'), 'offline status');
    const before = sim.requests.length;
    await refused('sw', { payload: true }, /offline/);
    assert.equal(sim.requests.length, before);
    await sim.setOffline(false);
    await tickUntil(clock, () => cfgSession().health === 'online', 'back online');
    const last = statuses[statuses.length - 1];
    // off is a state, shown apart from health (connecting is a yellow ring)
    assert.deepEqual(last, { fill: 'grey', shape: 'dot', text: 'sonoff-switch.status.off' });
    assert.equal((await ok('sw', { payload: true })).payload, true);
    assert.equal(sim.outlets[0].on, true);
  });

  it('honours the configured number of failures before offline', async () => {
    await startOnClock({}, {}, { pollInterval: '0', offlineAfter: '1', timeout: '500' });
    assert.equal((await ok('sw', { payload: true })).payload, true);
    await sim.setOffline(true);
    await refused('sw', { payload: false }, /refused|closed|no answer/);
    assert.equal(cfgSession().health, 'offline', 'one failure is enough with offlineAfter 1');
    await refused('sw', { payload: false }, /offline/);
    await sim.setOffline(false);
  });

  it('every coalesced message gets its own output with the confirmed state', async () => {
    const clock = await startOnClock({ multi: true });
    assert.ok(cfgSession().state !== undefined, 'first read');
    await clock.advance(250); // past the relay's gap after the first read: the first switch goes at once
    const outs = collect<Msg>('out');
    const values = [true, false, true, true, false];
    for (const v of values) node('sw').receive({ payload: v });
    await clock.drive(until(() => outs.length === values.length, 'all outputs'));
    assert.equal(sim.requestsTo('switches').length, 2, 'the first at once, the four behind it as one');
    assert.equal(outs[outs.length - 1].payload, false);
    assert.equal(sim.outlets[0].on, false);
  });

  it('a redeploy closes the old session and leaves no open handle; no mDNS socket with a static host', async () => {
    const clock = new FakeClock();
    settings.wiimSonoffClock = clock;
    sim = new SonoffSimulator({ deviceid: ID });
    ({ port } = await sim.start({ port: 0 }));
    const baseline = activeResources();
    await helper.load(nodes, flow(port, {}, { pollInterval: '0.2' }));
    clock.busyWhile(() => {
      const cfg = helper.getNode('cfg');
      return !!(cfg && configSession<SonoffSession>(cfg)?.queue.sending);
    });
    testClock = clock;
    await ok('sw', { payload: true });
    const first = cfgSession();
    await helper.setFlows(flow(port, { name: 'again' }, { pollInterval: '0.3' }), 'full');
    assert.ok(first.isClosed, 'old session closed');
    const second = cfgSession();
    assert.notEqual(second, first);
    assert.equal((await ok('sw', { payload: false })).payload, false);
    assert.equal(mdnsUsers(), 0);
    await helper.unload();
    assert.ok(second.isClosed);
    assert.equal(clock.pending, 0, 'no session timer left');
    const kinds = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'UDPWrap'];
    const within = () => kinds.every((k) => (activeResources()[k] ?? 0) <= (baseline[k] ?? 0));
    // sockets close on their own turn of the event loop
    await until(within, 'handles back to the baseline').catch(() => undefined);
    const now = activeResources();
    for (const kind of kinds) {
      assert.ok((now[kind] ?? 0) <= (baseline[kind] ?? 0), `${kind}: ${now[kind]} open, ${baseline[kind] ?? 0} before`);
    }
  });

  describe('admin endpoint', () => {
    before(async () => helper.startServer());
    after(async () => helper.stopServer());

    it('POST sonoff-config/test answers {ok, fwVersion, state} or {ok:false, error}', async () => {
      await start({ multi: true });
      const res = await helper
        .request()
        .post('/sonoff-config/test')
        .send({ deviceid: ID, host: '127.0.0.1', port: String(port) })
        .expect(200);
      const body = res.body as { ok: boolean; fwVersion: string; state: unknown[] };
      assert.equal(body.ok, true);
      assert.equal(body.fwVersion, '3.7.6');
      assert.equal(body.state.length, 4);
      const bad = await helper
        .request()
        .post('/sonoff-config/test')
        .send({ deviceid: 'ffffffffff', host: '127.0.0.1', port: String(port) })
        .expect(200);
      assert.deepEqual((bad.body as { ok: boolean }).ok, false);
      assert.match((bad.body as { error: string }).error, /404/);
    });
  });
});
