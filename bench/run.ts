import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { log, results, root, rows, type Row } from './measure';
import { overheadAndState } from './part-overhead';
import { push } from './part-push';
import { burst } from './part-burst';
import { scale } from './part-scale';
import { eventRows } from './part-events';
import { scale1000 } from './part-scale1000';
import { widgetRows } from './part-widgets';
import { announceRows } from './announce';

/**
 * `npm run bench`: speed and cost, measured side by side in one run against
 * simulators on loopback. Every timed reply is checked; only correct ones
 * count. Each part is a file of its own (bench/part-*.ts); this one runs
 * them, prints the table and writes bench/results.json.
 */

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
  const only = new Set((process.env.BENCH_ONLY ?? '1,2,3,4,5,6,7,8,9,10').split(','));
  const partSeconds: Record<string, number> = {};
  const part = async (key: string, what: string, fn: () => Promise<void> | void) => {
    log(`${key}: ${what}...`);
    const t0 = Date.now();
    await fn();
    partSeconds[key] = Math.round((Date.now() - t0) / 1000);
  };
  if (only.has('1') || only.has('2')) await part('1+2', 'command overhead and command → state (WiiM, SONOFF)', overheadAndState);
  if (only.has('3'))
    await part('3', 'mDNS push in a private network namespace (DIY, then encrypted)', () => {
      push(false);
      push(true);
    });
  if (only.has('4')) await part('4', 'burst', burst);
  if (only.has('5')) await part('5', 'scale, 200 devices polled', () => scale(false));
  if (only.has('7')) await part('7', 'scale, 300 devices with encrypted relays and meters', () => scale(true));
  if (only.has('8')) await part('8', '1000 devices with events and mDNS push, in a private network namespace', scale1000);
  if (only.has('6')) await part('6', 'WiiM UPnP events', eventRows);
  if (only.has('9')) await part('9', 'dashboard widgets in Chromium', widgetRows);
  if (only.has('10')) await part('10', 'announcements: prompt and interrupt', async () => void rows.push(...(await announceRows())));
  results.partSeconds = partSeconds;
  console.log('');
  console.log(
    `Benchmark, ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs; simulators on 127.0.0.1; medians of correct replies only`,
  );
  console.log(
    'WiiM: 1000 warm-up rounds, then 1000 measured; each round runs every variant once, in a new (seeded) order. The core http request node runs with keep-alive and msg.rejectUnauthorized=false.',
  );
  console.log(
    'SONOFF: 600 warm-up commands per path to 60 other relays, 5 warm-up rounds, then 40 measured, each in a new (seeded) order; our session keeps 200 ms between requests to a device, so the bench waits 210 ms before each send (every variant alike) and does not count the wait.',
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
