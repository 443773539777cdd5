import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './helpers/net';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

// What a user sees at a Catch node, in each of the runtime's languages. The
// node test helper replaces RED._ with the identity, so it never reads a
// catalogue: these flows run in a real Node-RED process (the one `npm start`
// runs), whose runtime i18n fills in `__detail__`, against the simulators on
// loopback. Each flow is an HTTP endpoint: the request is the message, the
// answer the node's output or, with status 500, the error its Catch node got.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startNodeRed } = require('../../scripts/node-red-instance.js') as {
  startNodeRed(o: object): Promise<{ url: string; stop(): Promise<void>; output: string }>;
};

const root = path.resolve(__dirname, '..', '..');
const LANGS = ['en-US', 'de', 'zh-CN'] as const;
type Lang = (typeof LANGS)[number];
type Catalog = Record<string, unknown>;

function text(lang: Lang, type: string, key: string): string {
  const catalog = JSON.parse(fs.readFileSync(path.join(root, 'locales', lang, `${type}.json`), 'utf8')) as Catalog;
  const value = `${type}.${key}`.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Catalog)[k] : undefined), catalog);
  assert.equal(typeof value, 'string', `no ${lang} text for ${type}.${key}`);
  return value as string;
}

interface Case {
  name: string;
  /** the node that fails, and its settings */
  node: Record<string, unknown> & { type: string };
  msg: { topic?: string; payload?: unknown };
  /** the config node whose catalogue words the error, and the error's kind; or the device node's own `errors.noconfig` */
  words: { config: 'wiim-config' | 'sonoff-config'; kind: string } | 'noconfig';
  /** what the detail must say */
  detail: RegExp[];
}

const ID = '1000e2e0aa';

