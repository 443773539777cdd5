import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { inNetns, results, root, rows, verdict } from './measure';
import { fmtMs, median, percentile } from './stats';

/** Part 3: mDNS push → sonoff-switch output, in a private network namespace (DIY, then encrypted). */

/** mDNS push → sonoff-switch output, from a DIY relay or (`encrypted`) a stock one in LAN mode with its devicekey. */
export function push(encrypted: boolean): void {
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
  const run = spawnSync('unshare', inNetns([process.execPath, path.join(__dirname, 'push.js'), '30', ...(encrypted ? ['encrypted'] : [])]), {
    cwd: root,
    encoding: 'utf8',
    timeout: 60000,
  });
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
