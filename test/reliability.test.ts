import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock, settle } from './helpers/fake-clock';
import { activeResources, collect, coreNode, helper, ok, outcome, refused, sessionOf, until, withTab, type CaughtMsg, type Msg } from './helpers/runtime';
import { DeviceError } from '../src/shared/errors';
import { prepareCommand, WIIM_COMMANDS } from '../src/wiim/commands';
import { commandRequest } from '../src/contract/wiim-values';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import wiimStatus from '../src/nodes/wiim-status';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import sonoffPulse from '../src/nodes/sonoff-pulse';
import sonoffOta from '../src/nodes/sonoff-ota';
import sonoffDimmer from '../src/nodes/sonoff-dimmer';
import sonoffSensor from '../src/nodes/sonoff-sensor';
import { alignedDelay } from '../src/sessions/device-session';
import { PollGate } from '../src/sessions/poll-gate';
import type { WiimSession } from '../src/sessions/wiim-session';
import type { SonoffSession } from '../src/sessions/sonoff-session';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator, makeFirmwareImage } from '../src/sim/sonoff-sim';

// Reliability: faults on the wire, malformed messages, deploy/redeploy
// leaks, and devices that go away and come back. Real Node-RED (test
// helper), real simulators on 127.0.0.1, no mocks.

const catchNode = coreNode('common/25-catch.js');
const statusNode = coreNode('common/25-status.js');
const nodes = [
  wiimConfig,
  wiimCommand,
  wiimStatus,
  sonoffConfig,
  sonoffSwitch,
  sonoffPulse,
  sonoffOta,
  sonoffDimmer,
  sonoffSensor,
  catchNode,
  statusNode,
] as Array<(RED: unknown) => void>;

/** Sends `msg` into `target`: its output (at helper `outId`) or the error a Catch node got. */
const send = (target: string, msg: Msg, outId = 'out') => outcome<Msg, CaughtMsg>(target, msg, 8000, outId);

/** The runtime's own settings object (RED.settings): helper.settings({...}) would replace it with a copy that loses its methods. */
const settings = helper.settings();

/** Loads a flow of the node types above; its sessions run on `clock` (RED.settings.wiimSonoffClock) when one is given. */
async function load(flow: object[], clock?: FakeClock): Promise<void> {
  if (clock) settings.wiimSonoffClock = clock;
  else delete settings.wiimSonoffClock;
  await helper.load(nodes, flow);
}

/** Open server-side connections of a simulator. */
const openSockets = (sim: WiimSimulator | SonoffSimulator) => (sim instanceof WiimSimulator ? sim['sockets'] : sim['sockets']).size;

function wiimCfg(id: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    type: 'wiim-config',
    name: `WiiM ${id}`,
    host: '127.0.0.1',
    port: String(port),
    protocol: 'https',
    timeout: '1000',
    pollPlaying: '3600',
    pollIdle: '3600',
    fingerprint: '',
    ...extra,
  };
}

function sonoffCfg(id: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    type: 'sonoff-config',
    name: `Relay ${id}`,
    deviceid: '1000abcdef',
    host: '127.0.0.1',
    port: String(port),
    model: 'auto',
    pollInterval: '0',
    timeout: '1000',
    ...extra,
  };
}

const catcher = [
  { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
  { id: 'out', type: 'helper' },
];

/** A WiiM and a SONOFF simulator for one describe block, on ephemeral ports. */
function simulators(name: string): { wiim: WiimSimulator; relay: SonoffSimulator; ports: { wiim: number; sonoff: number } } {
  const sims = { wiim: new WiimSimulator({ name }), relay: new SonoffSimulator(), ports: { wiim: 0, sonoff: 0 } };
  before(async () => {
    sims.ports.wiim = (await sims.wiim.start({ port: 0 })).port;
    sims.ports.sonoff = (await sims.relay.start({ port: 0 })).port;
  });
  after(async () => {
    await sims.wiim.stop();
    await sims.relay.stop();
  });
  return sims;
}

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
    const stuck = heldPoll(started, 0);
    const stuckResult = gate.run(stuck.run);
    // a device that does not answer: the next poll gets the slot when the lease ends, not when the poll does
    let ran = false;
    const next = gate.run(async () => (ran = true));
    await clock.advance(199);
    assert.equal(ran, false, 'still within the lease');
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
});

