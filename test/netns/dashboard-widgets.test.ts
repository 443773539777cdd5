import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WiimSimulator } from '../../src/sim/wiim-sim';
import { SonoffSimulator } from '../../src/sim/sonoff-sim';
import { eventually as until } from '../helpers/wait';

// The widget package (dashboard/) in a real Node-RED with Dashboard 2.0, in
// headless Chromium, against the simulators: a streamer, a relay, a D1, a
// POWR3 meter and a TH sensor. The relays are found by mDNS and push their
// state, so this runs inside the private network namespace.
/* eslint-disable @typescript-eslint/no-require-imports */
const { startNodeRed } = require('../../../scripts/node-red-instance.js') as {
  startNodeRed(o: object): Promise<{ url: string; port: number; userDir: string; stop(): Promise<void>; output: string }>;
};
/* eslint-enable @typescript-eslint/no-require-imports */

const root = path.resolve(__dirname, '..', '..', '..');
const artifacts = path.join(root, 'test', 'artifacts');
const images = path.join(root, 'docs', 'images');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

type Flow = Array<Record<string, unknown>>;

function dashboardFlow(wiimPort: number, live: { port: number; upnpPort: string }): Flow {
  const group = (id: string, name: string, order: number, width = '4') => ({
    id,
    type: 'ui-group',
    name,
    page: 'w_page',
    width,
    height: '1',
    order,
    showTitle: true,
    className: '',
    visible: 'true',
    disabled: 'false',
    groupType: 'default',
  });
  const sonoff = (id: string, name: string, deviceid: string, pollInterval = '0') => ({
    id,
    type: 'sonoff-config',
    name,
    deviceid,
    host: '',
    port: '8081',
    model: 'auto',
    pollInterval,
    timeout: '1000',
  });
  const tile = (id: string, name: string, device: string, g: string) => ({
    id,
    type: 'ui-sonoff-tile',
    z: 'w_tab',
    name,
    group: g,
    order: 1,
    width: '4',
    height: '4',
    device,
    outlet: 0,
    wires: [['w_record']],
  });
  return [
    { id: 'w_tab', type: 'tab', label: 'widgets' },
    { id: 'w_base', type: 'ui-base', name: 'UI', path: '/dashboard', includeClientData: true, acceptsClientConfig: ['ui-notification', 'ui-control'] },
    {
      id: 'w_theme',
      type: 'ui-theme',
      name: 'Default',
      colors: { surface: '#ffffff', primary: '#0094CE', bgPage: '#eeeeee', groupBg: '#ffffff', groupOutline: '#cccccc' },
    },
    {
      id: 'w_page',
      type: 'ui-page',
      name: 'Widgets',
      ui: 'w_base',
      path: '/widgets',
      layout: 'grid',
      theme: 'w_theme',
      order: 1,
      visible: 'true',
      disabled: 'false',
    },
    {
      id: 'w_theme_dark',
      type: 'ui-theme',
      name: 'Dark',
      colors: { surface: '#18191b', primary: '#0d74ce', bgPage: '#111113', groupBg: '#212225', groupOutline: '#363a3f' },
    },
    {
      id: 'w_page_dark',
      type: 'ui-page',
      name: 'Dark',
      ui: 'w_base',
      path: '/dark',
      layout: 'grid',
      theme: 'w_theme_dark',
      order: 2,
      visible: 'true',
      disabled: 'false',
    },
    { ...group('w_g_dark_play', 'Player', 1, '6'), page: 'w_page_dark' },
    { ...group('w_g_dark_meter', 'Meter', 2), page: 'w_page_dark' },
    { ...group('w_g_dark_locked', 'Locked', 3), page: 'w_page_dark' },
    group('w_g_play', 'Player', 1, '6'),
    group('w_g_relay', 'Relay', 2),
    group('w_g_d1', 'D1', 3),
    group('w_g_meter', 'Meter', 4),
    group('w_g_th', 'TH', 5),
    {
      id: 'w_wiim',
      type: 'wiim-config',
      name: 'Living room',
      host: '127.0.0.1',
      port: String(wiimPort),
      protocol: 'https',
      timeout: '1000',
      pollPlaying: '1',
      pollIdle: '1',
      // events off: what the card shows of it comes by polling
      events: 'off',
      fingerprint: '',
    },
    // events on, polls seldom: what the card shows of it comes by UPnP events
    {
      id: 'w_wiim_live',
      type: 'wiim-config',
      name: 'Kitchen',
      host: '127.0.0.1',
      port: String(live.port),
      protocol: 'https',
      timeout: '1000',
      pollPlaying: '60',
      pollIdle: '60',
      upnpPort: live.upnpPort,
      events: 'auto',
      fingerprint: '',
    },
    // an encrypted device and no devicekey
    sonoff('w_locked', 'Locked', '1000eeeeee'),
    // polled too: a relay that goes silent is found offline by its polls, not after the 60 s liveness ping
    sonoff('w_relay', 'Relay', '1000aaaaaa', '1'),
    sonoff('w_d1', 'Lamp', '1000bbbbbb'),
    sonoff('w_meter', 'Meter', '1000cccccc'),
    sonoff('w_th', 'Climate', '1000dddddd'),
    {
      id: 'w_player',
      type: 'ui-wiim-player',
      z: 'w_tab',
      name: 'Living room',
      group: 'w_g_play',
      order: 1,
      width: '6',
      height: '8',
      device: 'w_wiim',
      wires: [['w_record']],
    },
    tile('w_tile_relay', 'Relay', 'w_relay', 'w_g_relay'),
    tile('w_tile_d1', 'Lamp', 'w_d1', 'w_g_d1'),
    tile('w_tile_meter', 'Meter', 'w_meter', 'w_g_meter'),
    tile('w_tile_th', 'Climate', 'w_th', 'w_g_th'),
    { ...tile('w_tile_dark_meter', 'Meter', 'w_meter', 'w_g_dark_meter'), wires: [[]] },
    { ...tile('w_tile_locked', 'Locked', 'w_locked', 'w_g_dark_locked'), wires: [[]] },
    {
      id: 'w_player_dark',
      type: 'ui-wiim-player',
      z: 'w_tab',
      name: '',
      group: 'w_g_dark_play',
      order: 1,
      width: '6',
      height: '8',
      device: 'w_wiim_live',
      showGroup: false,
      wires: [[]],
    },
    // the runtime's active resources (timers, sockets), for the redeploy check
    { id: 'w_res_in', type: 'http in', z: 'w_tab', url: '/test-resources', method: 'get', wires: [['w_res_fn']] },
    {
      id: 'w_res_fn',
      type: 'function',
      z: 'w_tab',
      func: "msg.payload = { count: global.get('process').getActiveResourcesInfo().length }; return msg;",
      outputs: 1,
      wires: [['w_acts_out']],
    },
    // what the widgets send out, kept for the test to read
    {
      id: 'w_record',
      type: 'function',
      z: 'w_tab',
      func: "const a = global.get('acts') || []; a.push({ topic: msg.topic, payload: msg.payload, result: msg.result, error: msg.error }); global.set('acts', a); return null;",
      outputs: 1,
      wires: [[]],
    },
    { id: 'w_acts_in', type: 'http in', z: 'w_tab', url: '/test-acts', method: 'get', wires: [['w_acts_fn']] },
    { id: 'w_acts_fn', type: 'function', z: 'w_tab', func: "msg.payload = global.get('acts') || []; return msg;", outputs: 1, wires: [['w_acts_out']] },
    { id: 'w_acts_out', type: 'http response', z: 'w_tab', statusCode: '', headers: {}, wires: [] },
  ];
}

