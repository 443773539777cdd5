import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { Agent, request } from 'undici';
import { coreNode, helper, node, withTab } from '../test/helpers/runtime';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import wiimStatus from '../src/nodes/wiim-status';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import type { WiimSession } from '../src/sessions/wiim-session';
import type { SonoffSession } from '../src/sessions/sonoff-session';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator } from '../src/sim/sonoff-sim';
import { KEEP_ALIVE_MS } from '../src/shared/http';
import { prepareCommand } from '../src/wiim/commands';
import { loadPlain } from './plain-runtime';
import { fmtMs, median, percentile, sleep } from './stats';

/**
 * `npm run bench`: speed and cost, measured side by side in one run against
 * simulators on loopback. Every timed reply is checked; only correct ones
 * count. Prints a table and writes bench/results.json.
 */

const root = path.resolve(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startNodeRed } = require(path.join(root, 'scripts', 'node-red-instance.js')) as {
  startNodeRed(options: Record<string, unknown>): Promise<{ child: ChildProcess; output: string; stop(): Promise<void> }>;
};

const httpRequestNode = coreNode('network/21-httprequest.js');
const catchNode = coreNode('common/25-catch.js');
const changeNode = coreNode('function/15-change.js');
const NODES = [wiimConfig, wiimCommand, wiimStatus, sonoffConfig, sonoffSwitch, httpRequestNode, catchNode, changeNode] as Array<(RED: unknown) => void>;

type Msg = Record<string, unknown> & { payload?: unknown };

interface Row {
  measure: string;
  figure: string;
  target: string;
  verdict: 'PASS' | 'MISS' | 'n/a' | '';
  note?: string;
}

