import assert from 'node:assert/strict';
import { coreNode, activeResources, outcome, collect, helper, nextMessage, node, sessionOf, until, withTab } from './helpers/runtime';
import { FakeClock } from './helpers/fake-clock';
import type { WiimSession } from '../src/sessions/wiim-session';
import { sessionOf as configSession } from '../src/nodes/config-node';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import wiimStatus from '../src/nodes/wiim-status';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { STATUS_TEXT_MAX } from '../src/nodes/device-node';
import { MAX_TEXT_CHARS } from '../src/wiim/parse';
import { ERROR_TEXT_MAX } from '../src/nodes/config-node';

const catchNode = coreNode('common/25-catch.js');
const statusNode = coreNode('common/25-status.js');
const nodes = [wiimConfig, wiimCommand, wiimStatus, catchNode, statusNode] as Array<(RED: unknown) => void>;

type Msg = Record<string, unknown> & { payload?: unknown; wiim?: { command: string; request: string; raw: string }; changed?: string[] };
type CaughtMsg = Msg & { error: { message: string; source: { id: string } } };

function config(port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'cfg',
    type: 'wiim-config',
    name: 'Living room',
    host: '127.0.0.1',
    port: String(port),
    protocol: 'https',
    timeout: '1000',
    pollPlaying: '0.1',
    pollIdle: '0.1',
    fingerprint: '',
    ...extra,
  };
}

/** The runtime's own settings object (RED.settings), where tests hand in the clock. */
const settings = helper.settings();

/**
 * Loads `flow` with its sessions on a fresh fake clock (RED.settings.wiimSonoffClock):
 * polls, backoff and probes run only when the test moves time, and time waits
 * for the request in flight of whichever session config node `cfg` has now.
 */
async function loadOnClock(flow: object[]): Promise<FakeClock> {
  const clock = new FakeClock();
  settings.wiimSonoffClock = clock;
  await helper.load(nodes, flow);
  clock.busyWhile(() => {
    const cfg = helper.getNode('cfg');
    return !!(cfg && configSession<WiimSession>(cfg)?.queue.sending);
  });
  return clock;
}

/** Moves time on until `check` holds: one timer (a poll, a retry, a probe) at a time. */
async function tickUntil(clock: FakeClock, check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await clock.tick();
  // the message a timer's work sent is delivered by the runtime on a later turn
  await until(check, what);
}

