import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WiimSimulator } from '../../src/sim/wiim-sim';
import { SonoffSimulator } from '../../src/sim/sonoff-sim';
import { until } from '../helpers/runtime';

// The real editor in headless Chromium, against a spawned Node-RED with the
// package installed and the example flows (dashboard included) deployed.
// Runs inside the private network namespace: the relay is found by mDNS.
/* eslint-disable @typescript-eslint/no-require-imports */
const { startNodeRed } = require('../../../scripts/node-red-instance.js') as {
  startNodeRed(o: object): Promise<{ url: string; port: number; stop(): Promise<void>; output: string }>;
};
const { exampleFiles, loadFlows } = require('../../../scripts/examples.js') as {
  exampleFiles(o: { dashboard: boolean }): string[];
  loadFlows(files: string[], devices: object): Array<Record<string, unknown>>;
};
/* eslint-enable @typescript-eslint/no-require-imports */

const root = path.resolve(__dirname, '..', '..', '..');
const artifacts = path.join(root, 'test', 'artifacts');
// the README's screenshots, committed: made here so that they show the real editor and dashboard
const images = path.join(root, 'docs', 'images');
const SCREENSHOT = { width: 1280, height: 800 };
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TYPES = ['wiim-config', 'wiim-command', 'wiim-status', 'sonoff-config', 'sonoff-switch', 'sonoff-pulse', 'sonoff-ota', 'sonoff-dimmer', 'sonoff-sensor'];
const CONFIG_TYPES = new Set(['wiim-config', 'sonoff-config']);

// the RED global of the editor page, as far as these checks use it
interface EditorRED {
  nodes: {
    getType(t: string): { category: string } | null;
    filterNodes(f: { type: string }): Array<{ id: string; z: string }>;
    node(id: string): { id: string; z?: string; status?: { text?: string } } | null;
    eachNode(cb: (n: { id: string; type: string; valid?: boolean }) => void): void;
    eachConfig(cb: (n: { id: string; type: string; valid?: boolean }) => void): void;
  };
  editor: { edit(n: object): void; editConfig(name: string, type: string, id: string): void };
  workspaces: { show(id: string): void };
  tray: { close(): void };
  actions: { invoke(name: string): void };
}
declare const RED: EditorRED;