const rows: Row[] = [];
const results: Record<string, unknown> = {};
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Sends msg into a node; resolves with the message at helper `outId`, or the error caught by 'caught'. */
function fire(target: string, msg: Msg, outId: string, timeoutMs = 10000): Promise<{ out?: Msg; error?: string; ms: number }> {
  const out = node(outId) as unknown as EventEmitter;
  const caught = node('caught') as unknown as EventEmitter;
  return new Promise((resolve) => {
    const finish = (r: { out?: Msg; error?: string }) => {
      clearTimeout(timer);
      out.removeListener('input', onOut);
      caught.removeListener('input', onCaught);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const onOut = (m: Msg) => finish({ out: m });
    const onCaught = (m: Msg & { error: { message: string; source: { id: string } } }) => {
      if (m.error.source.id === target) finish({ error: m.error.message });
    };
    const timer = setTimeout(() => finish({ error: 'no answer within the deadline' }), timeoutMs);
    out.on('input', onOut);
    caught.on('input', onCaught);
    const t0 = performance.now();
    node(target).receive(msg);
  });
}

/** Times `fn`, which returns whether the reply was right; wrong ones are counted, not timed. */

/** A wiim-config node for a simulator on loopback, as every part uses it; `fields` add to it or override it. */
function benchWiimConfig(id: string, name: string, port: number, fields: Record<string, string> = {}): Record<string, string> {
  return {
    id,
    type: 'wiim-config',
    name,
    host: '127.0.0.1',
    port: String(port),
    protocol: 'https',
    timeout: '5000',
    pollPlaying: '1',
    pollIdle: '5',
    fingerprint: '',
    ...fields,
  };
}
async function timed(samples: number[], wrong: { n: number; last?: string }, fn: () => Promise<true | string>): Promise<void> {
  const t0 = performance.now();
  const ok = await fn().catch((err: unknown) => String(err));
  const dt = performance.now() - t0;
  if (ok === true) samples.push(dt);
  else {
    wrong.n++;
    wrong.last = ok;
  }
}

/** `items` in an order that depends only on `seed` (Fisher–Yates over a small LCG). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function verdict(pass: boolean): 'PASS' | 'MISS' {
  return pass ? 'PASS' : 'MISS';
}

// ---------------------------------------------------------------- 1 + 2: overhead, command to state

async function overheadAndState(): Promise<void> {
  const wiim = new WiimSimulator({ name: 'Bench WiiM' });
  const relay = new SonoffSimulator({ deviceid: '1000aaaaaa' });
  await wiim.start({ port: 0 });
  await relay.start({ port: 0 });
  // the floor keeps its connections just as long as ours (undici's default
  // would take 2 s off the relay simulator's 2 s Keep-Alive hint, and keep none)
  const agent = new Agent({
    connect: { rejectUnauthorized: false },
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
    keepAliveTimeoutThreshold: 1000,
  });
  try {
    await loadPlain(
      NODES,
      withTab([
        benchWiimConfig('wcfg', 'Bench WiiM', wiim.port),
        { id: 'wcmd', type: 'wiim-command', device: 'wcfg', command: '', value: '', wires: [['wout']] },
        { id: 'wout', type: 'helper' },
        {
          id: 'scfg',
          type: 'sonoff-config',
          name: 'Bench relay',
          deviceid: relay.deviceid,
          host: '127.0.0.1',
          port: String(relay.address.port),
          model: 'single',
          pollInterval: '0',
          timeout: '5000',
        },
        { id: 'ssw', type: 'sonoff-switch', device: 'scfg', outlet: '0', payloadType: 'boolean', wires: [['sout']] },
        { id: 'sout', type: 'helper' },
        { id: 'hop', type: 'change', name: '', rules: [], wires: [['hout']] },
        { id: 'hout', type: 'helper' },
        {
          id: 'core',
          type: 'http request',
          name: '',
          method: 'use',
          ret: 'txt',
          paytoqs: 'ignore',
          url: '',
          tls: '',
          persist: true,
          proxy: '',
          insecureHTTPParser: false,
          authType: '',
          senderr: false,
          headers: [],
          wires: [['cout']],
        },
        { id: 'cout', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );

    // --- WiiM: volume, three ways, interleaved
    type Variant = 'raw' | 'dispatch' | 'core' | 'ours' | 'session' | 'hop';
    const w: Record<Variant, number[]> = { raw: [], dispatch: [], core: [], ours: [], session: [], hop: [] };
    const wWrong: Record<Variant, { n: number; last?: string }> = {
      raw: { n: 0 },
      dispatch: { n: 0 },
      core: { n: 0 },
      ours: { n: 0 },
      session: { n: 0 },
      hop: { n: 0 },
    };
    const wsession = (node('wcfg') as unknown as { session: WiimSession }).session;
    const cmdUrl = (v: number) => `${wiim.url}/httpapi.asp?command=setPlayerCmd:vol:${v}`;
    // a long warm-up: undici's parser (WebAssembly), TLS and Node-RED's
    // paths tier up over the first thousand or so requests, and a Node-RED
    // that runs for days runs warm code
    const WARM = 1000;
    const ROUNDS = 1000;
    const variants: Array<[Variant, (v: number) => Promise<true | string>]> = [
      [
        'raw',
        async (v) => {
          const res = await request(cmdUrl(v), { dispatcher: agent });
          const body = await res.body.text();
          return res.statusCode === 200 && body === 'OK' && wiim.state.volume === v ? true : `raw: ${res.statusCode} ${body}`;
        },
      ],
      // undici's lowest API: no body stream per reply (our transport has its own HTTP/1.1, src/shared/http.ts)
      [
        'dispatch',
        (v) =>
          new Promise((resolve) => {
            const chunks: Buffer[] = [];
            let status = 0;
            agent.dispatch(
              { origin: wiim.url, path: `/httpapi.asp?command=setPlayerCmd:vol:${v}`, method: 'GET' },
              {
                onRequestStart: () => undefined, // undici takes a handler without it for the old API
                onResponseStart: (_c, code) => {
                  status = code;
                },
                onResponseData: (_c, chunk) => {
                  chunks.push(chunk);
                },
                onResponseEnd: () => {
                  const body = Buffer.concat(chunks).toString();
                  resolve(status === 200 && body === 'OK' && wiim.state.volume === v ? true : `dispatch: ${status} ${body}`);
                },
                onResponseError: (_c, err) => resolve(`dispatch: ${err.message}`),
              },
            );
          }),
      ],
      [
        'core',
        async (v) => {
          const r = await fire('core', { url: cmdUrl(v), method: 'GET', rejectUnauthorized: false, payload: '' }, 'cout');
          return r.out && r.out.statusCode === 200 && r.out.payload === 'OK' && wiim.state.volume === v
            ? true
            : `core: ${r.error ?? JSON.stringify(r.out?.payload)}`;
        },
      ],
      [
        'ours',
        async (v) => {
          const r = await fire('wcmd', { topic: 'volume', payload: v }, 'wout');
          return r.out && r.out.payload === v && wiim.state.volume === v ? true : `ours: ${r.error ?? JSON.stringify(r.out?.payload)}`;
        },
      ],
      // where the difference goes: our session without Node-RED, and one Node-RED hop without a device
      [
        'session',
        async (v) => {
          const r = await wsession.command(prepareCommand({ command: 'volume', arg: v }));
          return r.payload === v && wiim.state.volume === v ? true : `session: ${JSON.stringify(r.payload)}`;
        },
      ],
      [
        'hop',
        async (v) => {
          const r = await fire('hop', { payload: v }, 'hout');
          return r.out?.payload === v ? true : 'hop: no output';
        },
      ],
    ];
    let v = 0;
    for (let i = 0; i < WARM + ROUNDS; i++) {
      const keep = i >= WARM;
      // a new order each round (seeded, so runs repeat), so that no variant
      // always runs just after the same other one, whose leftover work (the
      // core node's socket bookkeeping, say) would land in its time
      const order = shuffled(variants, i);
      for (const [name, run] of order) {
        v = (v + 1) % 100;
        const value = v;
        await timed(keep ? w[name] : [], wWrong[name], () => run(value));
      }
    }
    const wm = { raw: median(w.raw), dispatch: median(w.dispatch), core: median(w.core), ours: median(w.ours), session: median(w.session), hop: median(w.hop) };
    results.wiimCommand = {
      rounds: ROUNDS,
      medianMs: wm,
      p90Ms: { raw: percentile(w.raw, 90), core: percentile(w.core, 90), ours: percentile(w.ours, 90) },
      wrong: wWrong,
      counted: { raw: w.raw.length, core: w.core.length, ours: w.ours.length },
    };
    rows.push({
      measure: 'WiiM volume: raw undici (floor)',
      figure: fmtMs(wm.raw),
      target: '',
      verdict: '',
      note: `${w.raw.length} correct, ${wWrong.raw.n} wrong`,
    });
    rows.push({
      measure: '  (raw undici dispatch, its lowest API)',
      figure: fmtMs(wm.dispatch),
      target: '',
      verdict: '',
      note: `${w.dispatch.length} correct; the cheapest way undici offers`,
    });
    rows.push({
      measure: 'WiiM volume: core http request',
      figure: fmtMs(wm.core),
      target: '',
      verdict: '',
      note: `${w.core.length} correct, ${wWrong.core.n} wrong`,
    });
    rows.push({
      measure: 'WiiM volume: wiim-command',
      figure: fmtMs(wm.ours),
      target: '',
      verdict: '',
      note: `${w.ours.length} correct, ${wWrong.ours.n} wrong`,
    });
    rows.push({
      measure: '  (WiiM session.command, no Node-RED)',
      figure: fmtMs(wm.session),
      target: '',
      verdict: '',
      note: `${w.session.length} correct; our protocol stack alone`,
    });
    rows.push({
      measure: '  (one Node-RED hop: change node, no device)',
      figure: fmtMs(wm.hop),
      target: '',
      verdict: '',
      note: 'receive → output of a node that does nothing',
    });
    rows.push({
      measure: 'wiim-command / raw',
      figure: `${(wm.ours / wm.raw).toFixed(2)}×`,
      target: '≤ 1.15×',
      verdict: verdict(wm.ours / wm.raw <= 1.15),
      note: `session alone: ${(wm.session / wm.raw).toFixed(2)}×; wiim-command / undici dispatch: ${(wm.ours / wm.dispatch).toFixed(2)}×`,
    });
    rows.push({
      measure: 'wiim-command / core http request',
      figure: `${(wm.ours / wm.core).toFixed(2)}×`,
      target: '≤ 0.70×',
      verdict: verdict(wm.ours / wm.core <= 0.7),
    });

    // --- SONOFF: switch, four ways, interleaved; our session keeps 200 ms between requests
    const s: Record<'raw' | 'core' | 'ours' | 'session', number[]> = { raw: [], core: [], ours: [], session: [] };
    const sWrong: Record<'raw' | 'core' | 'ours' | 'session', { n: number; last?: string }> = {
      raw: { n: 0 },
      core: { n: 0 },
      ours: { n: 0 },
      session: { n: 0 },
    };
    const ssession = (node('scfg') as unknown as { session: SonoffSession }).session;
    const SWARM = 5;
    const SROUNDS = 50;
    // every variant waits the same 210 ms first: our session keeps 200 ms between requests,
    // and a connection idle that long answers slower than one in constant use
    const switchUrl = `${relay.url}/zeroconf/switch`;
    const body = (on: boolean) => ({ deviceid: relay.deviceid, data: { switch: on ? 'on' : 'off' } });
    type SonoffVariant = 'raw' | 'core' | 'ours' | 'session';
    const sonoffVariants: Array<{ key: SonoffVariant; run: (on: boolean) => Promise<true | string> }> = [
      {
        key: 'raw',
        run: async (value) => {
          const res = await request(switchUrl, {
            dispatcher: agent,
            method: 'POST',
            body: JSON.stringify(body(value)),
            headers: { 'content-type': 'application/json' },
          });
          const reply = (await res.body.json()) as { error?: number };
          return res.statusCode === 200 && reply.error === 0 && relay.outlets[0].on === value ? true : `raw: ${JSON.stringify(reply)}`;
        },
      },
      {
        key: 'core',
        run: async (value) => {
          const r = await fire(
            'core',
            { url: switchUrl, method: 'POST', payload: JSON.stringify(body(value)), headers: { 'content-type': 'application/json' } },
            'cout',
          );
          let reply: { error?: number } = {};
          try {
            reply = JSON.parse(String(r.out?.payload)) as { error?: number };
          } catch {
            // counted as wrong below
          }
          return r.out && r.out.statusCode === 200 && reply.error === 0 && relay.outlets[0].on === value ? true : `core: ${r.error ?? String(r.out?.payload)}`;
        },
      },
      {
        key: 'ours',
        run: async (value) => {
          const r = await fire('ssw', { payload: value }, 'sout');
          return r.out && r.out.payload === value && relay.outlets[0].on === value ? true : `ours: ${r.error ?? JSON.stringify(r.out?.payload)}`;
        },
      },
      {
        key: 'session',
        run: async (value) => {
          const snap = await ssession.setSwitch(0, value);
          return snap.state.on === value && relay.outlets[0].on === value ? true : 'session: wrong state';
        },
      },
    ];
    let on = relay.outlets[0].on;
    for (let i = 0; i < SWARM + SROUNDS; i++) {
      const keep = i >= SWARM;
      // a new order every round, as for WiiM: the core node's leftover socket work must not always land in the same variant
      for (const variant of shuffled(sonoffVariants, 1000 + i)) {
        on = !on;
        const value = on;
        await sleep(210); // our session's 200 ms gap between requests is not counted
        await timed(keep ? s[variant.key] : [], sWrong[variant.key], () => variant.run(value));
      }
    }
    const sm = { raw: median(s.raw), core: median(s.core), ours: median(s.ours), session: median(s.session) };
    results.sonoffSwitch = {
      rounds: SROUNDS,
      medianMs: sm,
      p90Ms: { raw: percentile(s.raw, 90), core: percentile(s.core, 90), ours: percentile(s.ours, 90) },
      wrong: sWrong,
      note: 'a 210 ms wait before each send of every variant (the session keeps 200 ms between requests) is not counted',
    };
    rows.push({
      measure: 'SONOFF switch: raw undici (floor)',
      figure: fmtMs(sm.raw),
      target: '',
      verdict: '',
      note: `${s.raw.length} correct, ${sWrong.raw.n} wrong`,
    });
    rows.push({
      measure: 'SONOFF switch: core http request',
      figure: fmtMs(sm.core),
      target: '',
      verdict: '',
      note: `${s.core.length} correct, ${sWrong.core.n} wrong`,
    });
    rows.push({
      measure: 'SONOFF switch: sonoff-switch',
      figure: fmtMs(sm.ours),
      target: '',
      verdict: '',
      note: `${s.ours.length} correct, ${sWrong.ours.n} wrong`,
    });
    rows.push({
      measure: '  (SONOFF session.setSwitch, no Node-RED)',
      figure: fmtMs(sm.session),
      target: '',
      verdict: '',
      note: `${s.session.length} correct; our protocol stack alone`,
    });
    rows.push({
      measure: 'sonoff-switch / raw',
      figure: `${(sm.ours / sm.raw).toFixed(2)}×`,
      target: '≤ 1.15×',
      verdict: verdict(sm.ours / sm.raw <= 1.15),
      note: `session alone: ${(sm.session / sm.raw).toFixed(2)}×`,
    });
    rows.push({
      measure: 'sonoff-switch / core http request',
      figure: `${(sm.ours / sm.core).toFixed(2)}×`,
      target: '≤ 0.70×',
      verdict: verdict(sm.ours / sm.core <= 0.7),
    });

    // --- command to visible state: wiim-command volume -> the wiim-status output that shows it
    await helper.setFlows(
      withTab([
        benchWiimConfig('wcfg', 'Bench WiiM', wiim.port),
        { id: 'wcmd', type: 'wiim-command', device: 'wcfg', command: '', value: '', wires: [['wout']] },
        { id: 'wout', type: 'helper' },
        { id: 'wst', type: 'wiim-status', device: 'wcfg', output: 'change', meta: false, wires: [['stout']] },
        { id: 'stout', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    await sleep(500);
    const visible: number[] = [];
    let visibleWrong = 0;
    const stout = node('stout') as unknown as EventEmitter;
    for (let i = 0; i < 45; i++) {
      const v = 10 + ((i * 7) % 80);
      if (v === wiim.state.volume) continue;
      const seen = new Promise<number>((resolve) => {
        const timer = setTimeout(() => {
          stout.removeListener('input', onState);
          resolve(Number.NaN);
        }, 10000);
        const onState = (m: Msg & { changed?: string[] }) => {
          if ((m.payload as { volume?: number }).volume === v && m.changed?.includes('volume')) {
            clearTimeout(timer);
            stout.removeListener('input', onState);
            resolve(performance.now());
          }
        };
        stout.on('input', onState);
      });
      const t0 = performance.now();
      node('wcmd').receive({ topic: 'volume', payload: v });
      const t1 = await seen;
      if (Number.isFinite(t1) && wiim.state.volume === v) {
        if (i >= 5) visible.push(t1 - t0);
      } else visibleWrong++;
      await sleep(20 + ((i * 37) % 60)); // spread over the poll cycle
    }
    const vm = median(visible);
    const pollMedian = 5000 / 2;
    results.commandToState = { wiimMedianMs: vm, samples: visible.length, wrong: visibleWrong, sonoffMedianMs: sm.ours, fixedPollMedianMsComputed: pollMedian };
    rows.push({
      measure: 'command → visible state (wiim-status)',
      figure: fmtMs(vm),
      target: '≤ 50 ms',
      verdict: verdict(vm <= 50),
      note: `${visible.length} correct, ${visibleWrong} wrong`,
    });
    rows.push({
      measure: 'command → visible state (sonoff-switch)',
      figure: fmtMs(sm.ours),
      target: '≤ 50 ms',
      verdict: verdict(sm.ours <= 50),
      note: 'the acknowledged output, from measure 1',
    });
    rows.push({
      measure: 'same with a fixed 5 s poll (computed)',
      figure: `${pollMedian} ms`,
      target: '',
      verdict: '',
      note: 'computed: half the poll period, not measured',
    });
  } finally {
    await helper.unload();
    await agent.close();
    await wiim.stop();
    await relay.stop();
  }
}

// ---------------------------------------------------------------- 3: push over mDNS in a netns

/** mDNS push → sonoff-switch output, from a DIY relay or (`encrypted`) a stock one in LAN mode with its devicekey. */
function push(encrypted: boolean): void {
  const measure = encrypted ? 'mDNS push → sonoff-switch output, encrypted' : 'mDNS push → sonoff-switch output';
  const key = encrypted ? 'pushEncrypted' : 'push';
  const probe = spawnSync('unshare', ['-n', 'true']);
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : String(probe.stderr).trim();
    rows.push({
      measure,
      figure: 'NOT MEASURED',
      target: '≤ 20 ms',
      verdict: 'n/a',
      note: `unshare -n unavailable: ${why}`,
    });
    results[key] = { measured: false, reason: why };
    if (process.env.CI === 'true') process.exitCode = 1;
    return;
  }
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const inner = [
    'ip link set lo up',
    'ip link set lo multicast on',
    'ip route add 224.0.0.0/4 dev lo',
    `exec ${[process.execPath, path.join(__dirname, 'push.js'), '30', ...(encrypted ? ['encrypted'] : [])].map(quote).join(' ')}`,
  ].join(' && ');
  const run = spawnSync('unshare', ['-n', 'sh', '-c', inner], { cwd: root, encoding: 'utf8', timeout: 60000 });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  let parsed: { samples: number[]; wrong: number } | undefined;
  try {
    parsed = JSON.parse(line) as { samples: number[]; wrong: number };
  } catch {
    parsed = undefined;
  }
  if (!parsed || run.status !== 0) {
    rows.push({ measure, figure: 'FAILED', target: '≤ 20 ms', verdict: 'MISS', note: (run.stderr || line).slice(0, 200) });
    results[key] = { measured: false, stderr: run.stderr };
    return;
  }
  const m = median(parsed.samples);
  results[key] = { measured: true, medianMs: m, p90Ms: percentile(parsed.samples, 90), samples: parsed.samples.length, wrong: parsed.wrong };
  rows.push({
    measure,
    figure: fmtMs(m),
    target: '≤ 20 ms',
    verdict: verdict(m <= 20),
    note: `${parsed.samples.length} correct, ${parsed.wrong} wrong; private netns${encrypted ? '; TXT records sealed with the devicekey (AES-128-CBC)' : ''}`,
  });
}

