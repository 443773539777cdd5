#!/usr/bin/env node
// Builds the widget package: the server side (TypeScript → dist/src/nodes, with
// the editor files beside each node's .js, where Node-RED looks for them) and
// one UMD file per widget in resources/ (Vite, one config per widget: a single
// build that exports two components does not load, FlowFuse/node-red-dashboard #1926).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'src', 'nodes');
const WIDGETS = ['ui-wiim-player', 'ui-sonoff-tile'];

fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
  if (file.endsWith('.html')) fs.copyFileSync(path.join(root, 'nodes', file), path.join(out, file));
}
fs.cpSync(path.join(root, 'locales'), path.join(out, 'locales'), { recursive: true });
fs.cpSync(path.join(root, 'icons'), path.join(out, 'icons'), { recursive: true });

async function buildUi() {
  const { build } = await import('vite');
  for (const widget of WIDGETS) await build({ configFile: path.join(root, 'ui', `vite.${widget}.config.mjs`), logLevel: 'warn' });
}

if (!process.argv.includes('--no-ui'))
  buildUi().catch((err) => {
    console.error(err);
    process.exit(1);
  });
