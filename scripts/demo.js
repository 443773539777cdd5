#!/usr/bin/env node
// `npm start`: the simulators and a Node-RED on http://127.0.0.1:1880 (PORT
// sets another port) with this package and the example flows (dashboard
// included) deployed against the simulated devices. Nothing is advertised on
// the network: the simulated devices are reached at their static loopback
// addresses unless you pass --mdns.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { startNodeRed } = require('./node-red-instance');
const { exampleFiles, loadFlows } = require('./examples');

const root = path.resolve(__dirname, '..');
const { WiimSimulator } = require(path.join(root, 'dist/src/sim/wiim-sim.js'));
const { SonoffSimulator, makeFirmwareImage } = require(path.join(root, 'dist/src/sim/sonoff-sim.js'));

/** A loopback address of the streamer's own, so that its UPnP server has port 49152 as on a real device. */
const WIIM_HOST = '127.0.0.2';
/** The demo's encrypted POWR3 (stock eWeLink LAN mode) and its devicekey, which the demo's credentials carry. */
const POWR3_KEY = 'demo-powr3-devicekey';
/** How often the meter's and the sensor's readings change. */
const READINGS_EVERY_MS = 3000;
/** The relay's button is pressed this often. */
const PRESS_EVERY_MS = 15000;

/**
 * The streamer on its own loopback address, UPnP on 49152, so that events are
 * on. Where only 127.0.0.1 exists (macOS has no 127.0.0.2 unless aliased),
 * it runs there with an ephemeral UPnP port, which its config then names.
 */
async function startStreamer(mdns) {
  const options = { name: 'Living room (simulated)', mdns };
  try {
    const wiim = new WiimSimulator({ ...options, host: WIIM_HOST });
    const { port } = await wiim.start({ port: 0 });
    return { wiim, host: WIIM_HOST, port, upnpPort: '' };
  } catch (err) {
    if (err.code !== 'EADDRNOTAVAIL') throw err;
    const wiim = new WiimSimulator({ ...options, host: '127.0.0.1' });
    const { port } = await wiim.start({ port: 0 });
    return { wiim, host: '127.0.0.1', port, upnpPort: new URL(wiim.descriptionUrl).port };
  }
}

async function main() {
  const mdns = process.argv.includes('--mdns');
  const port = Number(process.env.PORT || 1880);
  const userDir = path.join(root, '.node-red-demo');
  fs.mkdirSync(userDir, { recursive: true });

  const streamer = await startStreamer(mdns);
  const { wiim } = streamer;
  wiim.setStatus('play'); // so that the now-playing card has something to show
  const relay = new SonoffSimulator({ deviceid: '1000abcdef', mdns });
  const dimmer = new SonoffSimulator({ deviceid: '1000abcd01', model: 'd1', type: 'diylight', mdns });
  const meter = new SonoffSimulator({ deviceid: '1000abcd02', model: 'powr3', devicekey: POWR3_KEY, mdns, readingsEveryMs: READINGS_EVERY_MS });
  const th = new SonoffSimulator({ deviceid: '1000abcd03', model: 'th', mdns, readingsEveryMs: READINGS_EVERY_MS });
  const sonoffs = [relay, dimmer, meter, th];
  for (const sim of sonoffs) await sim.start({ port: 0 });

  const otaImage = path.join(userDir, 'sonoff-diy-demo.bin');
  fs.writeFileSync(otaImage, makeFirmwareImage(256 * 1024));

  // with --mdns the SONOFF devices are found by their deviceid and push their
  // state; without it, a static address and a 2 s poll follow them.
  const sonoffAt = (sim) =>
    mdns
      ? { deviceid: sim.deviceid, host: '', port: '8081', pollInterval: '0' }
      : { deviceid: sim.deviceid, host: '127.0.0.1', port: String(sim.address.port), pollInterval: '2' };
  const flows = loadFlows(exampleFiles({ dashboard: true, widgets: true }), {
    wiim: { host: streamer.host, port: String(streamer.port), protocol: 'https', upnpPort: streamer.upnpPort },
    sonoff: sonoffAt(relay),
    // the examples whose device is not a plain relay
    configs: { ex_sd_cfg: sonoffAt(dimmer), ex_ss_cfg: sonoffAt(meter), ex_ss_th_cfg: sonoffAt(th) },
    otaImage,
  });
  const credentials = { ex_ss_cfg: { devicekey: POWR3_KEY } };
  const nr = await startNodeRed({ userDir, port, flows, credentials, widgets: true, extraModules: ['@flowfuse/node-red-dashboard'] });

  const at = (sim) => `http://127.0.0.1:${sim.address.port}/zeroconf/  (deviceid ${sim.deviceid})`;
  console.log(`
  Node-RED:   ${nr.url}
  Dashboard:  ${nr.url}dashboard  (the widgets: ${nr.url}dashboard/widgets)
  WiiM sim:   https://${streamer.host}:${streamer.port}/httpapi.asp?command=getPlayerStatus  (UPnP events: ${wiim.descriptionUrl})
  SONOFF sims:
    relay     ${at(relay)}
    D1        ${at(dimmer)}
    POWR3     ${at(meter)}, encrypted LAN mode, devicekey in the demo's credentials
    TH        ${at(th)}
  The relay's button is pressed every ${PRESS_EVERY_MS / 1000} s; the meter's and the sensor's readings change every ${READINGS_EVERY_MS / 1000} s.
  Ctrl-C stops everything.
`);
  const presser = setInterval(() => relay.pressButton(0), PRESS_EVERY_MS);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(presser);
    await nr.stop();
    await Promise.all([wiim.stop(), ...sonoffs.map((sim) => sim.stop())]);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  nr.child.on('exit', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
