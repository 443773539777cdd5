import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Preloaded into the benchmarked Node-RED (NODE_OPTIONS=--require ...): the
 * memory in use (after a GC) and an event-loop delay histogram. SIGWINCH
 * (and exit) write both to $BENCH_PROBE_FILE and start a new window, with
 * the histogram on if $BENCH_PROBE_FILE.histogram exists, off otherwise:
 * its timer wakes the process 100 times a second, which costs about 0.9 %
 * of a core on the development machine (a bare Node process: 0.02 % →
 * 0.9 %), so CPU is measured in a window without it.
 * Not SIGUSR2: Node-RED stops on it (nodemon restarts).
 */
const file = process.env.BENCH_PROBE_FILE;
if (file) {
  const resolution = 10;
  const histogram = monitorEventLoopDelay({ resolution });
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let since = Date.now();
  const ms = (ns: number) => ns / 1e6;
  const dump = () => {
    gc();
    const m = process.memoryUsage();
    const out = {
      windowMs: Date.now() - since,
      resolutionMs: resolution,
      samples: histogram.count,
      p50: ms(histogram.percentile(50)),
      p99: ms(histogram.percentile(99)),
      max: ms(histogram.max),
      rss: m.rss,
      heapUsed: m.heapUsed,
      // what V8 keeps committed, used or not: the young generation grows to
      // its maximum under a steady allocation rate and stays there
      heapTotal: m.heapTotal,
      newSpace: v8.getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space')?.space_size ?? 0,
      external: m.external,
    };
    fs.writeFileSync(file, JSON.stringify(out));
    histogram.disable();
    histogram.reset();
    if (fs.existsSync(`${file}.histogram`)) histogram.enable();
    since = Date.now();
    profile();
    snapshot();
  };

  // BENCH_HEAP_SNAPSHOT=<dir>: a heap snapshot after the judged window's GC (what each device keeps; it stalls the process for seconds)
  const snapDir = process.env.BENCH_HEAP_SNAPSHOT;
  let snapped = false;
  const snapshot = () => {
    if (!snapDir || snapped) return;
    snapped = true;
    v8.writeHeapSnapshot(path.join(snapDir, `node-red-${process.pid}.heapsnapshot`));
  };

  // BENCH_CPU_PROF=<dir>: a V8 CPU profile per window as well (for investigating a MISS)
  const profDir = process.env.BENCH_CPU_PROF;
  let session: inspector.Session | undefined;
  let windows = 0;
  const profile = () => {
    if (!profDir) return;
    if (!session) {
      session = new inspector.Session();
      session.connect();
      session.post('Profiler.enable');
    } else {
      const n = windows++;
      session.post('Profiler.stop', (err, result) => {
        if (!err) fs.writeFileSync(path.join(profDir, `node-red-${process.pid}-${n}.cpuprofile`), JSON.stringify(result.profile));
      });
    }
    session.post('Profiler.start');
  };
  // the first profile from about the judged window's start (BENCH_CPU_PROF_AT seconds after preload) to its end
  if (profDir && process.env.BENCH_CPU_PROF_AT) setTimeout(profile, Number(process.env.BENCH_CPU_PROF_AT) * 1000).unref();
  process.on('SIGWINCH', dump);
  process.on('exit', dump);
}