describe('error texts at a Catch node in a running Node-RED, in every language', function () {
  this.timeout(120000);
  const wiim = new WiimSimulator({ name: 'Error texts' });
  const wiimHung = new WiimSimulator({ name: 'Hung' });
  const relay = new SonoffSimulator({ deviceid: ID });
  const dimmer = new SonoffSimulator({ deviceid: ID, model: 'd1' });
  const failing = new SonoffSimulator({ deviceid: ID, model: 'powr3' });
  const configs: Array<Record<string, unknown>> = [];
  let cases: Case[] = [];

  before(async () => {
    const [w, hung, r, d, f, dead] = await Promise.all([
      wiim.start({ port: 0 }),
      wiimHung.start({ port: 0 }),
      relay.start({ port: 0 }),
      dimmer.start({ port: 0 }),
      failing.start({ port: 0 }),
      freePort(),
    ]);
    wiimHung.faults.hang = true;
    failing.faults.errorCode = 400;
    const wiimConfig = (id: string, host: string, port: number, protocol: string, timeout = 5000) => ({
      id,
      type: 'wiim-config',
      host,
      port: String(port),
      protocol,
      timeout: String(timeout),
      events: 'off',
    });
    const sonoffConfig = (id: string, host: string, port: number) => ({ id, type: 'sonoff-config', deviceid: ID, host, port: String(port), pollInterval: '0' });
    configs.push(
      wiimConfig('wiim', '127.0.0.1', w.port, 'https'),
      wiimConfig('wiim-hung', '127.0.0.1', hung.port, 'https', 300),
      // nothing listens there: the connection is refused
      wiimConfig('wiim-gone', '127.0.0.1', dead, 'http'),
      wiimConfig('wiim-nohost', '', 0, 'auto'),
      sonoffConfig('relay', '127.0.0.1', r.port),
      sonoffConfig('d1', '127.0.0.1', d.port),
      sonoffConfig('failing', '127.0.0.1', f.port),
      sonoffConfig('badhost', 'http://relay.example/', 8081),
    );
    const wiimWords = (kind: string) => ({ config: 'wiim-config' as const, kind });
    const sonoffWords = (kind: string) => ({ config: 'sonoff-config' as const, kind });
    const empty = { payload: '' };
    const kase = (name: string, node: Case['node'], msg: Case['msg'], words: Case['words'], ...detail: RegExp[]): Case => ({ name, node, msg, words, detail });
    const wiimCommand = (device: string, command: string, value = '') => ({ type: 'wiim-command', device, command, value });
    const wiimStatus = (device: string) => ({ type: 'wiim-status', device, output: 'change', meta: false });
    const sonoffSwitch = (device: string) => ({ type: 'sonoff-switch', device, outlet: '0', payloadType: 'boolean' });
    cases = [
      kase(
        'wiim-command: a volume out of range',
        wiimCommand('wiim', ''),
        { topic: 'volume', payload: 101 },
        wiimWords('argument'),
        /\bvolume\b/,
        /\b0\D{1,6}100\b/,
        /\b101\b/,
      ),
      kase('wiim-command: a command the device does not know', wiimCommand('wiim', 'raw', 'noSuchThing'), empty, wiimWords('device'), /noSuchThing/),
      kase(
        'wiim-command: a device that does not answer in time',
        wiimCommand('wiim-hung', 'pause'),
        empty,
        wiimWords('timeout'),
        /no answer from 127\.0\.0\.1:\d+ within 300 ms/,
      ),
      kase('wiim-command: a wiim-config without a host', wiimCommand('wiim-nohost', 'pause'), empty, wiimWords('argument'), /no host/),
      kase('wiim-status: a device that refuses the connection', wiimStatus('wiim-gone'), empty, wiimWords('network'), /connection refused by 127\.0\.0\.1:\d+/),
      kase('wiim-status: no wiim-config', wiimStatus(''), empty, 'noconfig'),
      kase('sonoff-switch: a payload that is not on or off', sonoffSwitch('relay'), { payload: 'maybe' }, sonoffWords('argument'), /\bswitch\b/, /"maybe"/),
      kase(
        'sonoff-switch: a sonoff-config whose host is a URL',
        sonoffSwitch('badhost'),
        { payload: true },
        sonoffWords('argument'),
        /host/,
        /http:\/\/relay\.example\//,
      ),
      kase(
        'sonoff-pulse: a width that is not a multiple of 500 ms',
        { type: 'sonoff-pulse', device: 'relay', outlet: '0', width: '' },
        { payload: 700 },
        sonoffWords('argument'),
        /pulse width/,
        /\b500 ms\b/,
        /\b700\b/,
      ),
      kase('sonoff-ota: no firmware', { type: 'sonoff-ota', device: 'relay', firmware: '', sha256: '' }, empty, sonoffWords('argument'), /firmware path/),
      kase(
        'sonoff-dimmer: a brightness out of range',
        { type: 'sonoff-dimmer', device: 'd1' },
        { payload: 101 },
        sonoffWords('argument'),
        /\bbrightness\b/,
        /\b1 to 100\b/,
        /\b101\b/,
      ),
      // SONOFF DIY API: error 400 is "the request was malformed"
      kase(
        'sonoff-sensor: a device that answers with an error code',
        { type: 'sonoff-sensor', device: 'failing', reading: 'all' },
        empty,
        sonoffWords('device'),
        /\b400\b/,
      ),
    ];
  });
  after(async () => {
    await Promise.all([wiim.stop(), wiimHung.stop(), relay.stop(), dimmer.stop(), failing.stop()]);
  });

  /** One endpoint per case: http in → (topic, payload from the body) → the node → http response; one Catch node answers with the error. */
  function flows(): object[] {
    const z = 'errors-tab';
    const nodes: Array<Record<string, unknown>> = [{ id: z, type: 'tab', label: 'error texts' }, ...configs];
    // a node in a tab without x and y is taken for a config node
    const add = (n: Record<string, unknown>) => nodes.push({ ...n, z, x: 100, y: 100 });
    add({ id: 'answer', type: 'http response', statusCode: '', headers: {}, wires: [] });
    add({ id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['failed']] });
    add({
      id: 'failed',
      type: 'change',
      rules: [
        { t: 'set', p: 'statusCode', pt: 'msg', to: '500', tot: 'num' },
        { t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' },
      ],
      wires: [['answer']],
    });
    cases.forEach((c, i) => {
      add({ id: `in${i}`, type: 'http in', url: `/error-text/${i}`, method: 'post', upload: false, swaggerDoc: '', wires: [[`msg${i}`]] });
      add({
        id: `msg${i}`,
        type: 'change',
        rules: [
          { t: 'set', p: 'topic', pt: 'msg', to: 'payload.topic', tot: 'msg' },
          { t: 'set', p: 'payload', pt: 'msg', to: 'payload.payload', tot: 'msg' },
        ],
        wires: [[`node${i}`]],
      });
      add({ ...c.node, id: `node${i}`, wires: [['answer']] });
    });
    return nodes;
  }

  for (const lang of LANGS) {
    describe(`runtime language ${lang}`, () => {
      let nr: Awaited<ReturnType<typeof startNodeRed>>;
      before(async () => {
        nr = await startNodeRed({ quiet: true, flows: flows(), lang });
      });
      after(async () => nr?.stop());

      it('runs in that language: an argument error carries its wording, which differs from en-US', async () => {
        const argument = text(lang, 'wiim-config', 'errors.argument');
        assert.match(argument, /__detail__/);
        const prefix = argument.slice(0, argument.indexOf('__detail__'));
        // en-US gives the detail alone; the others say what kind of error it is first
        if (lang === 'en-US') assert.equal(prefix, '');
        else assert.ok(prefix.trim().length > 0, `${lang}: the argument error has no wording of its own`);
        const caught = await post(0);
        assert.ok(caught.message.startsWith(prefix), `${lang}: "${caught.message}" does not start with "${prefix}"`);
        // the runtime's own log speaks it too: the instance waited for Node-RED's "started flows" line in that language
        if (lang !== 'en-US') assert.ok(!nr.output.includes('Started flows'), `${lang}: Node-RED logs in English`);
      });

      it('each of the nine node types: the error names what went wrong, with no placeholder left', async () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
        const covered = new Set(cases.flatMap((c) => [c.node.type, ...(c.words === 'noconfig' ? [] : [c.words.config])]));
        assert.deepEqual([...covered].sort(), Object.keys(pkg['node-red'].nodes).sort(), 'a node type without a case');
        for (const [i, c] of cases.entries()) {
          const caught = await post(i, c.msg);
          const where = `${lang}, ${c.name}: "${caught.message}"`;
          assert.equal(caught.source.type, c.node.type, where);
          assert.ok(!caught.message.includes('{{') && !caught.message.includes('__'), `${where} holds a placeholder`);
          if (c.words === 'noconfig') {
            assert.equal(caught.message, text(lang, c.node.type, 'errors.noconfig'), where);
            continue;
          }
          const wording = text(lang, c.words.config, `errors.${c.words.kind}`);
          const [before, after] = wording.split('__detail__');
          assert.ok(after !== undefined, `${lang} ${c.words.config}.errors.${c.words.kind} has no __detail__`);
          assert.ok(caught.message.startsWith(before) && caught.message.endsWith(after), `${where} is not worded as "${wording}"`);
          const detail = caught.message.slice(before.length, caught.message.length - after.length);
          for (const p of c.detail) assert.match(detail, p, where);
        }
      });

      /** The error the Catch node got; its message without the `DeviceError: ` that Node-RED's `err.toString()` puts first. */
      async function post(i: number, msg: object = cases[i].msg): Promise<{ message: string; source: { type: string } }> {
        const res = await fetch(`${nr.url}error-text/${i}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(msg) });
        const body = (await res.json()) as { message: string; source: { type: string } };
        assert.equal(res.status, 500, `${cases[i].name}: expected an error at the Catch node, got the output ${JSON.stringify(body).slice(0, 200)}`);
        assert.match(body.message, /^DeviceError: /);
        return { ...body, message: body.message.replace(/^DeviceError: /, '') };
      }
    });
  }
});
