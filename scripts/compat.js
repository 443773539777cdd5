#!/usr/bin/env node
// The compatibility run: the whole test suite on Node-RED 5 with Node 22.
// Node 22 comes from the npm registry's `node` package, Node-RED 5 from the
// registry too; both go into .compat/, outside the project's own tree.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dir = path.join(root, '.compat');
const want = { node: '^22.12.0', 'node-red': '^5.0.0' };

fs.mkdirSync(dir, { recursive: true });
const manifest = path.join(dir, 'package.json');
const wanted = JSON.stringify({ name: 'compat', private: true, dependencies: want }, null, 2);
if (!fs.existsSync(manifest) || fs.readFileSync(manifest, 'utf8') !== wanted || !fs.existsSync(path.join(dir, 'node_modules', 'node-red'))) {
  fs.writeFileSync(manifest, wanted);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: dir, stdio: 'inherit' });
}

const node22 = path.join(dir, 'node_modules', '.bin', 'node');
const version = execFileSync(node22, ['--version']).toString().trim();
const nodeRed = path.join(dir, 'node_modules', 'node-red');
const nrVersion = require(path.join(nodeRed, 'package.json')).version;
console.log(`compat run: Node ${version}, Node-RED ${nrVersion}`);

const env = { ...process.env, NODE_RED_DIR: nodeRed };
const mocha = require.resolve('mocha/bin/mocha.js');
const steps = [
  [node22, [mocha, '--config', '.mocharc.json']],
  [node22, [path.join(root, 'scripts', 'netns-test.js')]],
];
for (const [bin, args] of steps) {
  const run = spawnSync(bin, args, { cwd: root, env, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status === null ? 1 : run.status);
}
console.log(`compat run passed: Node ${version}, Node-RED ${nrVersion}`);