function commandFlow(port: number, cmd: Record<string, unknown> = {}): object[] {
  return withTab([
    config(port),
    { id: 'cmd', type: 'wiim-command', device: 'cfg', command: '', value: '', wires: [['out']], ...cmd },
    { id: 'out', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ]);
}

/** Sends a message into wiim-command and resolves with its output or the caught error. */
function run(msg: Record<string, unknown>): Promise<{ out?: Msg; caught?: CaughtMsg }> {
  return outcome<Msg, CaughtMsg>('cmd', msg);
}

async function ok(msg: Record<string, unknown>): Promise<Msg> {
  const r = await run(msg);
  assert.ok(r.out, `expected an output, got the error: ${r.caught?.error.message}`);
  return r.out;
}

async function refused(msg: Record<string, unknown>, pattern: RegExp): Promise<CaughtMsg> {
  const r = await run(msg);
  assert.ok(r.caught, `expected an error, got an output: ${JSON.stringify(r.out?.payload)}`);
  assert.match(r.caught.error.message, pattern);
  assert.equal(r.caught.error.source.id, 'cmd');
  return r.caught;
}

describe('wiim nodes in Node-RED', function () {
  this.timeout(20000);
  const sim = new WiimSimulator({ name: 'Living room' });
  let port: number;

  before(async () => {
    ({ port } = await sim.start({ port: 0 }));
  });
  after(async () => {
    await sim.stop();
  });
  beforeEach(() => sim.reset());
  afterEach(async () => {
    await helper.unload();
    delete settings.wiimSonoffClock;
  });

  describe('wiim-command', () => {
    beforeEach(async () => {
      await helper.load(nodes, commandFlow(port));
    });

    it('runs every command given as {command, value}', async () => {
      sim.state.followers = [{ name: 'Kitchen', ip: '10.0.0.7', uuid: 'u', volume: 10, mute: false }];
      const cases: Array<[string, unknown, (m: Msg) => void]> = [
        ['play', 'http://radio.example/a b.mp3', () => assert.equal(sim.state.url, 'http://radio.example/a b.mp3')],
        ['pause', undefined, () => assert.equal(sim.state.status, 'pause')],
        ['resume', undefined, () => assert.equal(sim.state.status, 'play')],
        ['toggle', undefined, () => assert.equal(sim.state.status, 'pause')],
        ['next', undefined, () => assert.equal(sim.state.trackIndex, 1)],
        ['prev', undefined, () => assert.equal(sim.state.trackIndex, 0)],
        ['seek', 30, (m) => assert.equal(m.payload, 30)],
        ['stop', undefined, () => assert.equal(sim.state.status, 'stop')],
        ['playlist', { url: 'http://h/l.m3u', index: 1 }, () => assert.deepEqual(sim.state.playlist, { url: 'http://h/l.m3u', index: 1 })],
        ['volume', 25, (m) => assert.deepEqual([m.payload, sim.state.volume], [25, 25])],
        ['mute', true, () => assert.equal(sim.state.muted, true)],
        ['repeat', { repeat: 'one', shuffle: false }, () => assert.equal(sim.state.loop, 1)],
        ['eq', 'Jazz', () => assert.equal(sim.state.eqPreset, 'Jazz')],
        ['source', 'bluetooth', () => assert.equal(sim.state.mode, 41)],
        ['preset', 1, () => assert.equal(sim.state.url, sim.state.presets[0].url)],
        ['reboot', undefined, () => assert.equal(sim.state.reboots, 1)],
        ['shutdown', 120, () => assert.ok(sim.state.shutdownAt !== null)],
        ['shutdown-timer', undefined, (m) => assert.ok((m.payload as number) > 100)],
        ['time-sync', '2025-01-02T03:04:05Z', () => assert.equal(sim.state.timeSync, '20250102030405')],
        [
          'alarm',
          { op: 'set', n: 2, trigger: 5, operation: 1, time: '080000', day: '15', url: 'http://a/b' },
          () => assert.equal(sim.state.alarms[2].day, '15'),
        ],
        ['status', undefined, (m) => assert.equal((m.payload as { state: string }).state, 'playing')],
        ['info', undefined, (m) => assert.equal((m.payload as { name: string }).name, 'Living room')],
        ['meta', undefined, (m) => assert.equal((m.payload as { title: string }).title, 'Blue in Green')],
        ['presets', undefined, (m) => assert.equal((m.payload as { count: number }).count, 2)],
        ['wifi-state', undefined, (m) => assert.equal(m.payload, 'connected')],
        ['group', undefined, (m) => assert.equal((m.payload as { count: number }).count, 1)],
        ['kick', '10.0.0.7', () => assert.deepEqual(sim.state.followers, [])],
        ['ungroup', undefined, () => assert.equal(sim.requests.at(-1), 'multiroom:Ungroup')],
        ['join', '192.168.1.9', () => assert.equal(sim.state.leader, '192.168.1.9')],
        ['leave', undefined, () => assert.equal(sim.state.leader, null)],
        ['raw', 'getShutdown', (m) => assert.match(String(m.payload), /^\d+$/)],
      ];
      for (const [command, value, check] of cases) {
        const m = await ok({ payload: { command, value } });
        assert.equal(m.wiim?.command, command);
        assert.equal(typeof m.wiim?.request, 'string');
        assert.equal(typeof m.wiim?.raw, 'string');
        check(m);
      }
      assert.equal(new Set(cases.map((c) => c[0])).size, 31);
    });

    it('takes msg.topic as the command and msg.payload as its argument, passing other properties through', async () => {
      const res = { marker: 'http response object' };
      const m = await ok({ topic: 'volume', payload: 30, res, _custom: 7 });
      assert.equal(sim.state.volume, 30);
      assert.equal(m.payload, 30);
      assert.equal(m.res, res);
      assert.equal(m._custom, 7);
      assert.deepEqual(m.wiim, { command: 'volume', request: 'setPlayerCmd:vol:30', raw: 'OK' });
      await ok({ payload: 'pause' });
      assert.equal(sim.requests.at(-1), 'setPlayerCmd:pause');
    });

    it('clamps relative volume steps', async () => {
      sim.state.volume = 98;
      assert.equal((await ok({ topic: 'volume', payload: '+5' })).payload, 100);
      sim.state.volume = 40;
      assert.equal((await ok({ payload: { command: 'volume', value: '-5' } })).payload, 35);
      assert.equal(sim.state.volume, 35);
    });

    it('refuses bad input without sending anything and hands the error to a Catch node', async () => {
      await refused({ topic: 'volume', payload: 150 }, /volume must be from 0 to 100, got 150/);
      await refused({ topic: 'volume', payload: 'loud' }, /volume must be a whole number/);
      await refused({ payload: { command: 'dance', value: 1 } }, /unknown command "dance"/);
      await refused({ payload: 'hello' }, /no command in the message/);
      await refused({ topic: 'raw', payload: 'setPlayerCmd:vol:5&x=1' }, /refused/);
      await refused({ topic: 'mute', payload: 'loud' }, /mute takes true, false or "toggle"/);
      await refused({ topic: 'play', payload: 'javascript alert' }, /must be a URL/);
      assert.deepEqual(sim.requests, []);
      // a device failure reaches the Catch node too
      const c = await refused({ topic: 'raw', payload: 'noSuchThing' }, /does not know the command/);
      assert.equal((c.wiim as { command: string }).command, 'raw');
    });
  });

  describe('wiim-command without a wiim-status node', () => {
    it('fails fast while the device is offline and finds it again on its own', async () => {
      const other = new WiimSimulator({ name: 'Kitchen' });
      const { port: p } = await other.start({ port: 0 });
      try {
        await offlineAndBack(other, p);
      } finally {
        await helper.unload();
        await other.stop();
      }
    });

    async function offlineAndBack(other: WiimSimulator, p: number): Promise<void> {
      const clock = await loadOnClock(commandFlow(p));
      await ok({ payload: 'pause' });
      await other.stop();
      for (let i = 0; i < 3; i++) await refused({ payload: 'pause' }, /connection refused|closed the connection/);
      await refused({ payload: 'pause' }, /is offline/);
      const before = other.requests.length;
      await other.start({ port: p });
      // the session probes the device in the background, with backoff, until it answers
      await tickUntil(clock, () => sessionOf<WiimSession>('cfg').health === 'online', 'online');
      assert.ok(other.count('getPlayerStatus') > 0, 'a probe found it');
      await ok({ topic: 'volume', payload: 9 });
      assert.equal(other.state.volume, 9);
      assert.ok(other.requests.length > before);
    }
  });

  describe('wiim-command errors', () => {
    it('fails a 2 MB raw command with an error of at most ERROR_TEXT_MAX characters', async () => {
      await helper.load(nodes, commandFlow(port));
      const caught = await refused({ topic: 'raw', payload: `getStatusEx${'x'.repeat(2_000_000)}` }, /./);
      // Node-RED puts the error's name before its message
      const text = caught.error.message.replace(/^DeviceError: /, '');
      assert.ok(text.length <= ERROR_TEXT_MAX, `${text.length} characters`);
      assert.ok(caught.error.message.endsWith('…'));
    });
  });

  describe('wiim-command settings', () => {
    it('a fixed command with a value wins over the message', async () => {
      await helper.load(nodes, commandFlow(port, { command: 'volume', value: '20' }));
      const m = await ok({ topic: 'volume', payload: 70 });
      assert.equal(m.payload, 20);
      assert.deepEqual(sim.requests, ['setPlayerCmd:vol:20']);
    });

    it('a fixed command without a value takes msg.payload as the argument', async () => {
      await helper.load(nodes, commandFlow(port, { command: 'volume', value: '' }));
      await ok({ topic: 'ignored', payload: 55 });
      assert.equal(sim.state.volume, 55);
      await refused({ payload: 101 }, /0 to 100/);
      assert.deepEqual(sim.requests, ['setPlayerCmd:vol:55']);
    });

    it('a fixed repeat takes a JSON value; a config without a host fails the message, sending nothing', async () => {
      await helper.load(nodes, commandFlow(port, { command: 'repeat', value: '{"repeat":"all","shuffle":true}' }));
      await ok({ payload: 1 });
      assert.equal(sim.state.loop, 2);
      await helper.unload();
      sim.reset();
      await helper.load(
        nodes,
        withTab([
          { ...config(port), host: '' },
          { id: 'cmd', type: 'wiim-command', device: 'cfg', command: '', value: '', wires: [['out']] },
          { id: 'out', type: 'helper' },
          { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
          { id: 'caught', type: 'helper' },
        ]),
      );
      await refused({ payload: 'pause' }, /has no host/);
      assert.deepEqual(sim.requests, []);
    });
  });

  describe('wiim-status', () => {
    function statusFlow(extra: Array<Record<string, unknown>> = [], output = 'change'): object[] {
      return withTab([
        config(port),
        { id: 'st', type: 'wiim-status', device: 'cfg', output, meta: false, wires: [['out']] },
        { id: 'out', type: 'helper' },
        ...extra,
      ]);
    }

    it('shows a long title shortened in its status, and in its output cut to the text cap', async () => {
      const title = 'T'.repeat(200_000);
      sim.state.tracks[0] = { ...sim.state.tracks[0], title };
      sim.playTrack(0);
      const clock = await loadOnClock(
        statusFlow([
          { id: 'watch', type: 'status', scope: ['st'], wires: [['statuses']] },
          { id: 'statuses', type: 'helper' },
        ]),
      );
      const statuses = collect<{ status: { text?: string } }>('statuses');
      const outputs = collect<Msg>('out');
      await tickUntil(clock, () => outputs.length === 1 && statuses.length === 1, 'the first state and status');
      assert.equal((outputs[0].payload as { title: string }).title, title.slice(0, MAX_TEXT_CHARS));
      const text = statuses[0].status.text ?? '';
      assert.equal(text.length, STATUS_TEXT_MAX);
      assert.ok(text.startsWith('TTTT') && text.endsWith('…'), text.slice(-10));
    });

    it('emits on a change but not when only the position moves, and carries the position along', async () => {
      sim.playTrack(0);
      const clock = await loadOnClock(statusFlow());
      const outputs = collect<Msg>('out');
      await tickUntil(clock, () => outputs.length === 1, 'the first state');
      const first = outputs[0];
      assert.equal(first.topic, 'Living room');
      assert.equal((first.payload as { state: string }).state, 'playing');
      assert.equal((first.payload as { online: boolean }).online, true);
      assert.ok(first.changed?.includes('volume'));
      // the position advances for several polls: no output (the next output is the volume's)
      const polls = sim.count('getPlayerStatus');
      await clock.advance(800);
      assert.equal(sim.count('getPlayerStatus'), polls + 8, 'eight more polls');
      sim.state.volume = 61;
      await tickUntil(clock, () => outputs.length === 2, 'the volume change');
      assert.deepEqual(outputs[1].changed, ['volume']);
      const p = outputs[1].payload as { volume: number; position: number };
      assert.equal(p.volume, 61);
      assert.equal(typeof p.position, 'number');
      // a seek is a change of position
      sim.position = 200_000;
      await tickUntil(clock, () => outputs.length === 3, 'the seek');
      assert.deepEqual(outputs[2].changed, ['position']);
    });

    it('a flow that changes msg.payload leaves the state the node compares against alone', async () => {
      const clock = await loadOnClock(statusFlow());
      const outputs = collect<Msg>('out');
      await tickUntil(clock, () => outputs.length === 1, 'the first state');
      // a function node downstream writes into the message it got
      (outputs[0].payload as { volume: number }).volume = 61;
      sim.state.volume = 61;
      await tickUntil(clock, () => outputs.length === 2, 'the volume change');
      assert.deepEqual(outputs[1].changed, ['volume']);
      assert.notEqual(outputs[1].payload, outputs[0].payload);
    });

    it('sets its node status only when it changes: a Status node gets no message per poll', async () => {
      sim.playTrack(0);
      const clock = await loadOnClock(
        statusFlow([
          { id: 'watch', type: 'status', scope: ['st'], wires: [['statuses']] },
          { id: 'statuses', type: 'helper' },
        ]),
      );
      const statuses = collect<{ status: { text?: string } }>('statuses');
      const outputs = collect<Msg>('out');
      await tickUntil(clock, () => outputs.length === 1 && statuses.length === 1, 'the first state');
      const polls = sim.count('getPlayerStatus');
      await clock.advance(800);
      assert.equal(sim.count('getPlayerStatus'), polls + 8, 'eight more polls');
      sim.state.volume = 61;
      await tickUntil(clock, () => outputs.length === 2, 'the volume change');
      // the title it plays, once; nothing for the polls after, nor for the volume (statuses reach the Status node before the output that follows them)
      assert.deepEqual(
        statuses.map((m) => m.status.text),
        [`${sim.state.tracks[0].title} – ${sim.state.tracks[0].artist}`],
      );
    });

    it('any input forces a refresh and an output on the same message', async () => {
      const clock = await loadOnClock(statusFlow());
      const outputs = collect<Msg>('out');
      await tickUntil(clock, () => outputs.length === 1, 'the first state');
      const polls = sim.count('getPlayerStatus');
      node('st').receive({ payload: 'now', _tag: 'mine' });
      await until(() => outputs.length === 2, 'the forced output');
      assert.equal(outputs[1]._tag, 'mine');
      assert.equal((outputs[1].payload as { state: string }).state, 'stopped');
      assert.ok(sim.count('getPlayerStatus') > polls);
    });

    it('in poll mode, refreshes that wait together share one read and one event: no node emits twice', async () => {
      const clock = await loadOnClock(
        withTab([
          config(port, { pollIdle: '60', pollPlaying: '60' }),
          { id: 'A', type: 'wiim-status', device: 'cfg', output: 'poll', meta: false, wires: [['outA']] },
          { id: 'B', type: 'wiim-status', device: 'cfg', output: 'poll', meta: false, wires: [['outB']] },
          { id: 'outA', type: 'helper' },
          { id: 'outB', type: 'helper' },
        ]),
      );
      const a = collect<Msg>('outA');
      const b = collect<Msg>('outB');
      await tickUntil(clock, () => a.length === 1 && b.length === 1, 'the first state');
      a.length = 0;
      b.length = 0;
      // the clock stands still from here: no regular poll joins in
      const polls = sim.count('getPlayerStatus');
      sim.faults.latencyMs = 50;
      node('A').receive({ _tag: 'x' }); // read 1 starts
      await until(() => sim.count('getPlayerStatus') > polls, 'read 1 at the device');
      node('A').receive({ _tag: 'y' }); // these two wait together: read 2
      node('B').receive({ _tag: 'z' });
      await until(() => a.length >= 2 && b.length >= 2, 'the outputs');
      sim.faults.latencyMs = 0;
      assert.equal(sim.count('getPlayerStatus') - polls, 2, 'y and z folded into one read');
      assert.deepEqual(
        a.map((m) => m._tag),
        ['x', 'y'],
        'A: one output per input',
      );
      assert.deepEqual(
        b.map((m) => m._tag),
        [undefined, 'z'],
        'B: the poll of read 1, then its own input',
      );
    });

    it('reports the device offline with its last state, then online again on the same port', async () => {
      sim.playTrack(1);
      sim.state.volume = 44;
      const clock = await loadOnClock(statusFlow());
      const outputs = collect<Msg>('out');
      await tickUntil(clock, () => outputs.length === 1, 'the first state');
      await sim.stop();
      await tickUntil(clock, () => outputs.some((m) => (m.payload as { online: boolean }).online === false), 'online:false');
      const off = outputs.find((m) => (m.payload as { online: boolean }).online === false) as Msg;
      assert.deepEqual(off.changed, ['online']);
      assert.equal((off.payload as { volume: number }).volume, 44);
      assert.equal((off.payload as { title: string }).title, 'So What');
      const n = outputs.length;
      await sim.start({ port });
      await tickUntil(clock, () => outputs.length > n && (outputs.at(-1)?.payload as { online: boolean }).online === true, 'online:true');
      assert.ok(outputs.at(-1)?.changed?.includes('online'));
    });

    it('two wiim-status nodes share one poller', async () => {
      const clock = await loadOnClock(
        statusFlow(
          [
            { id: 'st2', type: 'wiim-status', device: 'cfg', output: 'poll', meta: false, wires: [['out2']] },
            { id: 'out2', type: 'helper' },
          ],
          'poll',
        ),
      );
      const a = collect<Msg>('out');
      const b = collect<Msg>('out2');
      await clock.advance(0);
      await clock.advance(900);
      // each of the ten polls reached both nodes
      await until(() => a.length === 10 && b.length === 10, 'ten outputs per node');
      assert.equal(sim.count('getPlayerStatus'), 10);
    });

    it('with meta on, reads getMetaInfo for the artwork', async () => {
      sim.playTrack(0);
      await helper.load(
        nodes,
        withTab([
          config(port),
          { id: 'st', type: 'wiim-status', device: 'cfg', output: 'change', meta: true, wires: [['out']] },
          { id: 'out', type: 'helper' },
        ]),
      );
      const m = await nextMessage<Msg>('out');
      assert.equal((m.payload as { artwork: string }).artwork, 'https://img.example.invalid/kind-of-blue.jpg');
      assert.ok(sim.count('getMetaInfo') >= 1);
    });

    it('a command updates the state at once and the status node reports it', async () => {
      const clock = await loadOnClock(
        withTab([
          config(port),
          { id: 'st', type: 'wiim-status', device: 'cfg', output: 'change', meta: false, wires: [['out']] },
          { id: 'out', type: 'helper' },
          { id: 'cmd', type: 'wiim-command', device: 'cfg', command: 'volume', value: '', wires: [['cmdout']] },
          { id: 'cmdout', type: 'helper' },
          { id: 'st2', type: 'wiim-status', device: 'cfg', output: 'poll', meta: false, wires: [['polled']] },
          { id: 'polled', type: 'helper' },
        ]),
      );
      const outputs = collect<Msg>('out');
      const polled = collect<Msg>('polled');
      await tickUntil(clock, () => outputs.length === 1, 'the first state');
      node('cmd').receive({ payload: 77 });
      await until(() => outputs.length === 2, 'the change');
      assert.deepEqual(outputs[1].changed, ['volume']);
      assert.equal((outputs[1].payload as { volume: number }).volume, 77);
      const polls = sim.count('getPlayerStatus');
      const n = polled.length;
      await clock.advance(300);
      // every poll's output reached the poll-mode node: none of them reached the change-mode one
      await until(() => polled.length >= n + 3, 'three more polls');
      assert.ok(sim.count('getPlayerStatus') >= polls + 3);
      assert.equal(outputs.length, 2, 'the re-poll confirmed the state: no second output');
    });
  });

  describe('lifecycle', () => {
    it('a redeploy replaces the session and unloading leaves no open handle', async () => {
      await until(() => sim['sockets'].size === 0, 'the sockets of earlier tests closed');
      const baseline = activeResources();
      const flow = (poll: string) =>
        withTab([
          config(port, { pollPlaying: poll, pollIdle: poll }),
          { id: 'st', type: 'wiim-status', device: 'cfg', output: 'poll', meta: true, wires: [['out']] },
          { id: 'out', type: 'helper' },
          { id: 'cmd', type: 'wiim-command', device: 'cfg', command: '', value: '', wires: [[]] },
        ]);
      const clock = await loadOnClock(flow('0.1'));
      let outputs = collect<Msg>('out');
      await tickUntil(clock, () => outputs.length >= 3, 'polls');
      await helper.setFlows(flow('0.2'));
      outputs = collect<Msg>('out');
      await tickUntil(clock, () => outputs.length >= 3, 'polls after the redeploy');
      await helper.unload();
      assert.equal(clock.pending, 0, 'no session timer left');
      const settled = () => JSON.stringify(activeResources()) === JSON.stringify(baseline);
      await until(settled, `handles back to ${JSON.stringify(baseline)} (now ${JSON.stringify(activeResources())})`, 5000).catch(() =>
        assert.deepEqual(activeResources(), baseline),
      );
      const polls = sim.requests.length;
      await clock.advance(60_000);
      assert.equal(sim.requests.length, polls, 'nothing polls after unload');
    });
  });

  describe('editor endpoint', () => {
    before(() => helper.startServer());
    after(() => helper.stopServer());

    it('POST wiim-config/test reports the device or the error', async () => {
      await helper.load(nodes, withTab([config(port)]));
      const good = await helper
        .request()
        .post('/wiim-config/test')
        .send({ host: '127.0.0.1', port: String(port), protocol: 'https', timeout: '1000', fingerprint: sim.fingerprint });
      assert.deepEqual(
        [good.status, (good.body as Record<string, unknown>).ok, (good.body as Record<string, unknown>).model, (good.body as Record<string, unknown>).name],
        [200, true, 'Muzo_Mini', 'Living room'],
      );
      const bad = await helper
        .request()
        .post('/wiim-config/test')
        .send({ host: '127.0.0.1', port: String(port), protocol: 'https', fingerprint: 'AA'.repeat(32) });
      assert.equal((bad.body as Record<string, unknown>).ok, false);
      assert.match(String((bad.body as Record<string, unknown>).error), /pinned fingerprint/);
    });
  });
});
