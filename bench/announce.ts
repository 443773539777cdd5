/**
 * The announcement rows of the benchmark (issue 24):
 * - prompt: an `announce` message in → playPromptUrl at the device, over
 *   network playback (the firmware's prompt: getStatusEx, getPlayerStatus,
 *   then the prompt);
 * - interrupt: the announcement's end at the device → the music back (the
 *   input switched back: the last restore command at the device), with UPnP
 *   events on (a wiim-status node keeps the session subscribed).
 * Each sample is checked: a wrong or missing output is counted, not timed.
 *
 * run.ts calls `announceRows()` and adds the rows to its table; alone:
 * `node dist/bench/announce.js`.
 */

import type { EventEmitter } from 'node:events';
import http from 'node:http';
import { coreNode, helper, node, sessionOf } from '../test/helpers/runtime';
import { loadPlain } from './plain-runtime';
import { benchWiimConfig } from './measure';
import { fmtMs, median, percentile, sleep } from './stats';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import wiimStatus from '../src/nodes/wiim-status';
import { WiimSimulator } from '../src/sim/wiim-sim';
import type { WiimSession } from '../src/sessions/wiim-session';

export interface AnnounceRow {
  measure: string;
  figure: string;
  target: string;
  verdict: 'PASS' | 'MISS';
  note: string;
}

/** When the simulator received a command starting with `prefix`, after `since` (performance.now()). */
function watchRequests(sim: WiimSimulator): (prefix: string, since: number) => Promise<number> {
  const seen: Array<{ at: number; request: string }> = [];
  const push = sim.requests.push.bind(sim.requests);
  sim.requests.push = (...items: string[]) => {
    const at = performance.now();
    for (const request of items) seen.push({ at, request });
    return push(...items);
  };
  return async (prefix, since) => {
    for (let i = 0; i < 2000; i++) {
      const hit = seen.find((s) => s.at >= since && s.request.startsWith(prefix));
      if (hit) return hit.at;
      await sleep(1);
    }
    throw new Error(`${prefix} never reached the device`);
  };
}

function outputOf(id: string, timeoutMs: number): Promise<Record<string, unknown> | string> {
  const out = node('out') as unknown as EventEmitter;
  const caught = node('caught') as unknown as EventEmitter;
  return new Promise((resolve) => {
    const finish = (r: Record<string, unknown> | string) => {
      clearTimeout(timer);
      out.removeListener('input', onOut);
      caught.removeListener('input', onCaught);
      resolve(r);
    };
    const onOut = (m: Record<string, unknown>) => finish(m);
    const onCaught = (m: { error: { message: string; source: { id: string } } }) => {
      if (m.error.source.id === id) finish(m.error.message);
    };
    const timer = setTimeout(() => finish('no output within the deadline'), timeoutMs);
    out.on('input', onOut);
    caught.on('input', onCaught);
  });
}

/** A row judged on the median of its samples. */
function judged(measure: string, samples: number[], targetMs: number, target: string, note: string): AnnounceRow {
  const m = median(samples);
  return {
    measure,
    figure: fmtMs(m),
    target,
    verdict: m <= targetMs ? 'PASS' : 'MISS',
    note: `p90 ${fmtMs(percentile(samples, 90))}; ${note}`,
  };
}

