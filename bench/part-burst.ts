import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { helper, node, withTab } from '../test/helpers/runtime';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { benchWiimConfig, results, rows, verdict } from './measure';
import { NODES, type Msg } from './harness';
import { loadPlain } from './plain-runtime';
import { sleep } from './stats';

/** Part 4: a burst of volume commands: what coalescing sends, and how soon the last value lands. */

export async function burst(): Promise<void> {
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
