#!/usr/bin/env node
// Runs the mDNS tests (dist/test/netns) inside a private network namespace
// with only a loopback interface, multicast on, so that no mDNS packet ever
// leaves this machine. Needs root (or user namespaces) and `unshare`.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const specs = args.length ? args : ['dist/test/netns/*.test.js'];
const mocha = require.resolve('mocha/bin/mocha.js');
const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const inner = [
  'ip link set lo up',
  'ip link set lo multicast on',
  'ip route add 224.0.0.0/4 dev lo',
  // not .mocharc.json: its spec (the tests outside the namespace) would be added
  `exec ${[process.execPath, mocha, '--no-config', '--timeout', '60000', ...specs].map(quote).join(' ')}`,
].join(' && ');

const probe = spawnSync('unshare', ['-n', 'true']);
if (probe.error || probe.status !== 0) {
  const why = probe.error ? probe.error.message : String(probe.stderr).trim();
  const message = `mDNS tests need 'unshare -n' (root or user namespaces) and iproute2: ${why}`;
  if (process.env.CI) {
    console.error(`FAIL: ${message}`);
    process.exit(1);
  }
  console.error(`\n*** mDNS tests NOT RUN: ${message} ***\n*** (under CI=true this fails the run) ***\n`);
  process.exit(0);
}
const run = spawnSync('unshare', ['-n', 'sh', '-c', inner], { cwd: root, stdio: 'inherit' });
process.exit(run.status === null ? 1 : run.status);
