import os from 'node:os';
import { log, mb, measureNodeRed, results, rows, scaleFlows, spawnFloor, startSims, verdict, type NodeRedFigures, type Windows } from './measure';
import { fmtMs } from './stats';

/** Parts 5 and 7: Node-RED polling many simulated devices, its CPU and memory against plain undici making the same polls. */

/**
 * The windows of parts 5 and 7 (BENCH_SCALE_SECONDS sets the judged one; the
 * warm-up window is as long). 20 s holds two rounds of the relays' 10 s polls
 * and four of the WiiMs' 5 s ones, which fall on the clock's multiples.
 */
function scaleWindows(): Windows {
  const seconds = Number(process.env.BENCH_SCALE_SECONDS ?? 20);
  // the warm-up window follows the settling: 5 s lets the first round of reads and subscriptions pass
  return { settleMs: 5000, warmSeconds: seconds, seconds, loopSeconds: Math.min(seconds, 10) };
}

/**
 * Part 7's windows, judged against its floor run beside Node-RED over the
 * same window: 60 s hold whole cycles of both pollers (the floor's follower
 * list every sixth 5 s poll, our slow tier once a minute), so neither side's
 * share of those reads turns on where the window falls; 30 s of warm-up
 * after the 5 s settling, as both processes still compile their poll paths.
 */
const MIXED_WINDOWS: Windows = { settleMs: 5000, warmSeconds: 30, seconds: 60, loopSeconds: 10 };

/** Node-RED without devices, measured as the scale runs are: what their memory per device is counted from. Once per bench run. */
let baseline: NodeRedFigures | undefined;
async function scaleBaseline(): Promise<NodeRedFigures> {
  if (!baseline) {
    const w = scaleWindows();
    log(`scale: baseline Node-RED without devices (${w.warmSeconds} + ${w.seconds} s)...`);
    // its event-loop delay is not used: one second of it
    baseline = await measureNodeRed([{ id: 'bench', type: 'tab', label: 'bench' }], { ...w, loopSeconds: 1 });
    results.scaleBaseline = baseline;
  }
  return baseline;
}

/**
 * Part 5: 100 WiiM devices and 100 DIY relays, polled (WiiM events off).
 * Part 7 (`mixed`): the same, and 50 stock relays and 50 POWR3 meters in
 * encrypted LAN mode, each with a node (sonoff-switch, sonoff-sensor), and
 * its target: Node-RED's CPU against plain undici making the same polls
 * (bench/poll-floor.ts), measured in the same run (its polls hold part
 * 5's, so part 5 has no floor of its own). Part 5's absolute CPU figure is
 * reported without a verdict: on a shared machine it measures the machine
 * as much as the code.
 */
