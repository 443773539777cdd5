import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { until } from '../helpers/wait';

// `npm start` as a newcomer runs it (after the build): the demo on its fixed
// ports (1880, and 49152 on 127.0.0.2 for the streamer's UPnP), which is why
// it runs in the private namespace (scripts/netns-test.js). What it shows is
// read where a user sees it: the log, and the node statuses the editor gets
// over its comms socket.

interface Ws {
  on(event: 'message', listener: (data: Buffer) => void): void;
  once(event: 'open' | 'error', listener: (err?: Error) => void): void;
  send(data: string): void;
  close(): void;
}
// Node-RED's own WebSocket library (Node 20 has no WebSocket client)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require(require.resolve('ws', { paths: [require.resolve('node-red')] })) as new (url: string) => Ws;

const root = path.resolve(__dirname, '..', '..', '..');
const PORT = 1880;
const URL = `http://127.0.0.1:${PORT}`;

/** A line of the log that a node of ours wrote as a warning or an error, or that says events are off. */
const TROUBLE = /\[(warn|error)\] \[(wiim|sonoff)-[a-z]+[:\]]|UPnP events unavailable|polling instead|\{\{|__detail__/;

describe('the npm start demo', function () {
  this.timeout(120000);
  let demo: ChildProcess;
  let log = '';
  let comms: Ws | undefined;
  /** every status text each node showed, by node id */
  const statuses = new Map<string, string[]>();
  const seen = (id: string) => statuses.get(id) ?? [];
  /** mDNS answers (announcements) sent in the namespace while the demo runs */
  const announced: string[] = [];
  const mdns = dgram.createSocket({ type: 'udp4', reuseAddr: true });

  before(async () => {
    await new Promise<void>((r) => mdns.bind(5353, () => r()));
    mdns.addMembership('224.0.0.251', '127.0.0.1');
    // a response (QR bit set) is an announcement; queries are a browser's, not an advertiser's
    mdns.on('message', (packet, from) => {
      if (packet.length > 2 && (packet[2] & 0x80) !== 0) announced.push(`${from.address}:${from.port}`);
    });
    // as package.json's start script runs it, after its build
    demo = spawn(process.execPath, ['scripts/demo.js'], { cwd: root, env: { ...process.env, PORT: String(PORT) }, stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    demo.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await until(() => /Dashboard:/.test(log) || demo.exitCode !== null, 'the demo to start', 90000);
    assert.equal(demo.exitCode, null, `the demo exited:\n${log}`);
    const ws = new WebSocket(`ws://127.0.0.1:${PORT}/comms`);
    comms = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data) => {
      for (const m of JSON.parse(data.toString()) as Array<{ topic: string; data?: { text?: string } }>) {
        const id = /^status\/(.+)$/.exec(m.topic)?.[1];
        if (id && typeof m.data?.text === 'string') statuses.set(id, [...seen(id), m.data.text]);
      }
    });
    // statuses are retained: the ones shown so far come at once, then each change
    ws.send(JSON.stringify({ subscribe: 'status/#' }));
  });

  after(async () => {
    comms?.close();
    mdns.close();
    if (demo && demo.exitCode === null) {
      const gone = new Promise((r) => demo.once('exit', r));
      demo.kill('SIGINT');
      await gone;
    }
  });

  it('has the streamer on events: wiim-status shows "live"', async () => {
    await until(() => seen('ex_ws_status').some((t) => /· live$/.test(t)), 'the now-playing status to say live', 60000);
  });

  it('runs the D1 example against a dimmer: "brightness 30" sets it', async () => {
    await until(() => seen('ex_sd_dim').length > 0, 'the dimmer to show its state', 60000);
    const res = await fetch(`${URL}/inject/ex_sd_i1`, { method: 'POST' });
    assert.equal(res.status, 200);
    await until(() => seen('ex_sd_dim').some((t) => /\b30\b/.test(t)), 'the dimmer to show brightness 30', 30000);
  });

  it('reads the encrypted POWR3 with the key from its credentials, and the readings change', async () => {
    await until(() => new Set(seen('ex_ss_pow').filter((t) => / W$/.test(t))).size >= 2, 'two different power readings', 60000);
  });

  it('reads the TH sensor, and its temperature changes', async () => {
    await until(() => new Set(seen('ex_ss_th').filter((t) => / °C$/.test(t))).size >= 2, 'two different temperatures', 60000);
  });

  it('logs no warning or error from our nodes, and stops on Ctrl-C', async () => {
    const gone = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
    demo.kill('SIGINT');
    assert.equal(await gone, 0);
    const trouble = log.split('\n').filter((line) => TROUBLE.test(line));
    assert.deepEqual(trouble, [], `the demo's log:\n${log}`);
    // and the devicekey is in no line of it
    assert.doesNotMatch(log, /demo-powr3-devicekey/);
    // without --mdns, nothing announced itself over mDNS all the while
    assert.deepEqual(announced, []);
  });
});
