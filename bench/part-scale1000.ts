import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { inNetns, mb, results, root, rows, verdict, type NodeRedFigures } from './measure';
import { fmtMs } from './stats';

/** Part 8: 1000 devices with events and mDNS push (bench/scale1000.ts inside a private network namespace). */

/** Part 8: bench/scale1000.ts inside `unshare -n` (its relays push over mDNS); its rows. */
export function scale1000(): void {
  const measure = '8: 1000 devices with push, CPU of Node-RED ÷ plain undici polling them';
  const probe = spawnSync('unshare', ['-n', 'true']);
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : String(probe.stderr).trim();
    rows.push({ measure, figure: 'NOT MEASURED', target: '≤ 0.15', verdict: 'n/a', note: `unshare -n unavailable: ${why}` });
    results.scale1000 = { measured: false, reason: why };
    if (process.env.CI === 'true') process.exitCode = 1;
    return;
  }
  const run = spawnSync('unshare', inNetns([process.execPath, path.join(__dirname, 'scale1000.js')]), {
    cwd: root,
    encoding: 'utf8',
    timeout: 6 * 60_000,
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  type Result = {
    seconds: number;
    devices: number;
    base: NodeRedFigures;
    full: NodeRedFigures;
    floorCpuPercent: number;
    requests: { wiim: number; sonoff: number; byKind: Record<string, number> };
    upnpLive: number;
    durationS: number;
  };
  let r: Result | undefined;
  try {
    r = JSON.parse(line) as Result;
  } catch {
    r = undefined;
  }
  if (!r || run.status !== 0) {
    rows.push({ measure, figure: 'FAILED', target: '≤ 0.15', verdict: 'MISS', note: `exit ${run.status}; ${line.slice(0, 200)}` });
    results.scale1000 = { measured: false, status: run.status };
    return;
  }
  const ratio = r.full.cpuPercent / r.floorCpuPercent;
  const heapPer = (r.full.memory.heapUsed - r.base.memory.heapUsed) / r.devices / 1024;
  const rssPer = (r.full.rssMedian - r.base.rssMedian) / r.devices / 1024;
  const p99 = r.full.loop.p99 - r.full.loop.resolutionMs;
  results.scale1000 = { measured: true, ...r, ratioToFloor: ratio, heapPerDeviceKB: heapPer, rssPerDeviceKB: rssPer, loopP99Ms: p99 };
  rows.push({
    measure,
    figure: ratio.toFixed(3),
    target: '≤ 0.15',
    verdict: verdict(ratio <= 0.15),
    note: `${r.full.cpuPercent.toFixed(2)} % ÷ ${r.floorCpuPercent.toFixed(2)} % of a core; main thread ${r.full.mainThreadPercent.toFixed(2)} %; warm-up window ${r.full.firstWindowCpuPercent.toFixed(2)} %; ${r.upnpLive}/500 WiiM subscribed; the machine ${r.full.machinePercent.toFixed(0)} % busy (of ${os.cpus().length * 100} %); ${r.durationS.toFixed(0)} s in all`,
  });
  rows.push({
    measure: '8: event-loop delay p99',
    figure: fmtMs(p99),
    target: '≤ 10 ms',
    verdict: verdict(p99 <= 10),
    note: `histogram p99 ${fmtMs(r.full.loop.p99)} minus the ${r.full.loop.resolutionMs} ms sampling period; max ${fmtMs(r.full.loop.max)}`,
  });
  rows.push({
    measure: '8: memory per device, RSS / JS heap',
    figure: `${rssPer.toFixed(1)} / ${heapPer.toFixed(1)} KB`,
    target: '≤ 60 / ≤ 15 KB',
    verdict: verdict(rssPer <= 60 && heapPer <= 15),
    note: `RSS ${mb(r.base.rssMedian)} → ${mb(r.full.rssMedian)} MB (V8's committed heap ${mb(r.base.memory.heapTotal)} → ${mb(r.full.memory.heapTotal)} MB), vs Node-RED without devices`,
  });
  const minutes = r.seconds / 60;
  const kinds = Object.entries(r.requests.byKind)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / minutes).toFixed(0)}`)
    .join(', ');
  rows.push({
    measure: '8: requests to the devices per minute (judged window)',
    figure: `${((r.requests.wiim + r.requests.sonoff) / minutes).toFixed(0)}`,
    target: 'reported',
    verdict: '',
    note: `${kinds}; a poller without push: about ${(500 * 12 * (1 + 1 / 6) + 500 * 6).toFixed(0)}`,
  });
}
