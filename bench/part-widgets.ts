/**
 * Part 9 of `npm run bench`: the dashboard widgets (dashboard/) in a real
 * Node-RED with Dashboard 2.0, seen in headless Chromium, against
 * simulators on loopback:
 * - a device-side volume change → the player card's slider, by UPnP event,
 *   beside the same change through wiim-status → change → a stock ui-text
 *   on the same page;
 * - 20 widgets on one page (10 player cards, 10 tiles), 5 pages open, idle
 *   devices: Node-RED's CPU over a window, and the messages that reach one
 *   page for one idle player in the same window;
 * - the gzipped size of each widget's UMD file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator, type SimModel } from '../src/sim/sonoff-sim';
import { benchWiimConfig, cpuWindow, log, machineLoad, results, root, rows, startNodeRed, verdict } from './measure';
import { fmtMs, median, percentile, sleep } from './stats';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// nothing leaves loopback: no component updates, no background requests
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const WIDGETS = ['ui-wiim-player', 'ui-sonoff-tile'];
const CHANGES = 50;
const WALL_PLAYERS = 10;
const WALL_TILES: SimModel[] = ['relay', 'relay', 'relay', 'relay', 'd1', 'd1', 'powr3', 'powr3', 'th', 'th'];
const PAGES = 5;

/** The dashboard: /bench/latency (a card and a ui-text for one streamer), /bench/wall (20 widgets on idle devices). */
function flows(
  latency: { port: number; upnp: number },
  wall: { wiim: Array<{ port: number; upnp: number }>; sonoff: Array<{ port: number; deviceid: string }> },
) {
  const page = (id: string, name: string, p: string, order: number) => ({
    id,
    type: 'ui-page',
    name,
    ui: 'b_base',
    path: p,
    layout: 'grid',
    theme: 'b_theme',
    order,
    visible: 'true',
    disabled: 'false',
  });
  const group = (id: string, pageId: string, order: number) => ({
    id,
    type: 'ui-group',
    // not the id: Node-RED takes a property that names a config node as a dependency
    name: `Group ${order}`,
    page: pageId,
    width: '6',
    height: '1',
    order,
    showTitle: false,
    className: '',
    visible: 'true',
    disabled: 'false',
    groupType: 'default',
  });
  // events on, polls as the editor's defaults leave them (1 s playing, 5 s idle)
  const wiimConfig = (id: string, d: { port: number; upnp: number }) =>
    benchWiimConfig(id, `WiiM ${id.slice(4)}`, d.port, { events: 'auto', upnpPort: String(d.upnp) });
  const player = (id: string, device: string, g: string, order: number) => ({
    id,
    type: 'ui-wiim-player',
    z: 'b_tab',
    name: '',
    group: g,
    order,
    width: '6',
    height: '8',
    device,
    wires: [[]],
  });
  const out: object[] = [
    { id: 'b_tab', type: 'tab', label: 'widgets bench' },
    { id: 'b_base', type: 'ui-base', name: 'Bench', path: '/bench', includeClientData: true, acceptsClientConfig: [] },
    {
      id: 'b_theme',
      type: 'ui-theme',
      name: 'Default',
      colors: { surface: '#ffffff', primary: '#0094CE', bgPage: '#eeeeee', groupBg: '#ffffff', groupOutline: '#cccccc' },
    },
    page('b_p_lat', 'Latency', '/latency', 1),
    page('b_p_wall', 'Wall', '/wall', 2),
    group('b_g_lat', 'b_p_lat', 1),
    wiimConfig('b_w_lat', latency),
    player('b_lat_player', 'b_w_lat', 'b_g_lat', 1),
    // the stock way: wiim-status → change → ui-text
    { id: 'b_lat_status', type: 'wiim-status', z: 'b_tab', device: 'b_w_lat', output: 'change', meta: false, wires: [['b_lat_change']] },
    {
      id: 'b_lat_change',
      type: 'change',
      z: 'b_tab',
      name: 'volume',
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'payload.volume', tot: 'msg' }],
      wires: [['b_lat_text']],
    },
    {
      id: 'b_lat_text',
      type: 'ui-text',
      z: 'b_tab',
      group: 'b_g_lat',
      order: 2,
      width: 0,
      height: 0,
      name: '',
      label: 'Volume',
      format: '{{msg.payload}}',
      layout: 'row-spread',
      style: false,
      className: 'bench-text',
      wires: [],
    },
  ];
  for (let g = 0; g < 4; g++) out.push(group(`b_g_wall${g}`, 'b_p_wall', g + 1));
  wall.wiim.forEach((d, i) => {
    out.push(wiimConfig(`b_w${i}`, d));
    out.push(player(`b_player${i}`, `b_w${i}`, `b_g_wall${i % 2}`, i + 1));
  });
  wall.sonoff.forEach((d, i) => {
    out.push({
      id: `b_s${i}`,
      type: 'sonoff-config',
      name: `Tile ${i}`,
      deviceid: d.deviceid,
      host: '127.0.0.1',
      port: String(d.port),
      model: 'auto',
      pollInterval: '',
      timeout: '2000',
    });
    out.push({
      id: `b_tile${i}`,
      type: 'ui-sonoff-tile',
      z: 'b_tab',
      name: `Tile ${i}`,
      group: `b_g_wall${2 + (i % 2)}`,
      order: i + 1,
      width: '3',
      height: '3',
      device: `b_s${i}`,
      outlet: 0,
      wires: [[]],
    });
  });
  return out;
}

