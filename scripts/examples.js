'use strict';
// Loads the example flows from examples/ and points their config nodes at
// given devices (the simulators), so that the demo and the tests run exactly
// what a user imports.
const fs = require('node:fs');
const path = require('node:path');

const dir = path.resolve(__dirname, '..', 'examples');
/** the widget package's examples (dashboard/): they share the device examples' config nodes, by id */
const widgetsDir = path.resolve(__dirname, '..', 'dashboard', 'examples');

function exampleFiles(options = {}) {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => path.join(dir, f));
  if (options.dashboard)
    files.push(
      ...fs
        .readdirSync(path.join(dir, 'dashboard'))
        .filter((f) => f.endsWith('.json'))
        .map((f) => path.join(dir, 'dashboard', f)),
    );
  if (options.widgets)
    files.push(
      ...fs
        .readdirSync(widgetsDir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => path.join(widgetsDir, f)),
    );
  return files.sort();
}

/**
 * @param {string[]} files
 * @param {{ wiim?: object, sonoff?: object, configs?: Record<string, object>, otaImage?: string, announceFile?: string }} devices
 *   properties to set on every wiim-config / sonoff-config node, then on the
 *   config node of each id in `configs` (a device of its own), a firmware
 *   path for the OTA example's inject node, and a sound file for the
 *   announcement example's doorbell
 * @returns {object[]} one flow; config nodes with the same id appear once
 */
function loadFlows(files, devices = {}) {
  const seen = new Set();
  const flow = [];
  for (const file of files) {
    for (const node of JSON.parse(fs.readFileSync(file, 'utf8'))) {
      if (seen.has(node.id)) continue;
      seen.add(node.id);
      if (node.type === 'wiim-config' && devices.wiim) Object.assign(node, devices.wiim);
      if (node.type === 'sonoff-config' && devices.sonoff) Object.assign(node, devices.sonoff);
      if (devices.configs && devices.configs[node.id]) Object.assign(node, devices.configs[node.id]);
      if (node.type === 'inject' && devices.otaImage && node.z === 'ex_so_tab') node.payload = devices.otaImage;
      if (node.type === 'inject' && devices.announceFile && node.z === 'ex_an_tab' && node.topic === 'announce' && node.payloadType === 'json')
        node.payload = JSON.stringify({ ...JSON.parse(node.payload), file: devices.announceFile });
      flow.push(node);
    }
  }
  return flow;
}

module.exports = { exampleFiles, loadFlows, examplesDir: dir };