// ---------------------------------------------------------------- 4: burst

async function burst(): Promise<void> {
  const wiim = new WiimSimulator({ name: 'Burst' });
  await wiim.start({ port: 0 });
  wiim.faults.latencyMs = 100;
  try {
    await loadPlain(
      NODES,
      withTab([
        benchWiimConfig('bcfg', 'Burst', wiim.port),
        { id: 'bcmd', type: 'wiim-command', device: 'bcfg', command: '', value: '', wires: [['bout']] },
        { id: 'bout', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const outputs: Msg[] = [];
    const errors: Msg[] = [];
    (node('bout') as unknown as EventEmitter).on('input', (m: Msg) => outputs.push(m));
    (node('caught') as unknown as EventEmitter).on('input', (m: Msg) => errors.push(m));
    const values = Array.from({ length: 100 }, (_, i) => (i * 37 + 11) % 101);
    const last = values[values.length - 1];
    const t0 = performance.now();
    for (let i = 0; i < values.length; i++) {
      const due = t0 + i * 10;
      while (performance.now() < due) await sleep(Math.max(0, Math.min(5, due - performance.now())));
      node('bcmd').receive({ topic: 'volume', payload: values[i] });
    }
    const sentIn = performance.now() - t0;
    const deadline = Date.now() + 15000;
    while (outputs.length + errors.length < values.length && Date.now() < deadline) await sleep(20);
    await sleep(300);
    const requests = wiim.count('setPlayerCmd:vol');
    const final = wiim.state.volume;
    results.burst = {
      messages: values.length,
      sentInMs: sentIn,
      deviceRequests: requests,
      finalVolume: final,
      lastSent: last,
      outputs: outputs.length,
      errors: errors.length,
    };
    rows.push({
      measure: `burst: 100 volumes in ${Math.round(sentIn)} ms, device 100 ms`,
      figure: `${requests} requests`,
      target: '≤ 12',
      verdict: verdict(requests <= 12),
      note: `${outputs.length} outputs, ${errors.length} errors`,
    });
    rows.push({
      measure: 'burst: final device volume = last sent',
      figure: `${final} vs ${last}`,
      target: 'equal',
      verdict: verdict(final === last && outputs.length === values.length),
    });
  } finally {
    await helper.unload();
    await wiim.stop();
  }
}

// ---------------------------------------------------------------- 5: scale

interface ProbeDump {
  windowMs: number;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  newSpace: number;
  resolutionMs: number;
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(0);

/** utime + stime of a process or thread: /proc/<pid>/stat, or /proc/<pid>/task/<tid>/stat */
function cpuTicks(statPath: string): number {
  const stat = fs.readFileSync(statPath, 'utf8');
  // the fields after the command name (which may hold spaces) start after ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // fields 14 and 15
}

/** CPU ticks of the whole process, and of its main thread (the event loop) alone. */
function processTicks(pid: number): { all: number; main: number } {
  return { all: cpuTicks(`/proc/${pid}/stat`), main: cpuTicks(`/proc/${pid}/task/${pid}/stat`) };
}

/** Ends the probe's window (its figures) and starts the next one, with or without the delay histogram. */
async function probe(pid: number, file: string, histogram: boolean): Promise<ProbeDump> {
  fs.rmSync(file, { force: true });
  if (histogram) fs.writeFileSync(`${file}.histogram`, '');
  else fs.rmSync(`${file}.histogram`, { force: true });
  process.kill(pid, 'SIGWINCH');
  const deadline = Date.now() + 10000;
  while (!fs.existsSync(file) || fs.statSync(file).size === 0) {
    if (Date.now() > deadline) throw new Error('the event-loop probe did not answer');
    await sleep(20);
  }
  await sleep(50);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ProbeDump;
}

/** The resident set of process `pid`, in bytes. */
function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/**
 * Starts Node-RED with `flows`, lets it settle, then reads its CPU over a
 * first window of `seconds`, while V8 still compiles the paths a poll round
 * takes (reported, not judged), then CPU and memory over a second window,
 * the warm state a Node-RED that runs for days is in, and then the
 * event-loop delay over a third (the histogram's own timer would count as
 * CPU). The resident set is read every second and its median kept: glibc
 * hands freed memory back to the system only now and then, so one reading
 * at the end can land before or after such a return.
 */
async function measureNodeRed(
  flows: object[],
  settleMs: number,
  seconds: number,
  credentials: Record<string, Record<string, string>> = {},
): Promise<{ firstWindowCpuPercent: number; cpuPercent: number; mainThreadPercent: number; memory: ProbeDump; loop: ProbeDump; rssMedian: number }> {
  const file = path.join(os.tmpdir(), `nr-bench-probe-${process.pid}.json`);
  // BENCH_CPU_PROF=<dir>: the probe also writes a V8 CPU profile of each window there (for investigating a MISS)
  const env: Record<string, string> = { NODE_OPTIONS: `--require ${path.join(__dirname, 'eventloop-probe.js')}`, BENCH_PROBE_FILE: file };
  if (process.env.BENCH_CPU_PROF) env.BENCH_CPU_PROF = path.resolve(process.env.BENCH_CPU_PROF);
  // the devicekeys go where the editor would put them: flows_cred.json (the instance's credentialSecret is false, so plain JSON)
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-bench-'));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials));
  const nr = await startNodeRed({ flows, quiet: true, env, userDir });
  try {
    const pid = nr.child.pid as number;
    await sleep(settleMs);
    const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    const first0 = processTicks(pid).all;
    const firstStart = performance.now();
    await sleep(seconds * 1000);
    const firstWindowCpuPercent = ((processTicks(pid).all - first0) / hz / ((performance.now() - firstStart) / 1000)) * 100;
    // the CPU and memory window starts without the probe: its GC would land in it
    const ticks0 = processTicks(pid);
    const t0 = performance.now();
    const rss: number[] = [];
    while (performance.now() - t0 < seconds * 1000) {
      await sleep(Math.min(1000, seconds * 1000 - (performance.now() - t0)));
      rss.push(rssBytes(pid));
    }
    const ticks1 = processTicks(pid);
    const elapsed = (performance.now() - t0) / 1000;
    const memory = await probe(pid, file, true); // the heap after a GC; and starts the delay window
    await sleep(seconds * 1000);
    const loop = await probe(pid, file, false);
    const percent = (ticks: number) => (ticks / hz / elapsed) * 100;
    return {
      firstWindowCpuPercent,
      cpuPercent: percent(ticks1.all - ticks0.all),
      mainThreadPercent: percent(ticks1.main - ticks0.main),
      memory,
      loop,
      rssMedian: median(rss),
    };
  } finally {
    await nr.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.histogram`, { force: true });
  }
}

/** CPU share of bench/poll-floor.js, which makes the scale run's polls with plain undici, after it settled. */
async function measureFloor(ports: object, settleMs: number, seconds: number): Promise<number> {
  const child = spawn(process.execPath, [path.join(__dirname, 'poll-floor.js'), JSON.stringify(ports)], { stdio: 'inherit' });
  try {
    await sleep(settleMs);
    const pid = child.pid as number;
    const t0 = performance.now();
    const ticks0 = processTicks(pid).all;
    await sleep(seconds * 1000);
    const ticks = processTicks(pid).all - ticks0;
    const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    return (ticks / hz / ((performance.now() - t0) / 1000)) * 100;
  } finally {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill();
    await gone;
  }
}

/**
 * Part 5: 100 WiiM devices and 100 DIY relays. Part 7 (`mixed`): the same,
 * and 50 stock relays and 50 POWR3 meters in encrypted LAN mode, each with
 * a node (sonoff-switch, sonoff-sensor); its rows are its own, so that part
 * 5's keep their meaning.
 */
async function scale(mixed: boolean): Promise<void> {
  const seconds = Number(process.env.BENCH_SCALE_SECONDS ?? 60);
  const n = 100;
  const extra = mixed ? ['encrypted=50', 'meters=50'] : [];
  const sims = spawn(process.execPath, [path.join(__dirname, 'sims.js'), String(n), ...extra], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: sims.stdout as NodeJS.ReadableStream });
  const nextLine = () => new Promise<string>((resolve) => lines.once('line', resolve));
  try {
    const ports = JSON.parse(await nextLine()) as {
      wiim: number[];
      sonoff: Array<{ port: number; deviceid: string; devicekey?: string; meter?: boolean }>;
    };
    const tab = { id: 'bench', type: 'tab', label: 'bench' };
    const flows: object[] = [tab];
    const credentials: Record<string, Record<string, string>> = {};
    ports.wiim.forEach((port, i) => {
      // this row measures polling; the events rows are section 6
      flows.push(benchWiimConfig(`wcfg${i}`, `WiiM ${i}`, port, { events: 'off' }));
      flows.push({ id: `wst${i}`, type: 'wiim-status', z: 'bench', device: `wcfg${i}`, output: 'change', meta: false, x: 200, y: 40 + i * 40, wires: [[]] });
    });
    ports.sonoff.forEach((s, i) => {
      flows.push({
        id: `scfg${i}`,
        type: 'sonoff-config',
        name: `${s.meter ? 'Meter' : 'Relay'} ${i}`,
        deviceid: s.deviceid,
        host: '127.0.0.1',
        port: String(s.port),
        model: s.meter ? 'meter' : 'auto',
        pollInterval: '10',
        timeout: '5000',
      });
      if (s.devicekey) credentials[`scfg${i}`] = { devicekey: s.devicekey };
      flows.push(
        s.meter
          ? { id: `ssen${i}`, type: 'sonoff-sensor', z: 'bench', device: `scfg${i}`, reading: 'all', x: 500, y: 40 + i * 40, wires: [[]] }
          : { id: `ssw${i}`, type: 'sonoff-switch', z: 'bench', device: `scfg${i}`, outlet: '0', payloadType: 'boolean', x: 500, y: 40 + i * 40, wires: [[]] },
      );
    });
    const devices = ports.wiim.length + ports.sonoff.length;
    const label = mixed ? `scale, ${devices} devices with 50 encrypted relays and 50 encrypted meters` : 'scale';
    // the baseline is measured just like the full run (same settling, same
    // window), so that the difference is the devices and not the age of the process
    const settleMs = 12000;
    log(`scale: baseline Node-RED without devices (3 × ${seconds} s)...`);
    const base = await measureNodeRed([tab], settleMs, seconds);
    sims.stdin?.write('stats\n');
    const before = JSON.parse(await nextLine()) as { wiimRequests: number; sonoffRequests: number };
    log(`scale: Node-RED with ${devices} devices (3 × ${seconds} s)...`);
    const full = await measureNodeRed(flows, settleMs, seconds, credentials);
    // the plain-undici floor makes DIY polls only: part 7 has none of its own
    let floor = Number.NaN;
    if (!mixed) {
      log(`scale: the same polls with raw undici, no Node-RED (${seconds} s, after as long a warm-up)...`);
      floor = await measureFloor(ports, settleMs + seconds * 1000, seconds);
    }
    sims.stdin?.write('stats\n');
    const after = JSON.parse(await nextLine()) as { wiimRequests: number; sonoffRequests: number; wiimPolled: number; sonoffPolled: number };
    const heapPer = (full.memory.heapUsed - base.memory.heapUsed) / devices / 1024;
    const rssPer = (full.rssMedian - base.rssMedian) / devices / 1024;
    const p99 = full.loop.p99 - full.loop.resolutionMs;
    results[mixed ? 'scaleMixed' : 'scale'] = {
      seconds,
      devices,
      base,
      full,
      floorCpuPercent: floor,
      heapPerDeviceKB: heapPer,
      rssPerDeviceKB: rssPer,
      requests: { wiim: after.wiimRequests - before.wiimRequests, sonoff: after.sonoffRequests - before.sonoffRequests },
      polledDevices: { wiim: after.wiimPolled, sonoff: after.sonoffPolled },
      ...(mixed ? { mix: { wiim: n, diyRelays: n, encryptedRelays: 50, encryptedMeters: 50 } } : {}),
    };
    rows.push({
      measure: `${label}: ${mixed ? '' : `${devices} devices, `}CPU of Node-RED over ${seconds} s`,
      figure: `${full.cpuPercent.toFixed(2)} % of a core`,
      target: '≤ 5 %',
      verdict: verdict(full.cpuPercent <= 5),
      note: `the second minute after settling; main thread ${full.mainThreadPercent.toFixed(2)} %, V8's and libuv's helper threads the rest; the first minute: ${full.firstWindowCpuPercent.toFixed(2)} %; idle Node-RED: ${base.cpuPercent.toFixed(2)} %; ${after.wiimPolled}/${ports.wiim.length} WiiM and ${after.sonoffPolled}/${ports.sonoff.length} SONOFF sims were polled`,
    });
    if (!mixed)
      rows.push({
        measure: '  (the same polls, plain undici request(), no Node-RED)',
        figure: `${floor.toFixed(2)} % of a core`,
        target: '',
        verdict: '',
        note: 'an agent per device, one TLS context, the same keep-alive (and no release after a poll)',
      });
    rows.push({
      measure: `${label}: event-loop delay p99`,
      figure: fmtMs(p99),
      target: '≤ 10 ms',
      verdict: verdict(p99 <= 10),
      note: `histogram p99 ${fmtMs(full.loop.p99)} minus the ${full.loop.resolutionMs} ms sampling period; max ${fmtMs(full.loop.max)}`,
    });
    rows.push({
      measure: `${label}: memory per device (heapUsed)`,
      figure: `${heapPer.toFixed(1)} KB`,
      target: '≤ 100 KB',
      verdict: verdict(heapPer <= 100),
      note: 'JS heap after GC, vs Node-RED without devices',
    });
    // RSS also counts TLS and socket buffers outside the JS heap, and the allocator's slack
    rows.push({
      measure: `${label}: memory per device (RSS)`,
      figure: `${rssPer.toFixed(1)} KB`,
      target: '≤ 100 KB',
      verdict: verdict(rssPer <= 100),
      note: `median of ${seconds} readings, whole process, vs Node-RED without devices: ${mb(base.rssMedian)} → ${mb(full.rssMedian)} MB, of which V8's committed heap ${mb(base.memory.heapTotal)} → ${mb(full.memory.heapTotal)} MB (young generation ${mb(base.memory.newSpace)} → ${mb(full.memory.newSpace)} MB)`,
    });
  } finally {
    sims.stdin?.end();
    await new Promise((resolve) => {
      if (sims.exitCode !== null) resolve(undefined);
      else sims.once('exit', resolve);
    });
  }
}

// ---------------------------------------------------------------- 6: WiiM UPnP events

/** A device-side volume change → wiim-status output, in this process: by event, and with 1 s and 5 s polling. */
async function eventLatency(mode: 'events' | 'poll1' | 'poll5', samples: number): Promise<number[]> {
  const sim = new WiimSimulator({ name: 'Bench events' });
  const { port } = await sim.start({ port: 0 });
  const poll = mode === 'poll5' ? '5' : mode === 'poll1' ? '1' : '60';
  await helper.load(
    NODES,
    withTab([
      benchWiimConfig('cfg', 'Bench', port, { pollPlaying: poll, pollIdle: poll, events: mode === 'events' ? 'auto' : 'off', upnpPort: String(sim.upnp.port) }),
      { id: 'st', type: 'wiim-status', device: 'cfg', output: 'change', meta: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]),
  );
  const out = node('out') as unknown as EventEmitter;
  const times: number[] = [];
  try {
    const t0 = performance.now();
    while (mode === 'events' && sim.upnp.subscriptions < 3 && performance.now() - t0 < 10000) await sleep(20);
    await sleep(500);
    for (let i = 0; i < samples; i++) {
      const volume = 10 + (i % 80);
      // polls are aligned to the clock: a random wait puts the change anywhere in the interval
      if (mode !== 'events') await sleep(Math.random() * 1000);
      const ms = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no output for volume ${volume}`)), 15000);
        const onOut = (m: Msg) => {
          if ((m.payload as { volume?: number }).volume !== volume) return;
          clearTimeout(timer);
          out.removeListener('input', onOut);
          resolve(performance.now() - start);
        };
        out.on('input', onOut);
        const start = performance.now();
        sim.device((s) => (s.state.volume = volume));
      });
      times.push(ms);
      if (mode === 'events') await sleep(5);
    }
  } finally {
    await helper.unload();
    await sim.stop();
  }
  return times;
}

/**
 * Node-RED with `n` WiiM devices (idle or playing), events or 1 s polling, or
 * with no devices at all (`n` = 0, its own idle cost): CPU over a first
 * window right after 15 s of settling, then over a second one (the warm
 * state, as in part 5), and requests per device per minute over both.
 */
async function eventScale(
  n: number,
  playing: boolean,
  events: boolean,
  seconds: number,
): Promise<{ firstWindowCpu: number; cpu: number; mainThreadCpu: number; perDeviceMinute: number; live: number }> {
  const args = [path.join(__dirname, 'sims.js'), String(n), 'wiim-only', ...(playing ? ['playing'] : [])];
  const sims = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: sims.stdout as NodeJS.ReadableStream });
  const nextLine = () => new Promise<string>((resolve) => lines.once('line', resolve));
  const stats = async () => {
    sims.stdin?.write('stats\n');
    return JSON.parse(await nextLine()) as { wiimRequests: number; upnpLive: number };
  };
  try {
    const ports = JSON.parse(await nextLine()) as { wiim: number[]; upnp: number[] };
    const tab = { id: 'bench', type: 'tab', label: 'bench' };
    const flows: object[] = [tab];
    ports.wiim.forEach((port, i) => {
      flows.push(
        benchWiimConfig(`wcfg${i}`, `WiiM ${i}`, port, { pollIdle: events ? '5' : '1', events: events ? 'auto' : 'off', upnpPort: String(ports.upnp[i]) }),
      );
      flows.push({ id: `wst${i}`, type: 'wiim-status', z: 'bench', device: `wcfg${i}`, output: 'change', meta: false, x: 200, y: 40 + i * 40, wires: [[]] });
    });
    const nr = await startNodeRed({ flows, quiet: true });
    try {
      const pid = nr.child.pid as number;
      await sleep(15000);
      const before = await stats();
      const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
      const window = async () => {
        const ticks0 = processTicks(pid);
        const t0 = performance.now();
        await sleep(seconds * 1000);
        const ticks1 = processTicks(pid);
        const elapsed = (performance.now() - t0) / 1000;
        return { all: ((ticks1.all - ticks0.all) / hz / elapsed) * 100, main: ((ticks1.main - ticks0.main) / hz / elapsed) * 100 };
      };
      const first = await window();
      const second = await window();
      const after = await stats();
      return {
        firstWindowCpu: first.all,
        cpu: second.all,
        mainThreadCpu: second.main,
        perDeviceMinute: n > 0 ? (after.wiimRequests - before.wiimRequests) / n / ((2 * seconds) / 60) : 0,
        live: after.upnpLive,
      };
    } finally {
      await nr.stop();
    }
  } finally {
    sims.stdin?.end();
    await new Promise((resolve) => {
      if (sims.exitCode !== null) resolve(undefined);
      else sims.once('exit', resolve);
    });
  }
}

async function eventRows(): Promise<void> {
  const seconds = Number(process.env.BENCH_EVENTS_SECONDS ?? 60);
  log('6: event → wiim-status latency (events, 1 s and 5 s polling)...');
  const ev = await eventLatency('events', 200);
  const p1 = await eventLatency('poll1', 20);
  const p5 = await eventLatency('poll5', 8);
  results.events = { latencyMs: { events: ev, poll1: p1, poll5: p5 } };
  rows.push({
    measure: 'WiiM device-side change → wiim-status, events',
    figure: fmtMs(median(ev)),
    target: '≤ 20 ms',
    verdict: verdict(median(ev) <= 20),
    note: `${ev.length} volume changes made on the simulated device; p95 ${fmtMs(percentile(ev, 95))}`,
  });
  rows.push({
    measure: '  the same change, 1 s polling / 5 s polling',
    figure: `${fmtMs(median(p1))} / ${fmtMs(median(p5))}`,
    target: '',
    verdict: '',
    note: `events off; ${p1.length} and ${p5.length} changes at random points of the interval`,
  });
  log(`6: 200 idle WiiM devices with events, and Node-RED without devices (${seconds} s + ${seconds} s each)...`);
  const idle = await eventScale(200, false, true, seconds);
  const bare = await eventScale(0, false, true, seconds);
  rows.push({
    measure: `WiiM events: 200 idle devices, CPU of Node-RED (second ${seconds} s)`,
    figure: `${idle.cpu.toFixed(2)} % of a core`,
    target: '≤ 1 %',
    verdict: verdict(idle.cpu <= 1),
    note: `main thread ${idle.mainThreadCpu.toFixed(2)} %; first ${seconds} s ${idle.firstWindowCpu.toFixed(2)} %; ${idle.perDeviceMinute.toFixed(2)} requests per device per minute (httpapi and UPnP); ${idle.live}/200 subscribed`,
  });
  rows.push({
    measure: '  the same Node-RED without devices',
    figure: `${bare.cpu.toFixed(2)} % of a core`,
    target: 'reported',
    verdict: 'n/a',
    note: `main thread ${bare.mainThreadCpu.toFixed(2)} %; first ${seconds} s ${bare.firstWindowCpu.toFixed(2)} %; not subtracted above`,
  });
  log(`6: 100 playing WiiM devices, events vs 1 s polling (${seconds} s each)...`);
  const playEv = await eventScale(100, true, true, seconds);
  const playPoll = await eventScale(100, true, false, seconds);
  results.events = { ...(results.events as object), idle200: idle, noDevices: bare, playing100: { events: playEv, poll1: playPoll } };
  rows.push({
    measure: `WiiM: 100 playing devices, events vs 1 s polling, CPU (second ${seconds} s)`,
    figure: `${playEv.cpu.toFixed(2)} % / ${playPoll.cpu.toFixed(2)} %`,
    target: 'reported',
    verdict: 'n/a',
    note: `requests per device per minute: ${playEv.perDeviceMinute.toFixed(1)} with events (${playEv.live}/100 subscribed), ${playPoll.perDeviceMinute.toFixed(1)} polling`,
  });
}

// ---------------------------------------------------------------- main

function printTable(): void {
  const head: Row = { measure: 'measure', figure: 'median / figure', target: 'target', verdict: '', note: 'notes' };
  const all = [head, ...rows];
  const w = (k: keyof Row) => Math.max(...all.map((r) => String(r[k] ?? '').length));
  const wm = w('measure');
  const wf = w('figure');
  const wt = w('target');
  const line = (r: Row) => `${r.measure.padEnd(wm)}  ${r.figure.padStart(wf)}  ${r.target.padEnd(wt)}  ${(r.verdict || '').padEnd(4)}  ${r.note ?? ''}`;
  console.log(line(head));
  console.log('-'.repeat(wm + wf + wt + 40));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const started = Date.now();
  // BENCH_ONLY=1,4 runs a subset (quick checks); the default is all
  const only = new Set((process.env.BENCH_ONLY ?? '1,2,3,4,5,6,7').split(','));
  if (only.has('1') || only.has('2')) {
    log('1+2: command overhead and command → state (WiiM, SONOFF)...');
    await overheadAndState();
  }
  if (only.has('3')) {
    log('3: mDNS push in a private network namespace (DIY, then encrypted)...');
    push(false);
    push(true);
  }
  if (only.has('4')) {
    log('4: burst...');
    await burst();
  }
  if (only.has('5')) {
    log('5: scale...');
    await scale(false);
  }
  if (only.has('7')) {
    log('7: scale with encrypted relays and meters...');
    await scale(true);
  }
  if (only.has('6')) {
    log('6: WiiM UPnP events...');
    await eventRows();
  }
  console.log('');
  console.log(
    `Benchmark, ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs; simulators on 127.0.0.1; medians of correct replies only`,
  );
  console.log(
    'WiiM: 1000 warm-up rounds, then 1000 measured; each round runs every variant once, in a new (seeded) order. The core http request node runs with keep-alive and msg.rejectUnauthorized=false.',
  );
  console.log(
    'SONOFF: 5 warm-up rounds, then 50 measured, each in a new (seeded) order; our session keeps 200 ms between requests to a device, so the bench waits 210 ms before each send (every variant alike) and does not count the wait.',
  );
  console.log('');
  printTable();
  const out = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, durationS: (Date.now() - started) / 1000, rows, results };
  fs.writeFileSync(path.join(root, 'bench', 'results.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nbench/results.json written (${Math.round((Date.now() - started) / 1000)} s)`);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