describe('reliability', function () {
  this.timeout(60000);
  const problems: string[] = [];
  const onRejection = (reason: unknown) => problems.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
  const onException = (err: Error) => problems.push(`uncaughtException: ${err.stack ?? String(err)}`);

  before(() => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
  });
  after(() => {
    process.removeListener('unhandledRejection', onRejection);
    process.removeListener('uncaughtException', onException);
  });
  afterEach(async () => {
    await helper.unload();
    delete settings.wiimSonoffClock;
    assert.deepEqual(problems.splice(0), [], 'no unhandled rejection or uncaught exception');
  });

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

  // ------------------------------------------------------------------ bad input
  describe('bad-input matrix', () => {
    const wiim = new WiimSimulator({ name: 'Strict' });
    const single = new SonoffSimulator({ deviceid: '1000abcdef' });
    const multi = new SonoffSimulator({ deviceid: '1000fedcba', multi: true });
    const d1 = new SonoffSimulator({ deviceid: '1000d1d1d1', model: 'd1', type: 'diylight' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-'));
    const bigFile = path.join(dir, 'big.bin');
    let wport: number;

    before(async () => {
      fs.writeFileSync(bigFile, makeFirmwareImage(600 * 1024));
      ({ port: wport } = await wiim.start({ port: 0 }));
      await single.start({ port: 0 });
      await multi.start({ port: 0 });
      await d1.start({ port: 0 });
    });
    after(async () => {
      await wiim.stop();
      await single.stop();
      await d1.stop();
      await multi.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    interface Case {
      target: string;
      msg: Msg;
      error: RegExp;
      /** read-only requests the check itself needs (the EQ list, the track length, the preset count) */
      reads?: string[];
    }

    const hex64 = 'a'.repeat(64);
    const cases: Case[] = [
      // wiim-command, command from the message
      { target: 'wcmd', msg: { topic: 'volume', payload: 150 }, error: /volume must be from 0 to 100, got 150/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: -1 }, error: /volume must be from 0 to 100, got -1/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: 'abc' }, error: /volume must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: 50.5 }, error: /volume must be a whole number/ },
      { target: 'wcmd', msg: { payload: { command: 'volume', value: '101' } }, error: /from 0 to 100, got 101/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: '+x' }, error: /volume|step/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: 100000 }, error: /past the end of the track/, reads: ['getPlayerStatus'] },
      { target: 'wcmd', msg: { topic: 'seek', payload: -5 }, error: /seek takes a position in seconds/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: 'soon' }, error: /seek takes a position in seconds/ },
      { target: 'wcmd', msg: { topic: 'eq', payload: 'Disco Inferno' }, error: /"Disco Inferno" is not an EQ preset of this device/, reads: ['EQGetList'] },
      { target: 'wcmd', msg: { topic: 'eq', payload: '' }, error: /eq is empty/ },
      { target: 'wcmd', msg: { topic: 'preset', payload: 0 }, error: /preset must be/ },
      { target: 'wcmd', msg: { topic: 'preset', payload: 7 }, error: /preset must be from 1 to 6 on this device, got 7/, reads: ['getStatusEx'] },
      { target: 'wcmd', msg: { topic: 'preset', payload: 100 }, error: /preset must be/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: 'setPlayerCmd:vol:5&x=1' }, error: /"&", "#" or control characters is refused/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: 'getStatusEx#top' }, error: /refused/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: 'getStatus\u0001Ex' }, error: /refused/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: 'setPlayerCmd:vol:5\u007f' }, error: /refused/ },
      { target: 'wcmd', msg: { topic: 'raw', payload: '' }, error: /raw takes a command string/ },
      { target: 'wcmd', msg: { topic: 'source', payload: 'gramophone' }, error: /source must be one of/ },
      { target: 'wcmd', msg: { topic: 'source', payload: { x: 1 } }, error: /source must be a string/ },
      { target: 'wcmd', msg: { topic: 'repeat', payload: 'sometimes' }, error: /repeat/ },
      { target: 'wcmd', msg: { topic: 'repeat', payload: { repeat: 'all', shuffle: 'maybe' } }, error: /shuffle must be true or false/ },
      {
        target: 'wcmd',
        msg: { topic: 'alarm', payload: { op: 'set', n: 3, trigger: 5, time: '080000', day: '15', url: 'http://a/b' } },
        error: /alarm n must be from 0 to 2/,
      },
      {
        target: 'wcmd',
        msg: { topic: 'alarm', payload: { op: 'set', n: 0, trigger: 5, time: '250000', day: '15', url: 'http://a/b' } },
        error: /alarm time must be HHMMSS/,
      },
      {
        target: 'wcmd',
        msg: { topic: 'alarm', payload: { op: 'set', n: 0, trigger: 5, time: '080000', day: '32', url: 'http://a/b' } },
        error: /trigger 5 \(monthly\)/,
      },
      { target: 'wcmd', msg: { topic: 'alarm', payload: { op: 'set', n: 0, trigger: 9, time: '080000' } }, error: /alarm trigger must be from 0 to 5/ },
      { target: 'wcmd', msg: { topic: 'alarm', payload: 'at seven' }, error: /alarm takes/ },
      { target: 'wcmd', msg: { topic: 'shutdown', payload: 'x' }, error: /shutdown seconds must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'shutdown', payload: -2 }, error: /shutdown seconds must be from -1/ },
      { target: 'wcmd', msg: { payload: { command: 'join' } }, error: /join \(the leader address\)/ },
      { target: 'wcmd', msg: { topic: 'join', payload: '10.0.0.1:80/x' }, error: /must be an IP address or host name/ },
      { target: 'wcmd', msg: { topic: 'kick', payload: '10.0.0.7;reboot' }, error: /must be an IP address or host name/ },
      { target: 'wcmd', msg: { topic: 'time-sync', payload: 'not a date' }, error: /is not a date/ },
      { target: 'wcmd', msg: { topic: 'time-sync', payload: '1999-12-31T00:00:00Z' }, error: /year must be from 2000 to 2099/ },
      { target: 'wcmd', msg: { topic: 'playlist', payload: { index: 1 } }, error: /playlist URL/ },
      { target: 'wcmd', msg: { topic: 'playlist', payload: { url: 'http://h/l.m3u', index: -1 } }, error: /playlist index/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'javascript alert' }, error: /play URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'play', payload: `http://h/${'a'.repeat(4000)}` }, error: /must be shorter than/ },
      { target: 'wcmd', msg: { topic: 'mute', payload: 'loud' }, error: /mute takes true, false or "toggle"/ },
      { target: 'wcmd', msg: { payload: { command: 'dance', value: 1 } }, error: /unknown command "dance"/ },
      { target: 'wcmd', msg: { payload: 'hello' }, error: /no command in the message/ },
      { target: 'wcmd', msg: { payload: 42 }, error: /no command in the message/ },
      // the settings of the models beyond the Mini (the simulator is a Mini)
      { target: 'wcmd', msg: { topic: 'output', payload: 'hdmi-in' }, error: /output must be one of optical, line-out/ },
      { target: 'wcmd', msg: { topic: 'output', payload: { to: 'optical' } }, error: /output must be a string/ },
      { target: 'wcmd', msg: { topic: 'balance', payload: 2 }, error: /balance must be a number from -1 to 1, got number 2/ },
      { target: 'wcmd', msg: { topic: 'balance', payload: 'left' }, error: /balance must be a number, got "left"/ },
      { target: 'wcmd', msg: { topic: 'led', payload: 'dim' }, error: /led takes on or off/ },
      { target: 'wcmd', msg: { topic: 'led', payload: '' }, error: /led takes on or off/ },
      { target: 'wcmd', msg: { topic: 'buttons', payload: 'x' }, error: /buttons takes on or off/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { crossover: 20 } }, error: /sub crossover \(Hz\) must be from 30 to 250, got 20/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { phase: 90 } }, error: /sub phase must be 0 or 180/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { level: 16 } }, error: /sub level \(dB\) must be from -15 to 15/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { delay: -201 } }, error: /sub delay \(ms\) must be from -200 to 200/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: { volume: 3 } }, error: /sub: unknown field volume/ },
      { target: 'wcmd', msg: { topic: 'sub', payload: {} }, error: /any of them/ },
      {
        target: 'wcmd',
        msg: { topic: 'sub', payload: { enabled: true } },
        error: /sub is a setting of WiiM Ultra, WiiM Amp; WiiM Mini does not have it/,
        reads: ['getStatusEx'],
      },
      { target: 'wcmd', msg: { topic: 'trigger', payload: 'maybe' }, error: /trigger takes on or off/ },
      {
        target: 'wcmd',
        msg: { topic: 'trigger', payload: true },
        error: /trigger is a setting of WiiM Ultra; WiiM Mini does not have it/,
        reads: ['getStatusEx'],
      },
      { target: 'wcmd', msg: { topic: 'eq-bands', payload: { 31: 100 } }, error: /eq-bands value must be from 0 to 99, got 100/ },
      { target: 'wcmd', msg: { topic: 'eq-bands', payload: { 30: 50 } }, error: /"30" is not a band/ },
      { target: 'wcmd', msg: { topic: 'eq-bands', payload: [50, 50] }, error: /array of 10 values, got 2/ },
      { target: 'wcmd', msg: { topic: 'group-volume', payload: 101 }, error: /group-volume must be from 0 to 100, got 101/ },
      { target: 'wcmd', msg: { topic: 'group-volume', payload: '' }, error: /group-volume must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'group-mute', payload: 'x' }, error: /group-mute takes on or off/ },
      { target: 'wcmd', msg: { topic: 'member-volume', payload: { ip: '10.0.0.7', volume: 200 } }, error: /member-volume volume must be from 0 to 100/ },
      { target: 'wcmd', msg: { topic: 'member-volume', payload: { volume: 5 } }, error: /the member address \(ip\) must be a string/ },
      { target: 'wcmd', msg: { topic: 'member-volume', payload: { ip: 'a b', volume: 5 } }, error: /must be the IPv4 address of a follower/ },
      // a follower is named by its IPv4 address, and only one in the group now is sent to
      ...['999.1.1.1', 'host.example', '1'].flatMap((ip) => [
        {
          target: 'wcmd',
          msg: { topic: 'member-volume', payload: { ip, volume: 5 } },
          error: /the member address \(ip\) must be the IPv4 address of a follower/,
        },
        {
          target: 'wcmd',
          msg: { topic: 'member-mute', payload: { ip, muted: true } },
          error: /the member address \(ip\) must be the IPv4 address of a follower/,
        },
      ]),
      {
        target: 'wcmd',
        msg: { topic: 'member-volume', payload: { ip: '10.0.0.9', volume: 5 } },
        error: /member-volume: 10\.0\.0\.9 is not a follower in this group/,
        reads: ['multiroom:getSlaveList'],
      },
      // eq-bands keys are the band names exactly
      ...['1e3', ' 31', '0x1F'].map((key) => ({
        target: 'wcmd',
        msg: { topic: 'eq-bands', payload: { [key]: 50 } },
        error: /is not a band; the bands are 31, 63/,
      })),
      { target: 'wcmd', msg: { topic: 'member-mute', payload: { ip: '10.0.0.7' } }, error: /member-mute muted takes on or off/ },
      { target: 'wcmd', msg: { topic: 'member-mute', payload: 'x' }, error: /member-mute takes \{ip, ...\}/ },
      { target: 'wcmd', msg: { topic: 'notify', payload: 'ding' }, error: /notify URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'firmware', payload: 'flash' }, error: /firmware takes "check", "start" or "status"/ },
      // numbers in plain decimal notation only, within range; URLs http(s) only
      ...['0x10', '1e1', 'Infinity', ' 12abc', '1_0', ''].map((payload) => ({
        target: 'wcmd',
        msg: { topic: 'volume', payload },
        error: /volume must be a whole number/,
      })),
      { target: 'wcmd', msg: { topic: 'volume', payload: Number.NaN }, error: /volume must be a whole number .*, got number NaN/ },
      { target: 'wcmd', msg: { topic: 'volume', payload: Number.POSITIVE_INFINITY }, error: /got number Infinity/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: 1e21 }, error: /seek must be from 0 to 2147483 s, got number 1e\+21/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: '1e21' }, error: /seek takes a position in seconds/ },
      { target: 'wcmd', msg: { topic: 'seek', payload: Number.NaN }, error: /seek takes a position in seconds \(0 or more\), got number NaN/ },
      { target: 'wcmd', msg: { topic: 'preset', payload: '0x1' }, error: /preset must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'shutdown', payload: '1e3' }, error: /shutdown seconds must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'playlist', payload: { url: 'http://h/l.m3u', index: '0x2' } }, error: /playlist index must be a whole number/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'file:///etc/passwd' }, error: /play URL must be a URL \(http:\/\/\.\.\., https:\/\/\.\.\.\)/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'javascript:alert(1)' }, error: /play URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'data:audio/mp3;base64,AAAA' }, error: /play URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'play', payload: { url: 'ftp://h/a.mp3' } }, error: /play URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'play', payload: 'http://h/a.mp3\r\nHost: x' }, error: /play URL contains control characters/ },
      { target: 'wcmd', msg: { topic: 'playlist', payload: { url: 'file:///x.m3u' } }, error: /playlist URL must be a URL/ },
      { target: 'wcmd', msg: { topic: 'source', payload: 'wi\nfi' }, error: /source contains control characters/ },
      { target: 'wcmd', msg: { topic: 'eq', payload: 'Rock\u0000' }, error: /eq contains control characters/ },
      { target: 'wcmd', msg: { topic: 'join', payload: '10.0.0.1\r\nx' }, error: /join \(the leader address\) contains control characters/ },
      // wiim-command with a fixed command
      { target: 'wvol', msg: { payload: 101 }, error: /volume must be from 0 to 100, got 101/ },
      { target: 'wvol', msg: { payload: 'loud' }, error: /volume must be a whole number/ },
      { target: 'wvol150', msg: { payload: 20 }, error: /volume must be from 0 to 100, got 150/ },
      { target: 'wseek', msg: { payload: 99999 }, error: /past the end of the track/, reads: ['getPlayerStatus'] },
      { target: 'wraw', msg: { payload: 'x' }, error: /refused/ },
      // sonoff-switch
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: 7 } }, error: /outlet must be 0 on a single-channel device, not 7/ },
      { target: 'ssw', msg: { payload: 'maybe' }, error: /switch must be true\/false, 1\/0 or "on"\/"off", not "maybe"/ },
      { target: 'ssw', msg: { payload: { outlet: 0 } }, error: /needs a "switch" property/ },
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: 'x' } }, error: /outlet must be a number/ },
      { target: 'ssw', msg: { payload: 2 }, error: /switch must be/ },
      { target: 'ssw', msg: { topic: 'startup', payload: 'sometimes' }, error: /startup must be "on", "off" or "stay", not "sometimes"/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { password: 'secret12' } }, error: /wifi needs a non-empty ssid string/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { ssid: 'home', password: 12345678 } }, error: /wifi password must be a string/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { ssid: 'x'.repeat(40), password: 'p' } }, error: /longer than 32 bytes/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { ssid: 'home\r\nx', password: 'secret12' } }, error: /wifi ssid contains control characters/ },
      { target: 'ssw', msg: { topic: 'wifi', payload: { ssid: 'home', password: 'secret12\n' } }, error: /wifi password contains control characters/ },
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: '0x0' } }, error: /outlet must be a number, not "0x0"/ },
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: Number.NaN } }, error: /outlet must be a number, not NaN/ },
      { target: 'ssw', msg: { payload: { switch: 'on', outlet: '1e0' } }, error: /outlet must be a number, not "1e0"/ },
      { target: 'ssw7', msg: { payload: true }, error: /outlet must be 0 on a single-channel device, not 7/ },
      { target: 'msw', msg: { payload: { switch: true, outlet: 4 } }, error: /outlet must be an integer from 0 to 3, not 4/ },
      // sonoff-pulse
      { target: 'spulse', msg: { payload: 700 }, error: /pulse width must be a multiple of 500 ms from 500 to 3600000 ms on a single-channel device, not 700/ },
      { target: 'spulse', msg: { payload: 0 }, error: /multiple of 500 ms/ },
      { target: 'spulse', msg: { payload: -500 }, error: /multiple of 500 ms/ },
      { target: 'spulse', msg: { payload: 3600500 }, error: /from 500 to 3600000 ms/ },
      { target: 'spulse', msg: { payload: 'abc' }, error: /pulse must be true\/false/ },
      { target: 'spulse', msg: { payload: { width: 'abc' } }, error: /pulse width must be a number of ms/ },
      { target: 'spulse', msg: { payload: { pulse: 'maybe', width: 1000 } }, error: /pulse must be/ },
      { target: 'spulse', msg: { payload: { pulse: true, width: 1000, outlet: 2 } }, error: /outlet must be 0/ },
      { target: 'spulse', msg: { payload: { pulse: true, width: 1250 } }, error: /multiple of 500 ms .* not 1250/ },
      { target: 'spulse', msg: { payload: '1e3' }, error: /pulse must be true\/false/ },
      { target: 'spulse', msg: { payload: { width: '0x3e8' } }, error: /pulse width must be a number of ms, not "0x3e8"/ },
      { target: 'spulse', msg: { payload: { width: Number.NaN } }, error: /pulse width must be a number of ms, not NaN/ },
      { target: 'spulse', msg: { payload: { width: 'Infinity' } }, error: /pulse width must be a number of ms, not "Infinity"/ },
      { target: 'spulse', msg: { payload: { width: 1e21 } }, error: /from 500 to 3600000 ms/ },
      { target: 'spulse700', msg: { payload: true }, error: /multiple of 500 ms .* not 700/ },
      { target: 'mpulse', msg: { payload: 3600000 }, error: /from 500 to 3599500 ms on a multi-channel device, not 3600000/ },
      { target: 'mpulse', msg: { payload: { pulse: true, width: 1000, switch: 'maybe' } }, error: /switch must be/ },
      // sonoff-dimmer
      { target: 'sdim', msg: { payload: 101 }, error: /brightness must be an integer from 1 to 100, not 101/ },
      { target: 'sdim', msg: { payload: -1 }, error: /brightness must be 0 \(off\) or an integer from 1 to 100/ },
      { target: 'sdim', msg: { payload: 2.5 }, error: /brightness must be 0 \(off\) or an integer/ },
      { target: 'sdim', msg: { payload: 'bright' }, error: /switch must be true\/false/ },
      { target: 'sdim', msg: { payload: { brightness: 500 } }, error: /from 1 to 100, not 500/ },
      { target: 'sdim', msg: { payload: { switch: 'maybe', brightness: 50 } }, error: /switch must be/ },
      { target: 'sdim', msg: { payload: { colour: 'red' } }, error: /needs "switch" and\/or "brightness"/ },
      { target: 'sdimrelay', msg: { payload: 50 }, error: /is not a dimmer/ },
      // sonoff-ota
      { target: 'sota', msg: { payload: makeFirmwareImage(600 * 1024) }, error: /at most 520192 bytes \(508 KB\)/ },
      { target: 'sota', msg: { payload: makeFirmwareImage(4096, 2) }, error: /SPI flash mode DIO; SONOFF DIY devices need DOUT/ },
      { target: 'sota', msg: { payload: Buffer.from('not firmware at all') }, error: /header magic 0xE9 missing/ },
      { target: 'sota', msg: { payload: Buffer.alloc(0) }, error: /image is empty/ },
      {
        target: 'sota',
        msg: { payload: path.join(dir, 'missing.bin') },
        error: /cannot read the firmware image at .*missing\.bin: give the path of a regular file/,
      },
      { target: 'sota', msg: { payload: bigFile }, error: /at most 520192 bytes/ },
      { target: 'sota', msg: { payload: { url: 'http://127.0.0.1:1/fw.bin', sha256: 'xyz' } }, error: /sha256 must be 64 hexadecimal digits/ },
      { target: 'sota', msg: { payload: { url: 'ftp://127.0.0.1/fw.bin', sha256: hex64 } }, error: /must be plain http:\/\// },
      { target: 'sota', msg: { payload: { url: 'http://127.0.0.1/fw\n.bin', sha256: hex64 } }, error: /downloadUrl contains control characters/ },
      { target: 'sota', msg: { payload: { url: 'file:///fw.bin', sha256: hex64 } }, error: /must be plain http:\/\// },
      { target: 'sotabig', msg: { payload: '' }, error: /at most 520192 bytes/ },
      { target: 'sotasha', msg: { payload: makeFirmwareImage(4096) }, error: /does not match the sha256 setting/ },
    ];

    /** The command a WiiM case sends: the node's own, or the message's. */
    const fixedCommand: Record<string, string> = { wvol: 'volume', wvol150: 'volume', wseek: 'seek', wraw: 'raw' };
    const commandOf = (c: Case): unknown => fixedCommand[c.target] ?? c.msg.topic ?? (c.msg.payload as { command?: unknown } | undefined)?.command;

    it('has a case for every WiiM command that refuses a bad argument', () => {
      const bad: unknown[] = [{ nonsense: true }, -1, '\u0001', 'x'.repeat(5000)];
      const refuses = (name: string) =>
        bad.some((value) => {
          try {
            prepareCommand(commandRequest(name, value));
            return false;
          } catch (err) {
            return err instanceof DeviceError && err.kind === 'argument';
          }
        });
      const covered = new Set(cases.filter((c) => c.target.startsWith('w')).map(commandOf));
      assert.deepEqual(
        WIIM_COMMANDS.filter((name) => refuses(name) && !covered.has(name)),
        [],
      );
    });

    it(`refuses ${cases.length} malformed messages with a clear error, and nothing reaches a device`, async () => {
      wiim.playTrack(0); // a track with a length, for "seek past the end"
      await load(
        withTab([
          wiimCfg('wcfg', wport),
          { id: 'wst', type: 'wiim-status', device: 'wcfg', output: 'change', meta: false, wires: [[]] },
          { id: 'wcmd', type: 'wiim-command', device: 'wcfg', command: '', value: '', wires: [['out']] },
          { id: 'wvol', type: 'wiim-command', device: 'wcfg', command: 'volume', value: '', wires: [['out']] },
          { id: 'wvol150', type: 'wiim-command', device: 'wcfg', command: 'volume', value: '150', wires: [['out']] },
          { id: 'wseek', type: 'wiim-command', device: 'wcfg', command: 'seek', value: '', wires: [['out']] },
          { id: 'wraw', type: 'wiim-command', device: 'wcfg', command: 'raw', value: 'getStatusEx&x', wires: [['out']] },
          sonoffCfg('scfg', single.address.port),
          sonoffCfg('mcfg', multi.address.port, { deviceid: '1000fedcba', model: 'multi' }),
          { id: 'ssw', type: 'sonoff-switch', device: 'scfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
          { id: 'ssw7', type: 'sonoff-switch', device: 'scfg', outlet: '7', payloadType: 'boolean', wires: [['out']] },
          { id: 'msw', type: 'sonoff-switch', device: 'mcfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
          { id: 'spulse', type: 'sonoff-pulse', device: 'scfg', outlet: '0', width: '', wires: [['out']] },
          { id: 'spulse700', type: 'sonoff-pulse', device: 'scfg', outlet: '0', width: '700', wires: [['out']] },
          { id: 'mpulse', type: 'sonoff-pulse', device: 'mcfg', outlet: '1', width: '', wires: [['out']] },
          { id: 'sota', type: 'sonoff-ota', device: 'scfg', firmware: '', sha256: '', wires: [['out']] },
          sonoffCfg('dcfg', d1.address.port, { deviceid: '1000d1d1d1' }),
          { id: 'sdim', type: 'sonoff-dimmer', device: 'dcfg', wires: [['out']] },
          { id: 'sdimrelay', type: 'sonoff-dimmer', device: 'scfg', wires: [['out']] },
          { id: 'sotabig', type: 'sonoff-ota', device: 'scfg', firmware: bigFile, sha256: '', wires: [['out']] },
          { id: 'sotasha', type: 'sonoff-ota', device: 'scfg', firmware: '', sha256: 'ab'.repeat(32), wires: [['out']] },
          ...catcher,
        ]),
      );
      // the first readings (one poll, one info each); polling is off or an hour apart after that
      await until(
        () =>
          sessionOf<WiimSession>('wcfg').state !== undefined &&
          sessionOf<SonoffSession>('scfg').state !== undefined &&
          sessionOf<SonoffSession>('mcfg').state !== undefined &&
          sessionOf<SonoffSession>('dcfg').state !== undefined,
        'first readings',
      );
      // and the reads behind them are over
      await until(
        () =>
          [sessionOf<WiimSession>('wcfg'), sessionOf<SonoffSession>('scfg'), sessionOf<SonoffSession>('mcfg'), sessionOf<SonoffSession>('dcfg')].every(
            (x) => !x.queue.busy,
          ),
        'the first reads to end',
      );
      const sims = { wiim: () => wiim.requests.length, single: () => single.requests.length, multi: () => multi.requests.length, d1: () => d1.requests.length };
      for (const c of cases) {
        const before = { wiim: sims.wiim(), single: sims.single(), multi: sims.multi(), d1: sims.d1() };
        const label = `${c.target} ${JSON.stringify(c.msg, (_k, v: unknown) => (typeof v === 'string' && v.length > 60 ? `${v.slice(0, 20)}…` : v))?.slice(0, 120)}`;
        const caught = await refused(c.target, { ...c.msg }, c.error).catch((err: Error) => assert.fail(`${label}: ${err.message}`));
        assert.doesNotMatch(caught.error.message, /secret12/, 'a password never appears in an error');
        const wiimNew = wiim.requests.slice(before.wiim).map((q) => (q === 'multiroom:getSlaveList' ? q : q.split(':')[0]));
        assert.deepEqual(
          wiimNew.filter((q) => !(c.reads ?? []).includes(q)),
          [],
          `${label}: only reads reached the WiiM device`,
        );
        assert.deepEqual(
          wiimNew.filter((q) => q !== 'EQGetList' && q !== 'getPlayerStatus' && q !== 'getStatusEx' && q !== 'multiroom:getSlaveList'),
          [],
          `${label}: no command reached the WiiM device`,
        );
        const sonoffNew = [...single.requests.slice(before.single), ...multi.requests.slice(before.multi), ...d1.requests.slice(before.d1)].map(
          (q) => q.endpoint,
        );
        assert.deepEqual(sonoffNew, [], `${label}: nothing reached the relay`);
      }
      // devices untouched
      assert.equal(wiim.state.volume, 30);
      assert.equal(single.outlets[0].pulse, false);
      assert.deepEqual(single.flashes, []);
      // and the nodes still work
      assert.equal((await ok('wcmd', { topic: 'volume', payload: 40 })).payload, 40);
      assert.equal((await ok('ssw', { payload: true })).payload, true);
      assert.equal(single.outlets[0].on, true);
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
      // polls at the interval until the third bad reply, then 2^n s apart up to the 30 s cap (the WiiM backs off from its first bad reply)
      assert.deepEqual(pollTimes.wiim, [1, 2, 4, 8, 16, 32]);
      assert.deepEqual(pollTimes.relay, [1, 2, 3, 7, 15, 31]);
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
        await clock.advance(3000);
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