export async function scale(mixed: boolean): Promise<void> {
  const w = mixed ? MIXED_WINDOWS : scaleWindows();
  const n = 100;
  const simArgs = [String(n), ...(mixed ? ['encrypted=50', 'meters=50'] : [])];
  const sims = await startSims(simArgs);
  // the floor polls devices of its own, so that the simulators' counts stay Node-RED's
  const floorSims = mixed ? await startSims(simArgs) : undefined;
  try {
    const { ports } = sims;
    // part 5 measures polling (WiiM events off); the events rows are part 6
    const { flows, credentials } = scaleFlows(
      ports,
      () => ({ events: 'off' }),
      (s) => ({ host: '127.0.0.1', port: String(s.port), pollInterval: '10', timeout: '5000' }),
    );
    const devices = ports.wiim.length + ports.sonoff.length;
    const label = mixed ? `7: ${devices} devices (50 encrypted relays, 50 encrypted meters)` : `5: ${devices} devices`;
    const base = await scaleBaseline();
    const counts: Array<Awaited<ReturnType<typeof sims.stats>>> = [];
    // part 7's target is the ratio to the same polls made with plain undici, in a process started with Node-RED, polling simulators of its own, and read over the same window; part 7's polls hold part 5's, so part 5 has no floor of its own
    log(
      `scale: Node-RED with ${devices} devices (${w.warmSeconds} + ${w.seconds} + ${w.loopSeconds} s)${mixed ? ', and beside it the same polls with plain undici' : ''}...`,
    );
    const full = await measureNodeRed(
      flows,
      w,
      credentials,
      async () => {
        counts.push(await sims.stats());
      },
      floorSims ? () => spawnFloor(floorSims.ports) : undefined,
    );
    const [before, after] = counts;
    const floor = full.besideCpuPercent ?? Number.NaN;
    const heapPer = (full.memory.heapUsed - base.memory.heapUsed) / devices / 1024;
    const rssPer = (full.rssMedian - base.rssMedian) / devices / 1024;
    // V8 sizes its young generation by itself, up to 32 MB, whatever the number of devices: the same figure without it (reported)
    const rssPerLessYoung = (full.rssMedian - full.memory.newSpace - (base.rssMedian - base.memory.newSpace)) / devices / 1024;
    const p99 = full.loop.p99 - full.loop.resolutionMs;
    const ratio = full.cpuPercent / floor;
    const requests = (k: string) => (after.byKind[k] ?? 0) - (before.byKind[k] ?? 0);
    results[mixed ? 'scaleMixed' : 'scale'] = {
      windows: w,
      devices,
      full,
      ...(mixed ? { floorCpuPercent: floor, ratioToFloor: ratio } : {}),
      heapPerDeviceKB: heapPer,
      rssPerDeviceKB: rssPer,
      rssPerDeviceLessYoungGenerationKB: rssPerLessYoung,
      requests: { wiim: after.wiimRequests - before.wiimRequests, sonoff: after.sonoffRequests - before.sonoffRequests },
      requestsByKind: Object.fromEntries(Object.keys(after.byKind).map((k) => [k, requests(k)])),
      polledDevices: { wiim: after.wiimPolled, sonoff: after.sonoffPolled },
      ...(mixed ? { mix: { wiim: n, diyRelays: n, encryptedRelays: 50, encryptedMeters: 50 } } : {}),
    };
    const where = `${after.wiimPolled}/${ports.wiim.length} WiiM and ${after.sonoffPolled}/${ports.sonoff.length} SONOFF sims were polled; the machine ${full.machinePercent.toFixed(0)} % busy (of ${os.cpus().length * 100} %) in the window`;
    if (mixed)
      rows.push({
        measure: `${label}: CPU of Node-RED ÷ plain undici, same polls`,
        figure: `${ratio.toFixed(2)}`,
        target: '≤ 0.45',
        verdict: verdict(ratio <= 0.45),
        note: `${full.cpuPercent.toFixed(2)} % ÷ ${floor.toFixed(2)} % of a core, side by side over the same ${w.seconds} s; ${where}`,
      });
    rows.push({
      measure: `${label}: CPU of Node-RED (judged ${w.seconds} s window)`,
      figure: `${full.cpuPercent.toFixed(2)} % of a core`,
      target: 'reported (was ≤ 5 %)',
      verdict: '',
      note: `main thread ${full.mainThreadPercent.toFixed(2)} %, V8's and libuv's helper threads the rest; the warm-up window: ${full.firstWindowCpuPercent.toFixed(2)} %; idle Node-RED: ${base.cpuPercent.toFixed(2)} %${mixed ? '' : `; ${where}`}`,
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
      note: `median of ${w.seconds} readings, whole process, vs Node-RED without devices: ${mb(base.rssMedian)} → ${mb(full.rssMedian)} MB, of which V8's committed heap ${mb(base.memory.heapTotal)} → ${mb(full.memory.heapTotal)} MB (young generation ${mb(base.memory.newSpace)} → ${mb(full.memory.newSpace)} MB); without the young generation: ${rssPerLessYoung.toFixed(1)} KB per device`,
    });
  } finally {
    await sims.stop();
    await floorSims?.stop();
  }
}