describe('the dashboard widgets in a real browser', function () {
  this.timeout(240000);
  let wiim: WiimSimulator;
  let wiimPort: number;
  let live: WiimSimulator;
  let nodeRedOptions: Record<string, unknown>;
  let userDir: string;
  let locked: SonoffSimulator;
  let relay: SonoffSimulator;
  let d1: SonoffSimulator;
  let meter: SonoffSimulator;
  let th: SonoffSimulator;
  let art: http.Server;
  let artUrl: string;
  let nr: Awaited<ReturnType<typeof startNodeRed>>;
  let browser: Browser;
  let page: Page;
  let dashUrl: string;

  const acts = async (): Promise<Array<{ topic: string; payload: unknown; result?: unknown; error?: { message: string } }>> =>
    (await fetch(`http://127.0.0.1:${nr.port}/test-acts`)).json();
  const sent = (command: string) => until(() => wiim.requests.includes(command), `the streamer to receive ${command}`);
  const player = (p: Page) => p.locator('.wsp-card');
  const tile = (p: Page, name: string) => p.locator('.sst-tile', { has: p.locator('.sst-name', { hasText: name }) });
  const open = async (): Promise<Page> => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await p.goto(dashUrl);
    await player(p).waitFor({ timeout: 30000 });
    return p;
  };

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: apt-get install chromium`);
    assert.ok(fs.existsSync(path.join(root, 'dashboard', 'resources', 'ui-wiim-player.umd.js')), 'build the widget package first (npm run build)');
    fs.mkdirSync(artifacts, { recursive: true });
    fs.mkdirSync(images, { recursive: true });
    // the artwork, served on loopback: the page loads nothing from elsewhere
    art = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/svg+xml' });
      res.end('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#c62"/></svg>');
    });
    await new Promise<void>((r) => art.listen(0, '127.0.0.1', r));
    artUrl = `http://127.0.0.1:${(art.address() as AddressInfo).port}/art.svg`;

    wiim = new WiimSimulator({ name: 'Widget test streamer' });
    wiimPort = (await wiim.start({ port: 0 })).port;
    // set before Node-RED starts: the page must show it without any change
    wiim.state.tracks[0] = {
      ...wiim.state.tracks[0],
      title: 'Blue in Green',
      artist: 'Miles Davis',
      album: 'Kind of Blue',
      artwork: artUrl,
      durationMs: 337000,
    };
    wiim.playTrack(0);
    wiim.position = 60000;
    wiim.state.volume = 35;
    for (const p of wiim.state.presets) p.picurl = artUrl;
    wiim.state.followers = [{ name: 'Kitchen', ip: '127.0.0.77', uuid: 'FF98F09C-0000-0000-0000-000000000077', volume: 20, mute: false }];

    live = new WiimSimulator({ name: 'Widget test streamer with events' });
    const livePort = (await live.start({ port: 0 })).port;
    live.state.tracks[0] = { ...wiim.state.tracks[0] };
    live.playTrack(0);

    relay = new SonoffSimulator({ deviceid: '1000aaaaaa', mdns: true });
    locked = new SonoffSimulator({ deviceid: '1000eeeeee', mdns: true, devicekey: 'the key the flow lacks' });
    await locked.start({ port: 0 });
    d1 = new SonoffSimulator({ deviceid: '1000bbbbbb', mdns: true, model: 'd1' });
    meter = new SonoffSimulator({ deviceid: '1000cccccc', mdns: true, model: 'powr3' });
    th = new SonoffSimulator({ deviceid: '1000dddddd', mdns: true, model: 'th' });
    for (const s of [relay, d1, meter, th]) await s.start({ port: 0 });
    relay.outlets[0].on = true;

    nodeRedOptions = {
      quiet: true,
      flows: dashboardFlow(wiimPort, { port: livePort, upnpPort: new URL(live.descriptionUrl).port }),
      widgets: true,
      tarballs: true,
      exposeProcess: true,
      extraModules: ['@flowfuse/node-red-dashboard'],
    };
    // a directory of the test's own: the restart test starts Node-RED again in it
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-widgets-'));
    nr = await startNodeRed({ ...nodeRedOptions, userDir });
    dashUrl = `http://127.0.0.1:${nr.port}/dashboard/widgets`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    for (const s of [wiim, live, relay, d1, meter, th, locked]) await s?.stop();
    art?.close();
  });

  it('runs both packages as installed from the tarballs npm pack makes, the UMD files inside', () => {
    const installed = (name: string) => path.join(nr.userDir, 'node_modules', name);
    const pkgs = JSON.parse(fs.readFileSync(path.join(nr.userDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of ['node-red-contrib-wiim-sonoff', 'node-red-dashboard-2-wiim-sonoff']) {
      assert.equal(fs.lstatSync(installed(name)).isSymbolicLink(), false, `${name} is unpacked, not linked`);
      assert.match(pkgs.dependencies[name], /\.tgz$/);
    }
    for (const w of ['ui-wiim-player', 'ui-sonoff-tile'])
      assert.ok(fs.statSync(path.join(installed('node-red-dashboard-2-wiim-sonoff'), 'resources', `${w}.umd.js`)).size > 0);
    // what stays out of the tarball: sources and tests
    assert.equal(fs.existsSync(path.join(installed('node-red-dashboard-2-wiim-sonoff'), 'ui')), false);
    assert.equal(fs.existsSync(path.join(installed('node-red-contrib-wiim-sonoff'), 'src')), false);
  });

  it('shows the state set before the page opened, at once: track, artwork, volume, position, relay, readings', async () => {
    page = await open();
    const card = player(page);
    await card.getByText('Blue in Green', { exact: true }).waitFor({ timeout: 20000 });
    await card.getByText('Miles Davis', { exact: true }).waitFor();
    await card.getByText('Kind of Blue', { exact: true }).waitFor();
    const img = card.getByRole('img', { name: 'Album art' });
    assert.equal(await img.getAttribute('src'), artUrl);
    await page.waitForFunction(() => (document.querySelector('img[alt="Album art"]') as HTMLImageElement | null)?.naturalWidth === 64);
    const volume = card.getByRole('slider', { name: 'Volume', exact: true });
    assert.equal(await volume.getAttribute('aria-valuenow'), '35');
    const position = card.getByRole('progressbar', { name: 'Position' });
    assert.equal(await position.getAttribute('aria-valuemax'), '337');
    assert.ok(Number(await position.getAttribute('aria-valuenow')) >= 60);
    await card.getByRole('button', { name: 'Pause' }).waitFor();
    // the relay was on before Node-RED started
    const sw = tile(page, 'Relay').getByRole('switch', { name: 'Relay' });
    await until(async () => (await sw.getAttribute('aria-checked')) === 'true' || (await sw.isChecked()), 'the relay switch to show on');
    // the meter's readings, with their units
    const watts = `${Number(meter.readings.power.toFixed(1))} W`;
    await tile(page, 'Meter').getByText(watts, { exact: true }).waitFor({ timeout: 20000 });
    await tile(page, 'Climate')
      .getByText(`${Number(th.readings.temperature.toFixed(1))} °C`, { exact: true })
      .waitFor({ timeout: 20000 });
    await tile(page, 'Climate')
      .getByText(`${Math.round(th.readings.humidity)} %`, { exact: true })
      .waitFor();
    await page.screenshot({ path: path.join(artifacts, 'widgets-light.png'), fullPage: true });
    await page.screenshot({ path: path.join(images, 'widgets-light.png') });
  });

  it('follows a dark theme', async () => {
    const dark = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await dark.goto(`http://127.0.0.1:${nr.port}/dashboard/dark`);
    const card = player(dark);
    await card.getByText('Blue in Green', { exact: true }).waitFor({ timeout: 20000 });
    await tile(dark, 'Meter').getByText(/ W$/).waitFor();
    // the text takes the theme's light-on-dark colour, not a fixed one
    const color = await card.locator('.wsp-title').evaluate((el) => getComputedStyle(el).color);
    const [r, g, b] = (color.match(/\d+/g) ?? []).map(Number);
    assert.ok(r + g + b > 3 * 160, `title colour ${color} on a dark theme`);
    await dark.screenshot({ path: path.join(images, 'widgets-dark.png') });
    await dark.close();
  });

  it('follows a streamer by its UPnP events, with polls a minute apart', async () => {
    const dark = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await dark.goto(`http://127.0.0.1:${nr.port}/dashboard/dark`);
    const volume = player(dark).getByRole('slider', { name: 'Volume', exact: true });
    await volume.waitFor({ timeout: 20000 });
    const polls = live.count('getPlayerStatus');
    live.device((s) => {
      s.state.volume = 41;
    });
    await until(async () => (await volume.getAttribute('aria-valuenow')) === '41', 'volume 41 by event');
    assert.equal(live.count('getPlayerStatus'), polls, 'no poll brought it');
    await dark.close();
  });

  it('shows an encrypted device without its devicekey as the config node does, with the switch disabled', async () => {
    const dark = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await dark.goto(`http://127.0.0.1:${nr.port}/dashboard/dark`);
    const t = tile(dark, 'Locked');
    await t.getByText(/enter its devicekey/).waitFor({ timeout: 20000 });
    await t.getByText('Offline', { exact: true }).waitFor();
    await t.getByText('LAN (encrypted)', { exact: true }).waitFor();
    assert.equal(await t.getByRole('switch', { name: 'Locked' }).isDisabled(), true);
    await dark.close();
  });

  it('advances the progress bar in the browser, with no message per second', async () => {
    const p = await browser.newPage();
    let frames = 0;
    p.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        if (String(f.payload).includes('msg-input:w_player')) frames++;
      }),
    );
    await p.goto(dashUrl);
    const position = player(p).getByRole('progressbar', { name: 'Position' });
    await player(p).getByText('Blue in Green', { exact: true }).waitFor({ timeout: 20000 });
    const counted = frames;
    const first = Number(await position.getAttribute('aria-valuenow'));
    await until(async () => Number(await position.getAttribute('aria-valuenow')) >= first + 3, 'the position to advance 3 s');
    assert.ok(frames - counted < 3, `${frames - counted} messages for the player while it advanced 3 s`);
    // the count sees the player's messages: a change on the device is one
    wiim.device((s) => {
      s.state.volume = 34;
    });
    await until(() => frames > counted, 'the change to arrive by the websocket');
    await until(async () => (await player(p).getByRole('slider', { name: 'Volume', exact: true }).getAttribute('aria-valuenow')) === '34', 'volume 34');
    wiim.device((s) => {
      s.state.volume = 35;
    });
    await until(async () => (await player(p).getByRole('slider', { name: 'Volume', exact: true }).getAttribute('aria-valuenow')) === '35', 'volume 35');
    await p.close();
  });

  it('sends exactly the commands of the player controls, and each leaves the node as a message', async () => {
    const card = player(page);
    await card.getByRole('button', { name: 'Pause' }).click();
    await sent('setPlayerCmd:pause');
    await card.getByRole('button', { name: 'Play' }).waitFor({ timeout: 10000 });
    await card.getByRole('button', { name: 'Play' }).click();
    await sent('setPlayerCmd:resume');
    await card.getByRole('button', { name: 'Next' }).click();
    await sent('setPlayerCmd:next');
    await card.getByRole('button', { name: 'Previous' }).click();
    await sent('setPlayerCmd:prev');
    // the volume by keyboard: one step up from 35
    const volume = card.getByRole('slider', { name: 'Volume', exact: true });
    await volume.focus();
    await page.keyboard.press('ArrowRight');
    await sent('setPlayerCmd:vol:36');
    await until(async () => (await volume.getAttribute('aria-valuenow')) === '36', 'the slider to show 36');
    await card.getByRole('button', { name: 'Mute' }).click();
    await sent('setPlayerCmd:mute:1');
    await card.getByRole('button', { name: 'Unmute' }).waitFor({ timeout: 10000 });
    await card.getByRole('combobox', { name: 'Source' }).selectOption('line-in');
    await sent('setPlayerCmd:switchmode:line-in');
    await card.getByRole('button', { name: wiim.state.presets[0].name, exact: true }).click();
    await sent(`MCUKeyShortClick:${wiim.state.presets[0].number}`);
    const acted = await acts();
    assert.deepEqual(
      acted.map((a) => a.topic),
      ['pause', 'resume', 'next', 'prev', 'volume', 'mute', 'source', 'preset'],
    );
    assert.deepEqual(acted[4], { topic: 'volume', payload: 36, result: acted[4].result });
    assert.ok(acted.every((a) => a.error === undefined));
  });

  it('sets shuffle and repeat, seeks by a click on the bar, and sets a follower volume', async () => {
    const card = player(page);
    // back to a network track, where loop modes and seeking apply
    wiim.device(() => wiim.playTrack(0));
    await card.getByText('Blue in Green', { exact: true }).waitFor({ timeout: 20000 });
    const loops = wiim.count('setPlayerCmd:loopmode');
    await card.getByRole('button', { name: 'Shuffle' }).click();
    await until(() => wiim.count('setPlayerCmd:loopmode') === loops + 1, 'shuffle');
    await until(async () => (await card.getByRole('button', { name: 'Shuffle' }).getAttribute('aria-pressed')) === 'true', 'shuffle shown');
    await card.getByRole('button', { name: 'Repeat' }).click();
    await until(() => wiim.count('setPlayerCmd:loopmode') === loops + 2, 'repeat');
    // the middle of the bar: half the duration
    const bar = card.getByRole('progressbar', { name: 'Position' });
    const box = await bar.boundingBox();
    assert.ok(box);
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await until(() => wiim.requests.some((r) => /^setPlayerCmd:seek:(16[0-9]|17[0-9])$/.test(r)), 'a seek to the middle');
    const follower = card.getByRole('slider', { name: 'Volume of Kitchen' });
    await follower.waitFor({ timeout: 20000 });
    assert.equal(await follower.getAttribute('aria-valuenow'), '20');
    await follower.focus();
    await page.keyboard.press('ArrowRight');
    await sent('multiroom:SlaveVolume:127.0.0.77:21');
  });

  it('shows a change made on the device without a reload', async () => {
    const card = player(page);
    wiim.device((s) => {
      s.state.volume = 62;
    });
    await until(async () => (await card.getByRole('slider', { name: 'Volume', exact: true }).getAttribute('aria-valuenow')) === '62', 'volume 62 shown');
    wiim.device(() => wiim.playTrack(1));
    await card.getByText(wiim.state.tracks[1].title, { exact: true }).waitFor({ timeout: 20000 });
    const sw = tile(page, 'Relay').getByRole('switch', { name: 'Relay' });
    const before = await sw.isChecked();
    relay.pressButton(0);
    await until(async () => (await sw.isChecked()) !== before, 'the relay button shown');
    meter.stepReadings();
    await tile(page, 'Meter')
      .getByText(`${Number(meter.readings.power.toFixed(1))} W`, { exact: true })
      .waitFor({ timeout: 20000 });
    // the power history is kept on the server: a page opened now draws the curve
    const later = await open();
    await tile(later, 'Meter').getByRole('img', { name: 'Power, last 24 h' }).waitFor({ timeout: 20000 });
    assert.equal(await tile(later, 'Climate').getByRole('img', { name: 'Temperature, last 24 h' }).count(), 1);
    await later.close();
  });

  it('shows an action of one page on another page', async () => {
    const other = await open();
    const swA = tile(page, 'Relay').getByRole('switch', { name: 'Relay' });
    const swB = tile(other, 'Relay').getByRole('switch', { name: 'Relay' });
    await until(async () => (await swA.isChecked()) === (await swB.isChecked()), 'both pages agree');
    const was = relay.outlets[0].on;
    await swA.click();
    await until(() => relay.outlets[0].on === !was, 'the relay to switch');
    await until(async () => (await swB.isChecked()) === !was, 'the other page to show it');
    // the D1 brightness, by keyboard on the other page
    const brightness = tile(other, 'Lamp').getByRole('slider', { name: 'Brightness' });
    const b = Number(await brightness.getAttribute('aria-valuenow'));
    await brightness.focus();
    await other.keyboard.press(b >= 100 ? 'ArrowLeft' : 'ArrowRight');
    const want = b >= 100 ? b - 1 : b + 1;
    await until(() => d1.requestsTo('dimmable').length > 0, 'a brightness request');
    await until(
      async () => (await tile(page, 'Lamp').getByRole('slider', { name: 'Brightness' }).getAttribute('aria-valuenow')) === String(want),
      'brightness on the first page',
    );
    await other.close();
  });

  it('shows inching and the time until the relay switches back', async () => {
    const t = tile(page, 'Relay');
    const sw = t.getByRole('switch', { name: 'Relay' });
    if (relay.outlets[0].on) {
      await sw.click();
      await until(() => !relay.outlets[0].on, 'the relay off');
    }
    relay.outlets[0].pulse = true;
    relay.outlets[0].pulseWidth = 4000;
    relay.pressButton(0);
    await t.getByText(/^Inching 4 s, off in [1-4] s$/).waitFor({ timeout: 20000 });
    // the relay switches itself back, and the tile follows
    await until(async () => !(await sw.isChecked()), 'the relay back off', 30000);
    relay.outlets[0].pulse = false;
    relay.pressButton(0);
    await until(async () => (await sw.isChecked()) && (await t.getByText(/^Inching/).count()) === 0, 'inching gone');
  });

  it('says Offline with the controls disabled while a device is down, and comes back without a reload', async () => {
    const t = tile(page, 'Relay');
    await relay.setOffline(true);
    await t.getByText('Offline', { exact: true }).waitFor({ timeout: 30000 });
    assert.equal(await t.getByRole('switch', { name: 'Relay' }).isDisabled(), true);
    await relay.setOffline(false);
    await t.getByText('Online', { exact: true }).waitFor({ timeout: 30000 });
    assert.equal(await t.getByRole('switch', { name: 'Relay' }).isDisabled(), false);

    const card = player(page);
    await wiim.stop();
    await card.getByText('Offline', { exact: true }).waitFor({ timeout: 30000 });
    for (const name of ['Previous', 'Next', 'Mute', 'Shuffle', 'Repeat']) assert.equal(await card.getByRole('button', { name }).isDisabled(), true, name);
    assert.equal(await card.getByRole('slider', { name: 'Volume', exact: true }).isDisabled(), true);
    assert.equal(await card.getByText('playing', { exact: true }).count(), 0, 'no stale "playing"');
    await page.screenshot({ path: path.join(artifacts, 'widgets-offline.png'), fullPage: true });
    await wiim.start({ port: wiimPort });
    await card.getByRole('button', { name: 'Next' }).and(page.locator(':enabled')).waitFor({ timeout: 30000 });
  });

  it('offers both widgets in the editor, under dashboard 2, with the group, size and device pickers in its language', async () => {
    const editor = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await editor.goto(nr.url);
    await editor.waitForSelector('.red-ui-palette-node[data-palette-type="ui-wiim-player"]', { timeout: 60000 });
    // the palette comes before the flows: wait until the editor has the widgets' nodes
    await editor.waitForFunction(
      () => {
        const RED = (window as unknown as { RED: { nodes: { node(id: string): unknown } } }).RED;
        return !!RED.nodes.node('w_player') && !!RED.nodes.node('w_tile_meter');
      },
      undefined,
      { timeout: 60000 },
    );
    for (const type of ['ui-wiim-player', 'ui-sonoff-tile']) {
      const category = await editor.evaluate(
        (t) => (window as unknown as { RED: { nodes: { getType(t: string): { category: string } } } }).RED.nodes.getType(t).category,
        type,
      );
      assert.equal(category, 'dashboard 2');
      await editor.evaluate(
        (id) => {
          const RED = (
            window as unknown as {
              RED: { nodes: { node(id: string): { z: string } }; workspaces: { show(z: string): void }; editor: { edit(n: object): void } };
            }
          ).RED;
          const n = RED.nodes.node(id);
          RED.workspaces.show(n.z);
          RED.editor.edit(n);
        },
        type === 'ui-wiim-player' ? 'w_player' : 'w_tile_meter',
      );
      const tray = editor.locator('.red-ui-tray').last();
      await tray.locator('#node-input-size').waitFor({ state: 'visible' });
      const text = await tray.locator('.red-ui-tray-body').innerText();
      assert.doesNotMatch(text, /ui-(wiim-player|sonoff-tile)\.[a-z]+\./, `raw i18n keys in the ${type} dialog`);
      assert.match(text, /Device/);
      // the device picker lists the configured device; the size picker shows the size
      assert.match(await tray.locator('#node-input-device option:checked').innerText(), type === 'ui-wiim-player' ? /Living room/ : /Meter/);
      assert.match(await tray.locator('#node-input-size').innerText(), /\d+ x \d+/);
      await editor.screenshot({ path: path.join(artifacts, `edit-${type}.png`) });
      await editor.evaluate(() => (window as unknown as { RED: { tray: { close(): void } } }).RED.tray.close());
      await editor.waitForTimeout(400);
    }
    await editor.close();
  });

  it('refuses forged socket actions: nothing reaches a device, and Node-RED stays up', async () => {
    const before = wiim.requests.length;
    const relayBefore = relay.requestsTo('switch').length;
    const actsBefore = (await acts()).length;
    // a hostile page: its own socket to the dashboard, with the dashboard's own client library
    const hostile = await browser.newPage();
    await hostile.goto(`http://127.0.0.1:${nr.port}/dashboard/socket.io/socket.io.js`);
    await hostile.evaluate(
      async ([player, tileId]) => {
        const w = window as unknown as { io(o: object): { emit(...a: unknown[]): void; on(e: string, f: () => void): void; connected: boolean } };
        const script = document.createElement('script');
        script.textContent = document.body.innerText;
        document.head.appendChild(script);
        const socket = w.io({ path: '/dashboard/socket.io' });
        await new Promise<void>((r) => socket.on('connect', () => r()));
        socket.emit('widget-send', player, { action: 'raw', value: 'reboot' });
        socket.emit('widget-send', player, { action: 'volume', value: 150 });
        socket.emit('widget-send', player, { action: 'volume', value: 50, host: '127.0.0.9' });
        socket.emit('widget-send', player, { action: 'source', value: 'spdif' });
        socket.emit('widget-send', player, { action: 'preset', value: 42 });
        socket.emit('widget-send', player, { action: 'member-volume', value: { ip: '127.0.0.9', volume: 10 } });
        socket.emit('widget-send', player, { payload: 'reboot', topic: 'raw' });
        socket.emit('widget-send', tileId, { action: 'switch', value: 'on; wifi' });
        socket.emit('widget-send', tileId, { action: 'wifi', value: { ssid: 'x', password: 'y' } });
        socket.emit('widget-send', tileId, { action: 'brightness', value: 50 });
        socket.emit('widget-change', player, { payload: { action: 'raw', value: 'reboot' } });
        socket.emit('widget-action', player, { topic: 'raw', payload: 'reboot' });
        socket.emit('widget-send', 'no-such-widget', { action: 'pause' });
        socket.emit('no-such-event', player, { action: 'pause' });
        socket.emit('widget-send', player, 'pause');
        await new Promise((r) => setTimeout(r, 1500));
      },
      ['w_player', 'w_tile_relay'],
    );
    await hostile.close();
    const after = wiim.requests.slice(before);
    assert.deepEqual(
      after.filter(
        (r) => !/^(getPlayerStatus|getStatusEx|getMetaInfo|multiroom:getSlaveList|getPresetInfo|getNewAudioOutputHardwareMode|EQGetBand|EQGetStat)/.test(r),
      ),
      [],
      'commands the forged actions reached the streamer with',
    );
    assert.equal(relay.requestsTo('switch').length, relayBefore);
    assert.equal(relay.requestsTo('wifi').length, 0);
    assert.equal((await acts()).length, actsBefore, 'no forged action left a node');
    assert.match(nr.output, /Refused a dashboard action[^\n]*raw/);
    assert.match(nr.output, /Refused a dashboard action[^\n]*widget-change/);
    const res = await fetch(`http://127.0.0.1:${nr.port}/dashboard/widgets`);
    assert.equal(res.status, 200);
    // a reloaded page shows the device, not what was forged
    const fresh = await open();
    await player(fresh).getByRole('slider', { name: 'Volume', exact: true }).waitFor();
    assert.notEqual(await player(fresh).getByRole('slider', { name: 'Volume', exact: true }).getAttribute('aria-valuenow'), '150');
    await fresh.close();
  });

  /** Node-RED's active handles and requests (process.getActiveResourcesInfo, through a flow's endpoint). */
  const resources = async () => ((await (await fetch(`http://127.0.0.1:${nr.port}/test-resources`)).json()) as { count: number }).count;
  // the fewest over a few samples: a poll in flight holds a socket for a moment
  const least = async () => {
    let n = Infinity;
    for (let i = 0; i < 10; i++) {
      n = Math.min(n, await resources());
      await new Promise((r) => setTimeout(r, 200));
    }
    return n;
  };

  it('leaves nothing behind on the server when browsers close', async () => {
    const before = await least();
    const pages = [await open(), await open(), await open()];
    // the count sees the pages: each holds a socket
    assert.ok((await resources()) >= before + pages.length, 'three open pages hold their sockets');
    for (const p of pages) await p.close();
    await until(async () => (await resources()) <= before, `active resources back to ${before}`, 30000);
  });

  it('leaks nothing over 50 redeploys with a page open, and still shows the device', async () => {
    const before = await least();
    const flows = await (await fetch(`${nr.url}flows`, { headers: { 'Node-RED-API-Version': 'v2' } })).json();
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${nr.url}flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify({ flows: flows.flows }),
      });
      assert.equal(res.status, 200, await res.text());
    }
    const card = player(page);
    await card.getByRole('button', { name: 'Next' }).and(page.locator(':enabled')).waitFor({ timeout: 30000 });
    await until(async () => (await resources()) <= before, `active resources back to ${before}`, 30000);
    assert.doesNotMatch(nr.output, /MaxListenersExceeded/);
  });

  it('shows the current state at once on a page that reconnects after Node-RED restarts', async () => {
    const volume = player(page).getByRole('slider', { name: 'Volume', exact: true });
    await volume.waitFor();
    const title = await player(page).locator('.wsp-title').innerText();
    const { port, userDir } = nr;
    await nr.stop();
    // changed while Node-RED is down: the page, still open, must show it once Node-RED is back
    wiim.device((s) => {
      s.state.volume = 23;
    });
    nr = await startNodeRed({ ...nodeRedOptions, port, userDir });
    await until(async () => (await volume.getAttribute('aria-valuenow')) === '23', 'volume 23 after the restart, without a reload', 60000);
    assert.equal(await player(page).locator('.wsp-title').innerText(), title);
    await tile(page, 'Relay').getByText('Online', { exact: true }).waitFor({ timeout: 30000 });
  });
});
