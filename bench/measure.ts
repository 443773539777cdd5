import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { median, sleep } from './stats';

/**
 * What the parts of the benchmark share (bench/part-*.ts, run by
 * bench/run.ts, and bench/scale1000.ts inside its private network
 * namespace): the table's rows and the results, the timing and ordering
 * helpers; for the scale parts a real Node-RED in its own process, measured
 * from outside (/proc) and by a preloaded probe (bench/eventloop-probe.ts),
 * the simulators in a process of their own, and the same polls made with
 * plain undici (bench/poll-floor.ts).
 */

export const root = path.resolve(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { startNodeRed } = require(path.join(root, 'scripts', 'node-red-instance.js')) as {
  startNodeRed(options: Record<string, unknown>): Promise<{ child: ChildProcess; output: string; stop(): Promise<void> }>;
};

export const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** A wiim-config node for a simulator on loopback, as every part uses it; `fields` add to it or override it. */
export function benchWiimConfig(id: string, name: string, port: number, fields: Record<string, string> = {}): Record<string, string> {
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

/**
 * The flows of a scale run: a tab, a wiim-config and wiim-status node per
 * WiiM simulator, a sonoff-config and a sonoff-switch (sonoff-sensor for a
 * meter) per relay; `wiim` and `sonoff` give the config nodes' own fields.
 * The devicekeys go into the credentials, as the editor would put them.
 */
export function scaleFlows(
  ports: SimPorts,
  wiim: (i: number) => Record<string, string>,
  sonoff: (s: SimPorts['sonoff'][number]) => Record<string, string>,
): { flows: object[]; credentials: Record<string, Record<string, string>> } {
  const flows: object[] = [{ id: 'bench', type: 'tab', label: 'bench' }];
  const credentials: Record<string, Record<string, string>> = {};
  ports.wiim.forEach((port, i) => {
    flows.push(benchWiimConfig(`wcfg${i}`, `WiiM ${i}`, port, wiim(i)));
    flows.push({ id: `wst${i}`, type: 'wiim-status', z: 'bench', device: `wcfg${i}`, output: 'change', meta: false, x: 200, y: 40 + i * 40, wires: [[]] });
  });
  ports.sonoff.forEach((s, i) => {
    flows.push({
      id: `scfg${i}`,
      type: 'sonoff-config',
      name: `${s.meter ? 'Meter' : 'Relay'} ${i}`,
      deviceid: s.deviceid,
      model: s.meter ? 'meter' : 'auto',
      ...sonoff(s),
    });
    if (s.devicekey) credentials[`scfg${i}`] = { devicekey: s.devicekey };
    flows.push(
      s.meter
        ? { id: `ssen${i}`, type: 'sonoff-sensor', z: 'bench', device: `scfg${i}`, reading: 'all', x: 500, y: 40 + i * 40, wires: [[]] }
        : { id: `ssw${i}`, type: 'sonoff-switch', z: 'bench', device: `scfg${i}`, outlet: '0', payloadType: 'boolean', x: 500, y: 40 + i * 40, wires: [[]] },
    );
  });
  return { flows, credentials };
}

export interface ProbeDump {
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

export const mb = (bytes: number): string => (bytes / 1048576).toFixed(0);

/** utime + stime of a process or thread: /proc/<pid>/stat, or /proc/<pid>/task/<tid>/stat */
function cpuTicks(statPath: string): number {
  const stat = fs.readFileSync(statPath, 'utf8');
  // the fields after the command name (which may hold spaces) start after ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // fields 14 and 15
}

/** CPU ticks of the whole process, and of its main thread (the event loop) alone. */
export function processTicks(pid: number): { all: number; main: number } {
  return { all: cpuTicks(`/proc/${pid}/stat`), main: cpuTicks(`/proc/${pid}/task/${pid}/stat`) };
}

const hz = (): number => Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** The CPU share (% of a core) of process `pid` over `seconds` from now: all threads, and the main thread. */
export async function cpuWindow(pid: number, seconds: number): Promise<{ all: number; main: number }> {
  const ticks0 = processTicks(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const ticks1 = processTicks(pid);
  const elapsed = (performance.now() - t0) / 1000;
  const per = hz();
  return { all: ((ticks1.all - ticks0.all) / per / elapsed) * 100, main: ((ticks1.main - ticks0.main) / per / elapsed) * 100 };
}

/** The busy share of the machine's CPUs over `seconds` (/proc/stat): what else ran beside a window. */
export function machineLoad(): () => number {
  const read = () => {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + f[4];
    return { busy: f.reduce((a, b) => a + b, 0) - idle, all: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  return () => {
    const b = read();
    return ((b.busy - a.busy) / Math.max(1, b.all - a.all)) * 100 * os.cpus().length;
  };
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

export interface Windows {
  /** after start, before anything is measured */
  settleMs: number;
  /** the first window: CPU only, reported (V8 still compiles the paths a poll round takes) */
  warmSeconds: number;
  /** the judged window: CPU and memory */
  seconds: number;
  /** the event-loop delay window (the histogram's own timer would count as CPU) */
  loopSeconds: number;
}

export interface NodeRedFigures {
  firstWindowCpuPercent: number;
  cpuPercent: number;
  mainThreadPercent: number;
  /** the busy share of the whole machine (all processes, % of a core) during the judged window */
  machinePercent: number;
  memory: ProbeDump;
  loop: ProbeDump;
  rssMedian: number;
  /** the CPU share (% of a core, all threads) of the process run beside Node-RED, over the same judged window */
  besideCpuPercent?: number;
}

/**
 * Starts Node-RED with `flows`, lets it settle, then reads its CPU over a
 * first window, while V8 still compiles the paths a poll round takes
 * (reported, not judged), then CPU and memory over a second window, the warm
 * state a Node-RED that runs for days is in, and then the event-loop delay
 * over a third (the histogram's own timer would count as CPU). The resident
 * set is read every second and its median kept: glibc hands freed memory
 * back to the system only now and then, so one reading at the end can land
 * before or after such a return.
 */
export async function measureNodeRed(
  flows: object[],
  w: Windows,
  credentials: Record<string, Record<string, string>> = {},
  /** called as the judged window starts and as it ends (the simulators' request counts) */
  judged?: (phase: 'start' | 'end') => Promise<void>,
  /** a process started with Node-RED and measured over the same windows (the plain-undici floor), stopped after the judged one */
  beside?: () => ChildProcess,
): Promise<NodeRedFigures> {
  const file = path.join(os.tmpdir(), `nr-bench-probe-${process.pid}.json`);
  // BENCH_CPU_PROF=<dir>: the probe also writes a V8 CPU profile of each window there (for investigating a MISS)
  const env: Record<string, string> = { NODE_OPTIONS: `--require ${path.join(__dirname, 'eventloop-probe.js')}`, BENCH_PROBE_FILE: file };
  if (process.env.BENCH_CPU_PROF) {
    env.BENCH_CPU_PROF = path.resolve(process.env.BENCH_CPU_PROF);
    // from about the judged window's start (the probe counts from its preload, a little before Node-RED is up)
    env.BENCH_CPU_PROF_AT = String(w.settleMs / 1000 + w.warmSeconds);
  }
  // BENCH_HEAP_SNAPSHOT=<dir>: and a heap snapshot after the judged window (what each device keeps)
  if (process.env.BENCH_HEAP_SNAPSHOT) env.BENCH_HEAP_SNAPSHOT = path.resolve(process.env.BENCH_HEAP_SNAPSHOT);
  // the devicekeys go where the editor would put them: flows_cred.json (the instance's credentialSecret is false, so plain JSON)
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-bench-'));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials));
  const nr = await startNodeRed({ flows, quiet: true, env, userDir });
  const other = beside?.();
  try {
    const pid = nr.child.pid as number;
    await sleep(w.settleMs);
    const first = await cpuWindow(pid, w.warmSeconds);
    // the CPU and memory window starts without the probe: its GC would land in it
    await judged?.('start');
    const besideTicks0 = other && processTicks(other.pid as number);
    const ticks0 = processTicks(pid);
    const machine = machineLoad();
    const t0 = performance.now();
    const rss: number[] = [];
    while (performance.now() - t0 < w.seconds * 1000) {
      await sleep(Math.min(1000, w.seconds * 1000 - (performance.now() - t0)));
      rss.push(rssBytes(pid));
    }
    const ticks1 = processTicks(pid);
    // BENCH_SMAPS=<dir>: the process's memory map at the judged window's end (where RSS outside V8's heap lives)
    if (process.env.BENCH_SMAPS) fs.writeFileSync(path.join(process.env.BENCH_SMAPS, `node-red-${pid}.smaps`), fs.readFileSync(`/proc/${pid}/smaps`));
    const besideTicks1 = other && processTicks(other.pid as number);
    const machinePercent = machine();
    await stopChild(other);
    await judged?.('end');
    const elapsed = (performance.now() - t0) / 1000;
    const memory = await probe(pid, file, true); // the heap after a GC; and starts the delay window
    await sleep(w.loopSeconds * 1000);
    const loop = await probe(pid, file, false);
    const per = hz();
    const percent = (ticks: number) => (ticks / per / elapsed) * 100;
    return {
      firstWindowCpuPercent: first.all,
      cpuPercent: percent(ticks1.all - ticks0.all),
      mainThreadPercent: percent(ticks1.main - ticks0.main),
      machinePercent,
      memory,
      loop,
      rssMedian: median(rss),
      ...(besideTicks0 && besideTicks1 ? { besideCpuPercent: percent(besideTicks1.all - besideTicks0.all) } : {}),
    };
  } finally {
    await stopChild(other);
    await nr.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.histogram`, { force: true });
  }
}

/** Starts bench/poll-floor.js, which makes the scale run's polls with plain undici. */
export function spawnFloor(ports: object): ChildProcess {
  return spawn(process.execPath, [path.join(__dirname, 'poll-floor.js'), JSON.stringify(ports)], { stdio: 'inherit' });
}

/** Stops a child process (once) and waits for it to exit. */
async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill();
  await gone;
}

/** CPU share of the floor (spawnFloor) after it warmed up for `warmMs`. */
export async function measureFloor(ports: object, warmMs: number, seconds: number): Promise<number> {
  const child = spawnFloor(ports);
  try {
    await sleep(warmMs);
    return (await cpuWindow(child.pid as number, seconds)).all;
  } finally {
    await stopChild(child);
  }
}

/** The simulators (bench/sims.ts) in their own process: the ports they print, `stats`, and `stop`. */
export async function startSims(args: string[]): Promise<{ ports: SimPorts; stats(): Promise<SimStats>; stop(): Promise<void> }> {
  const sims = spawn(process.execPath, [path.join(__dirname, 'sims.js'), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: sims.stdout as NodeJS.ReadableStream });
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      sims.once('exit', (code) => reject(new Error(`the simulators exited (${code})`)));
    });
  const ports = JSON.parse(await nextLine()) as SimPorts;
  return {
    ports,
    async stats() {
      sims.stdin?.write('stats\n');
      return JSON.parse(await nextLine()) as SimStats;
    },
    async stop() {
      sims.stdin?.end();
      await new Promise((resolve) => {
        if (sims.exitCode !== null) resolve(undefined);
        else sims.once('exit', resolve);
      });
    },
  };
}

export interface SimPorts {
  wiim: number[];
  upnp: number[];
  sonoff: Array<{ port: number; deviceid: string; devicekey?: string; meter?: boolean }>;
}

export interface SimStats {
  wiimRequests: number;
  sonoffRequests: number;
  wiimPolled: number;
  sonoffPolled: number;
  upnpLive: number;
  /** requests by kind (httpapi command or zeroconf endpoint), for where the requests go */
  byKind: Record<string, number>;
}

// ------------------------------------------------------------ the table and the results that bench/run.ts prints and writes

/** One row of the printed table (and of bench/results.json). */
export interface Row {
  measure: string;
  figure: string;
  target: string;
  verdict: 'PASS' | 'MISS' | 'n/a' | '';
  note?: string;
}

/** The rows and the figures the parts add, in the order they ran. */
export const rows: Row[] = [];
export const results: Record<string, unknown> = {};

export function verdict(pass: boolean): 'PASS' | 'MISS' {
  return pass ? 'PASS' : 'MISS';
}

/** Times `fn`, which returns whether the reply was right; wrong ones are counted, not timed. */
export async function timed(samples: number[], wrong: { n: number; last?: string }, fn: () => Promise<true | string>): Promise<void> {
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
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The private network namespace's command line: loopback up, multicast on it, and `argv` run inside. */
export function inNetns(argv: string[]): string[] {
  const quote = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
  const inner = ['ip link set lo up', 'ip link set lo multicast on', 'ip route add 224.0.0.0/4 dev lo', `exec ${argv.map(quote).join(' ')}`].join(' && ');
  return ['-n', 'sh', '-c', inner];
}