/**
 * In the page: when the card's volume slider and the ui-text first show each
 * value (the DOM changed; the frame that paints it follows within 16 ms), on
 * the wall clock, which this process reads too (performance.timeOrigin + now).
 */
function watchVolumes(): void {
  const w = window as unknown as { seen: Record<string, number> };
  w.seen = {};
  // window's: this function runs in the page (the module's import would not be there)
  const at = () => window.performance.timeOrigin + window.performance.now();
  const look = () => {
    const slider = document.querySelector('.wsp-card input[aria-label="Volume"]');
    const v = slider?.getAttribute('aria-valuenow');
    if (v && !(`card${v}` in w.seen)) w.seen[`card${v}`] = at();
    const m = /(\d+)\s*$/.exec(document.querySelector('.bench-text')?.textContent ?? '');
    if (m && !(`text${m[1]}` in w.seen)) w.seen[`text${m[1]}`] = at();
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-valuenow'] });
}

async function latency(browser: Browser, url: string, sim: WiimSimulator): Promise<{ card: number[]; text: number[] }> {
  const page = await browser.newPage();
  await page.addInitScript(watchVolumes);
  await page.goto(`${url}bench/latency`);
  await page.locator('.wsp-card input[aria-label="Volume"]').waitFor({ timeout: 30000 });
  await page.locator('.bench-text').waitFor({ timeout: 30000 });
  const t0 = performance.now();
  while (sim.upnp.subscriptions < 3 && performance.now() - t0 < 15000) await sleep(50);
  await sleep(1000);
  const card: number[] = [];
  const text: number[] = [];
  const seen = () => page.evaluate(() => (window as unknown as { seen: Record<string, number> }).seen);
  for (let i = 0; i < CHANGES; i++) {
    // a value neither showed before: 51..100, then the card started at the simulator's own
    const volume = 51 + i;
    const start = performance.timeOrigin + performance.now();
    sim.device((s) => (s.state.volume = volume));
    const deadline = performance.now() + 10000;
    let s = await seen();
    while (!(`card${volume}` in s && `text${volume}` in s) && performance.now() < deadline) {
      await sleep(10);
      s = await seen();
    }
    if (!(`card${volume}` in s))
      throw new Error(
        `the card did not show volume ${volume}: ${JSON.stringify(s)} ${await page.locator('.wsp-card').innerText()} subs ${sim.upnp.subscriptions}`,
      );
    if (!(`text${volume}` in s)) throw new Error(`the ui-text did not show volume ${volume}`);
    card.push(s[`card${volume}`] - start);
    text.push(s[`text${volume}`] - start);
    await sleep(100 + Math.random() * 200);
  }
  await page.close();
  return { card, text };
}

/** The wall open in PAGES pages: Node-RED's CPU over `seconds` after `warmSeconds`, and the messages one page got for one idle player. */
async function wall(browser: Browser, url: string, pid: number, first: WiimSimulator, warmSeconds: number, seconds: number) {
  const pages: Page[] = [];
  let frames = 0;
  let counting = false;
  for (let i = 0; i < PAGES; i++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    if (i === 0)
      page.on('websocket', (ws) =>
        ws.on('framereceived', (f) => {
          if (counting && String(f.payload).includes('"msg-input:b_player0"')) frames++;
        }),
      );
    await page.goto(`${url}bench/wall`);
    await page
      .locator('.wsp-card')
      .nth(WALL_PLAYERS - 1)
      .waitFor({ timeout: 60000 });
    await page
      .locator('.sst-tile')
      .nth(WALL_TILES.length - 1)
      .waitFor({ timeout: 60000 });
    pages.push(page);
  }
  const online = await pages[0].locator('.sst-tile .sst-online').count();
  const warm = await cpuWindow(pid, warmSeconds);
  counting = true;
  const machine = machineLoad();
  const cpu = await cpuWindow(pid, seconds);
  const machinePercent = machine();
  const idleFrames = frames;
  // the count sees the player's messages: a change on its device is one
  first.device((s) => (s.state.volume = 77));
  const t0 = performance.now();
  while (frames === idleFrames && performance.now() - t0 < 10000) await sleep(20);
  const counterSees = frames > idleFrames;
  counting = false;
  for (const p of pages) await p.close();
  return { warm, cpu, machinePercent, frames: idleFrames, counterSees, online };
}

export async function widgetRows(): Promise<void> {
  const seconds = Number(process.env.BENCH_WIDGETS_SECONDS ?? 60);
  const warmSeconds = Math.min(seconds, 20);
  // the UMD files as `npm run build` made them
  const sizes = WIDGETS.map((w) => {
    const file = fs.readFileSync(path.join(root, 'dashboard', 'resources', `${w}.umd.js`));
    return { widget: w, bytes: file.length, gzip: zlib.gzipSync(file, { level: 9 }).length };
  });

  const lat = new WiimSimulator({ name: 'Bench latency' });
  const latPort = (await lat.start({ port: 0 })).port;
  const wiims: WiimSimulator[] = [];
  const sonoffs: SonoffSimulator[] = [];
  let browser: Browser | undefined;
  let nr: Awaited<ReturnType<typeof startNodeRed>> | undefined;
  try {
    const wallWiim: Array<{ port: number; upnp: number }> = [];
    for (let i = 0; i < WALL_PLAYERS; i++) {
      // idle: stopped, nothing advances
      const sim = new WiimSimulator({ name: `Bench idle ${i}` });
      const { port } = await sim.start({ port: 0 });
      sim.device((s) => (s.state.status = 'stop'));
      wiims.push(sim);
      wallWiim.push({ port, upnp: sim.upnp.port });
    }
    const wallSonoff: Array<{ port: number; deviceid: string }> = [];
    for (const [i, model] of WALL_TILES.entries()) {
      const deviceid = `10009900${String(i).padStart(2, '0')}`;
      const sim = new SonoffSimulator({ deviceid, model });
      const { port } = await sim.start({ port: 0 });
      sonoffs.push(sim);
      wallSonoff.push({ port, deviceid });
    }
    nr = await startNodeRed({
      flows: flows({ port: latPort, upnp: lat.upnp.port }, { wiim: wallWiim, sonoff: wallSonoff }),
      quiet: true,
      widgets: true,
      extraModules: ['@flowfuse/node-red-dashboard'],
    });
    const url = (nr as unknown as { url: string }).url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });

    log(`9: ${CHANGES} device-side volume changes → the card and a stock ui-text...`);
    const l = await latency(browser, url, lat);
    log(`9: 20 widgets, ${PAGES} pages open, idle devices (${warmSeconds} s warm-up, ${seconds} s judged)...`);
    const w = await wall(browser, url, nr.child.pid as number, wiims[0], warmSeconds, seconds);
    const upnpLive = wiims.filter((s) => s.upnp.subscriptions > 0).length;

    results.widgets = { latencyMs: l, wall: { ...w, seconds, upnpLive }, umd: sizes };
    rows.push({
      measure: '9: WiiM device-side change → visible in the widget (Chromium), events',
      figure: fmtMs(median(l.card)),
      target: '≤ 100 ms',
      verdict: verdict(median(l.card) <= 100),
      note: `${l.card.length} volume changes on the simulated device; p95 ${fmtMs(percentile(l.card, 95))}; DOM changed, the paint follows within a frame`,
    });
    rows.push({
      measure: '  the same change, wiim-status → change → stock ui-text',
      figure: fmtMs(median(l.text)),
      target: 'reported',
      verdict: '',
      note: `same page, same changes; p95 ${fmtMs(percentile(l.text, 95))}`,
    });
    rows.push({
      measure: `9: messages to a page for one idle player, ${seconds} s, events on`,
      figure: w.counterSees ? String(w.frames) : 'FAILED',
      target: seconds === 60 ? '≤ 2' : '≤ 2 (per 60 s)',
      verdict: verdict(w.counterSees && w.frames <= (2 * seconds) / 60),
      note: `socket.io frames msg-input:<player> on one of the ${PAGES} pages (${w.counterSees ? 'a volume change on the device afterwards was counted' : 'the count did not see a change made afterwards'}); ${upnpLive}/${WALL_PLAYERS} players subscribed to events`,
    });
    rows.push({
      measure: `9: 20 widgets, ${PAGES} pages open, idle devices: CPU of Node-RED (${seconds} s)`,
      figure: `${w.cpu.all.toFixed(2)} % of a core`,
      target: '≤ 1 %',
      verdict: verdict(w.cpu.all <= 1),
      note: `main thread ${w.cpu.main.toFixed(2)} %; first ${warmSeconds} s ${w.warm.all.toFixed(2)} %; 10 cards (events on, the default polls) and 10 tiles (4 relays, 2 D1, 2 POWR3, 2 TH; static host, 10 s polls), ${w.online}/10 tiles online; the machine ${w.machinePercent.toFixed(0)} % busy (of ${os.cpus().length * 100} %)`,
    });
    for (const s of sizes)
      rows.push({
        measure: `9: ${s.widget}.umd.js, gzipped`,
        figure: `${(s.gzip / 1024).toFixed(1)} KB`,
        target: '≤ 25 KB',
        verdict: verdict(s.gzip <= 25 * 1024),
        note: `${(s.bytes / 1024).toFixed(1)} KB before gzip (level 9); Vue, Vuex and Vuetify come with the dashboard`,
      });
  } finally {
    await browser?.close();
    await nr?.stop();
    for (const s of [lat, ...wiims]) await s.stop();
    for (const s of sonoffs) await s.stop();
  }
}
