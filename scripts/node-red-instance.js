'use strict';
// Starts a real Node-RED (the one in node_modules) in a user directory with
// this package installed, as a person would have it in ~/.node-red. Used by
// `npm start`, the resource check and the browser tests.
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * @param {object} options
 * @param {string} [options.userDir] kept as it is when given; a temporary one otherwise
 * @param {number} [options.port] 0 or absent: a free port
 * @param {object[]} [options.flows]
 * @param {Record<string, object>} [options.credentials] the flow's credentials by node id (flows_cred.json, unencrypted:
 *   credentialSecret is false)
 * @param {string} [options.httpAdminRoot]
 * @param {boolean} [options.quiet]
 * @param {string[]} [options.extraModules] further packages to link from node_modules (e.g. the dashboard)
 * @param {boolean} [options.widgets] also the widget package (dashboard/), listed as a dependency: Dashboard 2.0 finds
 *   third-party widgets by the dependencies of the user directory's package.json
 * @param {boolean} [options.tarballs] this package (and with `widgets` the widget package) installed from the tarball
 *   `npm pack` makes, i.e. only the files a user gets; their dependencies linked from this checkout's node_modules
 * @param {NodeJS.ProcessEnv} [options.env]
 * @param {string} [options.nodeRedDir] another Node-RED install (compat run)
 * @param {string} [options.nodeBinary] another node binary (compat run)
 * @param {object} [options.adminAuth] Node-RED's adminAuth setting (users with bcrypt hashes)
 * @param {boolean} [options.exposeProcess] functionGlobalContext.process: a test's function node reads the runtime's resources
 * @param {string} [options.lang] the runtime's language (Node-RED's `lang` setting: en-US, de, zh-CN...); absent: from the environment
 */
async function startNodeRed(options = {}) {
  const userDir = options.userDir || fs.mkdtempSync(path.join(os.tmpdir(), 'nr-wiim-sonoff-'));
  const temporary = !options.userDir;
  const port = options.port || (await freePort());
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  const link = (name, target) => {
    const dest = path.join(userDir, 'node_modules', name);
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.symlinkSync(target, dest, 'dir');
  };
  const install = (dir) => {
    const name = require(path.join(dir, 'package.json')).name;
    if (!options.tarballs) {
      link(name, dir);
      return `file:${dir}`;
    }
    const tarball = pack(dir, userDir);
    const dest = path.join(userDir, 'node_modules', name);
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(dest, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1']);
    for (const dep of Object.keys(require(path.join(dir, 'package.json')).dependencies || {})) link(dep, path.join(root, 'node_modules', dep));
    return `file:${tarball}`;
  };
  const dependencies = { [pkg.name]: install(root) };
  for (const mod of options.extraModules || []) link(mod, path.join(root, 'node_modules', mod));
  if (options.widgets) dependencies[require(path.join(root, 'dashboard', 'package.json')).name] = install(path.join(root, 'dashboard'));
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies }, null, 2));
  if (options.flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(options.flows, null, 2));
  if (options.credentials) fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(options.credentials, null, 2), { mode: 0o600 });
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: options.httpAdminRoot || '/',
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
    logging: { console: { level: 'info' } },
  };
  if (options.adminAuth) settings.adminAuth = options.adminAuth;
  if (options.lang) settings.lang = options.lang;
  const expose = options.exposeProcess ? 'module.exports.functionGlobalContext = { process };\n' : '';
  fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n${expose}`);

  const nodeRedDir = options.nodeRedDir || process.env.NODE_RED_DIR || path.dirname(require.resolve('node-red/package.json'));
  const child = spawn(options.nodeBinary || process.execPath, [path.join(nodeRedDir, 'red.js'), '-u', userDir, '-s', path.join(userDir, 'settings.js')], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (chunk) => {
    output += chunk;
    if (!options.quiet) process.stdout.write(chunk);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const adminRoot = (options.httpAdminRoot || '/').replace(/\/?$/, '/');
  const url = `http://127.0.0.1:${port}${adminRoot}`;
  const started = startedFlowsText(nodeRedDir, options.lang);
  await new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`Node-RED did not start within 60 s:\n${output}`)), 60000);
    const exited = (code) => {
      clearTimeout(deadline);
      reject(new Error(`Node-RED exited with ${code}:\n${output}`));
    };
    child.once('exit', exited);
    const check = setInterval(() => {
      if (output.includes(started)) {
        clearInterval(check);
        clearTimeout(deadline);
        child.removeListener('exit', exited);
        resolve();
      }
    }, 50);
    child.once('exit', () => clearInterval(check));
  });

  return {
    url,
    port,
    userDir,
    child,
    get output() {
      return output;
    },
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
      if (temporary) fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/** `npm pack` of the package in `dir` (built already: no scripts run) into `into`; the tarball's path. */
function pack(dir, into) {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', into], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return path.join(into, JSON.parse(out)[0].filename);
}

/** The log line that says the flows run, in the runtime's language (its own catalogue, @node-red/runtime `nodes.flows.started-flows`). */
function startedFlowsText(nodeRedDir, lang) {
  if (!lang) return 'Started flows';
  const runtimeDir = path.dirname(require.resolve('@node-red/runtime/package.json', { paths: [nodeRedDir] }));
  const catalog = JSON.parse(fs.readFileSync(path.join(runtimeDir, 'locales', lang, 'runtime.json'), 'utf8'));
  return catalog.nodes.flows['started-flows'];
}

module.exports = { startNodeRed, freePort };
