#!/usr/bin/env node
// `npm start`: the simulators and a Node-RED on http://127.0.0.1:1880 with
// this package and the example flows (dashboard included) deployed against
// the simulated devices. Nothing is advertised on the network: the simulated
// devices are reached at their static addresses unless you pass --mdns.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { startNodeRed } = require('./node-red-instance');
const { exampleFiles, loadFlows } = require('./examples');

const root = path.resolve(__dirname, '..');
const { WiimSimulator } = require(path.join(root, 'dist/src/sim/wiim-sim.js'));
const { SonoffSimulator, makeFirmwareImage } = require(path.join(root, 'dist/src/sim/sonoff-sim.js'));

async function main() {
  const mdns = process.argv.includes('--mdns');
  const port = Number(process.env.PORT || 1880);
  const userDir = path.join(root, '.node-red-demo');
  fs.mkdirSync(userDir, { recursive: true });

  const wiim = new WiimSimulator({ name: 'Living room (simulated)', mdns });
  const wiimAddr = await wiim.start({ port: 0 });
  wiim.setStatus('play'); // so that the now-playing card has something to show
  const relay = new SonoffSimulator({ deviceid: '1000abcdef', mdns });
  const relayAddr = await relay.start({ port: 0 });

  const otaImage = path.join(userDir, 'sonoff-diy-demo.bin');
  fs.writeFileSync(otaImage, makeFirmwareImage(256 * 1024));

  const flows = loadFlows(exampleFiles({ dashboard: true }), {
    wiim: { host: '127.0.0.1', port: String(wiimAddr.port), protocol: 'https' },
    // with --mdns the relay is found by its deviceid and pushes its state;
    // without it, a static address and a 2 s poll follow the button.
    sonoff: mdns ? { host: '', port: '8081', pollInterval: '0' } : { host: '127.0.0.1', port: String(relayAddr.port), pollInterval: '2' },
    otaImage,
  });
  const nr = await startNodeRed({ userDir, port, flows, extraModules: ['@flowfuse/node-red-dashboard'] });

  console.log(`
  Node-RED:   ${nr.url}
  Dashboard:  ${nr.url}dashboard
  WiiM sim:   https://127.0.0.1:${wiimAddr.port}/httpapi.asp?command=getPlayerStatus
  SONOFF sim: http://127.0.0.1:${relayAddr.port}/zeroconf/info  (deviceid 1000abcdef)
  Press the simulated relay's button every 15 s; Ctrl-C stops everything.
`);
  const presser = setInterval(() => relay.pressButton(0), 15000);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(presser);
    await nr.stop();
    await Promise.all([wiim.stop(), relay.stop()]);
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
