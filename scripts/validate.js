#!/usr/bin/env node
// `npm run validate`: node-red-dev validate on the built package. The tool
// fetches catalogue.nodered.org/catalogue.json, which this network cannot
// reach; that one request is answered with an empty catalogue, so the checks
// that compare against the Flow Library (P08 similar names, N01 node names
// taken) pass without proof. Everything else runs for real.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const Module = require('node:module');

const root = path.resolve(__dirname, '..');
const CATALOGUE = 'https://catalogue.nodered.org/catalogue.json';

if (!process.argv.includes('--no-build')) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });

// node-red-dev's own copy of axios: answer the catalogue request locally
const cli = require.resolve('node-red-dev/package.json');
const axios = require(Module.createRequire(path.join(path.dirname(cli), 'src', 'libs', 'checknodes.js')).resolve('axios'));
const realGet = axios.get.bind(axios);
axios.get = (url, ...rest) => (url === CATALOGUE ? Promise.resolve({ status: 200, data: { modules: [] } }) : realGet(url, ...rest));

console.log(`(offline: ${CATALOGUE} answered with an empty catalogue; P08 and N01 are not proven)`);
const Validate = require(path.join(path.dirname(cli), 'src', 'commands', 'validate.js'));
Validate.run(['-p', root]).catch((err) => {
  // oclif ends a finished run by throwing its exit code
  if (err && err.oclif && err.oclif.exit === 0) return;
  console.error(err);
  process.exit(1);
});
