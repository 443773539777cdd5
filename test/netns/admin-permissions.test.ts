import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SonoffSimulator } from '../../src/sim/sonoff-sim';
import { WiimSimulator } from '../../src/sim/wiim-sim';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startNodeRed } = require('../../../scripts/node-red-instance.js') as {
  startNodeRed(o: object): Promise<{ url: string; stop(): Promise<void> }>;
};
// Node-RED's own hashing library, for the users of adminAuth
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bcrypt = require(require.resolve('bcryptjs', { paths: [require.resolve('node-red')] })) as { hashSync(s: string, rounds: number): string };

// Runs inside `unshare -n`: Discover multicasts, and that must stay in this namespace.
describe('editor endpoints and admin permissions (a real Node-RED with adminAuth)', function () {
  this.timeout(60000);
  let nr: Awaited<ReturnType<typeof startNodeRed>>;
  const wiim = new WiimSimulator({ name: 'Den' });
  const relay = new SonoffSimulator({ deviceid: '1000abcdef' });
  let garbage: http.Server;
  const tokens: Record<string, string> = {};

  before(async () => {
    await wiim.start();
    await relay.start();
    // a server that answers anything with a body that must never be echoed
    garbage = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>SECRET-BODY-TEXT</html>'));
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const hash = bcrypt.hashSync('secret-pass', 8);
    nr = await startNodeRed({
      quiet: true,
      flows: [],
      adminAuth: {
        type: 'credentials',
        users: [
          { username: 'viewer', password: hash, permissions: 'read' },
          { username: 'admin', password: hash, permissions: '*' },
        ],
      },
    });
    for (const [user, scope] of [
      ['viewer', 'read'],
      ['admin', '*'],
    ]) {
      const res = await fetch(`${nr.url}auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope, username: user, password: 'secret-pass' }),
      });
      assert.equal(res.status, 200, `token for ${user}`);
      tokens[user] = ((await res.json()) as { access_token: string }).access_token;
    }
  });
  after(async () => {
    await nr?.stop();
    await wiim.stop();
    await relay.stop();
    await new Promise<void>((r) => garbage.close(() => r()));
  });

  const call = (path: string, user?: string, body?: object) =>
    fetch(`${nr.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { 'content-type': 'application/json', ...(user ? { authorization: `Bearer ${tokens[user]}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  it('answers 401 without a token, to Discover and to Test connection', async () => {
    for (const type of ['wiim-config', 'sonoff-config']) {
      assert.equal((await call(`${type}/discover?timeout=500`)).status, 401);
      assert.equal((await call(`${type}/test`, undefined, { host: '127.0.0.1' })).status, 401);
    }
  });

  it('lets a read-only user discover, with one response shape for both families', async () => {
    for (const type of ['wiim-config', 'sonoff-config']) {
      const res = await call(`${type}/discover?timeout=500`, 'viewer');
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(((await res.json()) as { devices: unknown }).devices), `${type}: {devices: [...]}`);
    }
  });

  it('refuses Test connection to a read-only user: the runtime connects to nothing', async () => {
    const before = { wiim: wiim.requests.length, relay: relay.requests.length };
    const w = await call('wiim-config/test', 'viewer', { host: '127.0.0.1', port: wiim.port, protocol: 'https' });
    const s = await call('sonoff-config/test', 'viewer', { host: '127.0.0.1', port: relay.address.port, deviceid: relay.deviceid });
    assert.equal(w.status, 401);
    assert.equal(s.status, 401);
    assert.deepEqual({ wiim: wiim.requests.length, relay: relay.requests.length }, before);
  });

  it('lets a user with write permission test a device', async () => {
    const w = (await (await call('wiim-config/test', 'admin', { host: '127.0.0.1', port: wiim.port, protocol: 'https' })).json()) as Record<string, unknown>;
    assert.equal(w.ok, true, JSON.stringify(w));
    assert.equal(w.name, 'Den');
    const s = (await (await call('sonoff-config/test', 'admin', { host: '127.0.0.1', port: relay.address.port, deviceid: relay.deviceid })).json()) as Record<
      string,
      unknown
    >;
    assert.equal(s.ok, true, JSON.stringify(s));
    assert.equal(s.deviceid, relay.deviceid);
  });

  it('never echoes the body of whatever answered Test connection', async () => {
    const port = (garbage.address() as AddressInfo).port;
    for (const [type, form] of [
      ['wiim-config', { host: '127.0.0.1', port, protocol: 'http' }],
      ['sonoff-config', { host: '127.0.0.1', port, deviceid: '1000abcdef' }],
    ] as const) {
      const r = (await (await call(`${type}/test`, 'admin', form)).json()) as { ok: boolean; error: string };
      assert.equal(r.ok, false, type);
      assert.ok(r.error.length > 0);
      assert.doesNotMatch(r.error, /SECRET-BODY-TEXT|html/i, `${type}: ${r.error}`);
    }
  });
});