export async function announceRows(samples = { prompt: 200, interrupt: 30 }): Promise<AnnounceRow[]> {
  // the sound on loopback: the simulator fetches it and plays it until endMedia() (a URL elsewhere would play as an endless stream)
  const mp3 = Buffer.concat([Buffer.from('ID3\u0004\u0000\u0000\u0000\u0000\u0000\u0000', 'latin1'), Buffer.alloc(2000)]);
  const sounds = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': mp3.length }).end(mp3));
  await new Promise<void>((r) => sounds.listen(0, '127.0.0.1', r));
  const SOUND = `http://127.0.0.1:${(sounds.address() as { port: number }).port}/ding.mp3`;
  const sim = new WiimSimulator({ name: 'Announce bench', model: 'pro' });
  const { port } = await sim.start({ port: 0, upnpPort: 0 });
  const at = watchRequests(sim);
  const rows: AnnounceRow[] = [];
  try {
    const flow: Array<Record<string, unknown>> = [
      { id: 'tab', type: 'tab', label: 'bench' },
      { ...benchWiimConfig('cfg', 'Announce bench', port, { events: 'auto', upnpPort: String(sim.upnp.port) }), z: 'tab' },
      { id: 'cmd', type: 'wiim-command', z: 'tab', device: 'cfg', command: '', value: '', wires: [['out']] },
      // a listener keeps the session running, so that UPnP events flow
      { id: 'st', type: 'wiim-status', z: 'tab', device: 'cfg', output: 'change', meta: false, wires: [[]] },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'tab' },
    ];
    await loadPlain([wiimConfig, wiimCommand, wiimStatus, coreNode('common/25-catch.js')] as Array<(RED: unknown) => void>, flow as Array<{ id?: string }>);
    const session = sessionOf<WiimSession>('cfg');
    for (let i = 0; i < 500 && !session.live; i++) await sleep(10);

    // prompt: message in → playPromptUrl at the device
    const prompt: number[] = [];
    let wrong = 0;
    for (let i = 0; i < samples.prompt + 20; i++) {
      // not reset(): that would drop the UPnP subscriptions
      sim.device((s) => {
        s.endMedia();
        s.state.mode = 10;
        s.state.url = 'http://radio.example.invalid/jazz.mp3';
        s.setStatus('play');
      });
      const output = outputOf('cmd', 5000);
      const t0 = performance.now();
      node('cmd').receive({ topic: 'announce', payload: `${SOUND}?${i}` });
      const arrived = await at('setPlayerCmd:playPromptUrl', t0).catch(() => undefined);
      const out = await output;
      const ok = typeof out === 'object' && (out.payload as { method?: string }).method === 'prompt';
      if (!ok || arrived === undefined) wrong++;
      else if (i >= 20) prompt.push(arrived - t0);
    }
    rows.push(
      judged(
        'announce, prompt: message in → command at the device',
        prompt,
        20,
        '≤ 20 ms median',
        `${prompt.length} samples after 20 warm-up, ${wrong} wrong; getStatusEx, getPlayerStatus, playPromptUrl over HTTPS to a simulator on loopback`,
      ),
    );

    // interrupt: the announcement's end → the music back (line-in switched back)
    const back: number[] = [];
    wrong = 0;
    for (let i = 0; i < samples.interrupt; i++) {
      sim.device((s) => {
        s.endMedia();
        s.state.mode = 40;
        s.state.volume = 30;
        s.setStatus('play');
      });
      await sleep(300); // the events report the input before the announcement
      const output = outputOf('cmd', 20000);
      node('cmd').receive({ topic: 'announce', payload: { url: `${SOUND}?${i}`, mode: 'interrupt', volume: 40 } });
      for (let k = 0; k < 500 && !(sim.mediaPlaying && sim.state.status === 'play'); k++) await sleep(5);
      // the announcer has seen it playing (by event) before it ends
      await sleep(300);
      const t0 = performance.now();
      sim.device((s) => s.endMedia());
      const arrived = await at('setPlayerCmd:switchmode:line-in', t0).catch(() => undefined);
      const out = await output;
      const ok = typeof out === 'object' && (out.payload as { resumed?: unknown }).resumed === true;
      if (!ok || arrived === undefined) wrong++;
      else back.push(arrived - t0);
    }
    rows.push(
      judged(
        'announce, interrupt: end → music back, events on',
        back,
        1500,
        '≤ 1.5 s median',
        `${back.length} samples, ${wrong} wrong; TransportState by UPnP NOTIFY, then vol, mute, switchmode`,
      ),
    );
  } finally {
    await helper.unload();
    await sim.stop();
    await new Promise<void>((r) => sounds.close(() => r()));
  }
  return rows;
}

if (require.main === module) {
  announceRows().then(
    (rows) => {
      for (const r of rows) console.log(`${r.measure}  ${r.figure}  ${r.target}  ${r.verdict}  ${r.note}`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
