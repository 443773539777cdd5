import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { helper, node, withTab } from '../test/helpers/runtime';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { benchWiimConfig, cpuWindow, log, results, rows, startNodeRed, startSims, verdict } from './measure';
import { NODES, type Msg } from './harness';
import { fmtMs, median, percentile, sleep } from './stats';

/** Part 6: WiiM UPnP events: a device-side change → wiim-status output, by event and by polling, and events at scale. */

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
 * Node-RED with `n` WiiM devices (idle or playing), events or 1 s polling,
 * after 10 s of settling: its CPU over the judged window and the requests per
 * device per minute in it. With events the window is one minute: the
 * consistency read falls once a minute, on the minute, so a shorter window
 * holds one round or none. Polling runs a warm-up window first (as in part 5)
 * and is judged on `seconds`.
 */
async function eventScale(
  n: number,
  playing: boolean,
  events: boolean,
  seconds: number,
): Promise<{ window: number; firstWindowCpu?: number; cpu: number; mainThreadCpu: number; perDeviceMinute: number; live: number }> {
  const sims = await startSims([String(n), 'wiim-only', ...(playing ? ['playing'] : [])]);
  try {
    const { ports } = sims;
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
      await sleep(10000);
      const window = events ? 60 : seconds;
      const first = events ? undefined : await cpuWindow(pid, seconds);
      const before = await sims.stats();
      const judged = await cpuWindow(pid, window);
      const after = await sims.stats();
      return {
        window,
        firstWindowCpu: first?.all,
        cpu: judged.all,
        mainThreadCpu: judged.main,
        perDeviceMinute: n > 0 ? (after.wiimRequests - before.wiimRequests) / n / (window / 60) : 0,
        live: after.upnpLive,
      };
    } finally {
      await nr.stop();
    }
  } finally {
    await sims.stop();
  }
}

export async function eventRows(): Promise<void> {
  const seconds = Number(process.env.BENCH_EVENTS_SECONDS ?? 15);
  log('6: event → wiim-status latency (events, 1 s and 5 s polling)...');
  const ev = await eventLatency('events', 200);
  const p1 = await eventLatency('poll1', 10);
  const p5 = await eventLatency('poll5', 5);
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
  log('6: 200 idle WiiM devices with events (60 s)...');
  const idle = await eventScale(200, false, true, seconds);
  rows.push({
    measure: `WiiM events: 200 idle devices, CPU of Node-RED (${idle.window} s)`,
    figure: `${idle.cpu.toFixed(2)} % of a core`,
    target: 'reported (was ≤ 1 %)',
    verdict: '',
    note: `main thread ${idle.mainThreadCpu.toFixed(2)} %; ${idle.perDeviceMinute.toFixed(2)} requests per device per minute (httpapi and UPnP); ${idle.live}/200 subscribed`,
  });
  log(`6: 100 playing WiiM devices, events (60 s) vs 1 s polling (${seconds} s + ${seconds} s)...`);
  const playEv = await eventScale(100, true, true, seconds);
  const playPoll = await eventScale(100, true, false, seconds);
  results.events = { ...(results.events as object), idle200: idle, playing100: { events: playEv, poll1: playPoll } };
  rows.push({
    measure: `WiiM: 100 playing devices, events (${playEv.window} s) vs 1 s polling (second ${playPoll.window} s), CPU`,
    figure: `${playEv.cpu.toFixed(2)} % / ${playPoll.cpu.toFixed(2)} %`,
    target: 'reported',
    verdict: 'n/a',
    note: `requests per device per minute: ${playEv.perDeviceMinute.toFixed(1)} with events (${playEv.live}/100 subscribed), ${playPoll.perDeviceMinute.toFixed(1)} polling; polling's first ${seconds} s: ${playPoll.firstWindowCpu?.toFixed(2)} %`,
  });
}