describe('the editor in a real browser', function () {
  this.timeout(180000);
  let wiim: WiimSimulator;
  let relay: SonoffSimulator;
  let nr: Awaited<ReturnType<typeof startNodeRed>>;
  let browser: Browser;
  let page: Page;
  let flows: Array<Record<string, unknown>>;

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: apt-get install chromium`);
    fs.mkdirSync(artifacts, { recursive: true });
    fs.mkdirSync(images, { recursive: true });
    wiim = new WiimSimulator({ name: 'Browser test streamer', mdns: true });
    const w = await wiim.start({ port: 0 });
    relay = new SonoffSimulator({ deviceid: '1000abcdef', mdns: true });
    await relay.start({ port: 0 });
    // on before Node-RED starts: the dashboard must show it without any change
    relay.outlets[0].on = true;
    flows = loadFlows(exampleFiles({ dashboard: true }), {
      wiim: { host: '127.0.0.1', port: String(w.port), protocol: 'https' },
      sonoff: { host: '', port: '8081', pollInterval: '0' },
    });
    // the editor under /admin/: Discover and Test connection must use relative URLs
    nr = await startNodeRed({ quiet: true, flows, httpAdminRoot: '/admin', extraModules: ['@flowfuse/node-red-dashboard'] });
    assert.match(nr.url, /\/admin\/$/);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
        '--disable-quic',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(nr.url);
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="wiim-command"]', { timeout: 60000 });
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
    await wiim?.stop();
    await relay?.stop();
  });

  it('lists all nine nodes: seven in the palette, two as config types', async () => {
    for (const type of TYPES) {
      if (CONFIG_TYPES.has(type)) {
        const category = await page.evaluate((t) => RED.nodes.getType(t)?.category, type);
        assert.equal(category, 'config', `${type} is not registered as a config node`);
      } else {
        const el = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
        assert.equal(await el.count(), 1, `${type} is not in the palette`);
        const label = (await el.innerText()).trim();
        assert.ok(label.length > 0 && !label.includes('.'), `${type} palette label is "${label}"`);
      }
    }
  });

  it('shows each node with an icon that loads', async () => {
    for (const type of TYPES.filter((t) => !CONFIG_TYPES.has(t))) {
      const url = await page
        .locator(`.red-ui-palette-node[data-palette-type="${type}"] .red-ui-palette-icon`)
        .evaluate((el) => getComputedStyle(el).backgroundImage);
      const m = /url\("?([^")]+)"?\)/.exec(url);
      assert.ok(m, `${type} has no icon`);
      const res = await page.request.get(m[1]);
      assert.equal(res.status(), 200, `${type} icon ${m[1]} does not load`);
      assert.match(await res.text(), /<svg/);
    }
  });

  for (const type of TYPES) {
    it(`opens the ${type} edit dialog with translated labels`, async () => {
      await page.evaluate((t) => {
        // config nodes are not in filterNodes; the examples give them fixed ids
        const n =
          t === 'wiim-config' ? RED.nodes.node('wiim_cfg') : t === 'sonoff-config' ? RED.nodes.node('sonoff_cfg') : RED.nodes.filterNodes({ type: t })[0];
        if (!n) throw new Error(`no ${t} in the deployed flows`);
        if (t.endsWith('-config')) RED.editor.editConfig('', t, n.id);
        else {
          if (n.z) RED.workspaces.show(n.z);
          RED.editor.edit(n);
        }
      }, type);
      const tray = page.locator('.red-ui-tray').last();
      await tray.locator('.red-ui-tray-body .form-row label').first().waitFor({ state: 'visible' });
      await page.waitForTimeout(300); // the tray slides in
      const text = await tray.locator('.red-ui-tray-body').innerText();
      assert.doesNotMatch(text, /\b(wiim|sonoff)-[a-z]+\.[a-z]+\.[A-Za-z]/, `raw i18n keys in the ${type} dialog`);
      const labels = await tray.locator('.red-ui-tray-body .form-row label').allInnerTexts();
      assert.ok(labels.filter((l) => l.trim()).length >= 2, `${type} dialog has too few labels: ${labels.join('|')}`);
      await page.screenshot({ path: path.join(artifacts, `edit-${type}.png`) });
      await page.evaluate(() => RED.tray.close());
      await page.waitForTimeout(400);
    });
  }

  it('finds the simulated relay with Discover and fills the form when it is picked', async () => {
    await page.evaluate(() => RED.editor.editConfig('', 'sonoff-config', 'sonoff_cfg'));
    await page.locator('#node-config-sonoff-discover').waitFor({ state: 'visible' });
    await page.fill('#node-config-input-deviceid', '');
    await page.fill('#node-config-input-port', '');
    await page.click('#node-config-sonoff-discover');
    const item = page.locator('#node-config-sonoff-discovered li', { hasText: '1000abcdef' });
    await item.waitFor({ state: 'visible', timeout: 15000 });
    await page.screenshot({ path: path.join(artifacts, 'discover-sonoff.png') });
    await item.click();
    assert.equal(await page.inputValue('#node-config-input-deviceid'), '1000abcdef');
    assert.equal(await page.inputValue('#node-config-input-port'), String(relay.address.port));
    await page.evaluate(() => RED.tray.close());
    await page.waitForTimeout(400);
  });

  it('finds the simulated streamer with Discover and fills the host when it is picked', async () => {
    await page.evaluate(() => RED.editor.editConfig('', 'wiim-config', 'wiim_cfg'));
    await page.locator('#node-config-wiim-discover').waitFor({ state: 'visible' });
    await page.fill('#node-config-input-host', '');
    await page.click('#node-config-wiim-discover');
    const list = page.locator('#node-config-wiim-found');
    await list.locator('option', { hasText: 'Browser test streamer' }).waitFor({ state: 'attached', timeout: 15000 });
    await page.screenshot({ path: path.join(artifacts, 'discover-wiim.png') });
    const value = await list.locator('option', { hasText: 'Browser test streamer' }).getAttribute('value');
    await list.selectOption(value ?? '');
    assert.equal(await page.inputValue('#node-config-input-host'), '127.0.0.1');
    await page.evaluate(() => RED.tray.close());
    await page.waitForTimeout(400);
  });

  it('shows every node of the example flows as valid: a field newer than a flow takes its default', async () => {
    // the examples predate offlineAfter (and the SONOFF timeout), as a user's old flow would
    assert.ok(flows.some((n) => n.type === 'wiim-config' && !('offlineAfter' in n)));
    assert.ok(flows.some((n) => n.type === 'sonoff-config' && !('timeout' in n)));
    const checked = await page.evaluate((types) => {
      const out: Array<{ id: string; type: string; valid?: boolean }> = [];
      const keep = (n: { id: string; type: string; valid?: boolean }) => {
        if (types.includes(n.type)) out.push({ id: n.id, type: n.type, valid: n.valid });
      };
      RED.nodes.eachNode(keep);
      RED.nodes.eachConfig(keep);
      return out;
    }, TYPES);
    assert.deepEqual(new Set(checked.map((n) => n.type)), new Set(TYPES), 'every type appears in the examples');
    assert.deepEqual(
      checked.filter((n) => n.valid === false),
      [],
      'nodes the editor marks invalid',
    );
  });

  it('shows the status of a deployed example flow on the canvas', async () => {
    await page.evaluate(() => RED.workspaces.show('ex_ws_tab'));
    const label = page.locator('g[id="ex_ws_status"] .red-ui-flow-node-status-label');
    await page.waitForFunction(
      () => {
        const el = document.querySelector('g[id="ex_ws_status"] .red-ui-flow-node-status-label');
        return !!el && (el.textContent ?? '').trim().length > 0;
      },
      undefined,
      { timeout: 15000 },
    );
    const text = (await label.textContent())?.trim() ?? '';
    assert.doesNotMatch(text, /wiim-status\.status\./, 'status text is a raw i18n key');
    await page.screenshot({ path: path.join(artifacts, 'status-on-canvas.png') });
    await page.setViewportSize(SCREENSHOT);
    await page.evaluate(() => {
      // no tip of the day: it changes from run to run, and so would the committed image
      RED.actions.invoke('core:toggle-show-tips');
      // the package's categories in view, not the core nodes at the top of the palette
      document.querySelector('.red-ui-palette-node[data-palette-type="wiim-command"]')?.closest('.red-ui-palette-category')?.scrollIntoView();
    });
    await page.mouse.move(600, 600); // on empty canvas: no hover effects left over from the dialogs
    await page.waitForTimeout(400); // the editor lays itself out again
    await page.screenshot({ path: path.join(images, 'editor.png') });
  });

  it('shows the relay as it is right after a page load, before anything changes', async () => {
    const dash = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await dash.goto(`http://127.0.0.1:${nr.port}/dashboard`);
    const input = dash.locator('.nrdb-ui-switch input[type="checkbox"], .v-switch input[type="checkbox"]').first();
    await input.waitFor({ state: 'attached', timeout: 30000 });
    await dash.waitForFunction(
      () => (document.querySelector('.nrdb-ui-switch input[type="checkbox"], .v-switch input[type="checkbox"]') as HTMLInputElement | null)?.checked === true,
      undefined,
      { timeout: 15000 },
    );
    assert.equal(relay.outlets[0].on, true);
    await dash.close();
  });

  it('shows the relay state on the dashboard change when the physical button is pressed', async () => {
    const dash = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await dash.goto(`http://127.0.0.1:${nr.port}/dashboard`);
    const input = dash.locator('.nrdb-ui-switch input[type="checkbox"], .v-switch input[type="checkbox"]').first();
    await input.waitFor({ state: 'attached', timeout: 30000 });
    const shows = (on: boolean) =>
      dash.waitForFunction(
        (want) =>
          (document.querySelector('.nrdb-ui-switch input[type="checkbox"], .v-switch input[type="checkbox"]') as HTMLInputElement | null)?.checked === want,
        on,
        { timeout: 15000 },
      );
    // the page first shows the relay as it is (the dashboard replays the last state as it loads)
    const before = relay.outlets[0].on;
    await shows(before);
    relay.pressButton(0);
    await shows(!before);
    assert.notEqual(await input.isChecked(), before);
    await dash.screenshot({ path: path.join(artifacts, 'dashboard.png') });
    await dash.close();
  });

  it('drives the streamer from the dashboard: Next shows the new title, the source drop-down switches the input', async () => {
    wiim.setStatus('play');
    const dash = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await dash.goto(`http://127.0.0.1:${nr.port}/dashboard`);
    await dash.getByText(wiim.track.title, { exact: true }).waitFor({ timeout: 15000 });
    const index = wiim.state.trackIndex;
    await dash.getByRole('button', { name: 'Next' }).click();
    const next = wiim.state.tracks[(index + 1) % wiim.state.tracks.length].title;
    await dash.getByText(next, { exact: true }).waitFor({ timeout: 15000 });
    assert.equal(wiim.state.trackIndex, (index + 1) % wiim.state.tracks.length);

    await dash.locator('.nrdb-ui-dropdown .v-field, .nrdb-ui-dropdown .v-select').first().click();
    await dash.getByRole('option', { name: 'Line in' }).click();
    await until(() => wiim.state.mode === 40, 'the streamer to switch to line-in');
    await dash.screenshot({ path: path.join(artifacts, 'dashboard-playing.png') });
    await dash.setViewportSize(SCREENSHOT);
    await dash.waitForTimeout(400);
    await dash.screenshot({ path: path.join(images, 'dashboard.png') });
    await dash.close();
  });

  it('follows the device in the Source drop-down, turns inching off again, and shows a title as text', async () => {
    const dash = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await dash.goto(`http://127.0.0.1:${nr.port}/dashboard`);
    // the source switched on the device's panel shows in the drop-down
    wiim.state.mode = 43;
    await dash.locator('.nrdb-ui-dropdown').getByText('Optical').waitFor({ timeout: 15000 });
    // inching on, then off again
    await dash.getByRole('button', { name: 'Inching 2 s on' }).click();
    await until(() => relay.outlets[0].pulse, 'inching on');
    await dash.getByRole('button', { name: 'Inching off' }).click();
    await until(() => !relay.outlets[0].pulse, 'inching off');
    // a title with markup is text: no element, no script, no remote load
    const hostile = '<img src="http://127.0.0.9/x.png" onerror="window.__injected = 1">';
    wiim.state.tracks[0] = { ...wiim.state.tracks[0], title: hostile };
    wiim.playTrack(0);
    await dash.getByText(hostile, { exact: true }).waitFor({ timeout: 15000 });
    assert.equal(await dash.locator('.nrdb-ui-template img').count(), 0);
    assert.equal(await dash.evaluate(() => (window as unknown as { __injected?: number }).__injected), undefined);
    await dash.close();
  });
});
