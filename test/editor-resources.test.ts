import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SHARED_STATUS } from '../src/nodes/device-node';
import type { DeviceErrorKind } from '../src/shared/errors';

// A real `node-red` process with the package installed in its user
// directory, asked over its admin API for what the editor would load.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startNodeRed } = require('../../scripts/node-red-instance.js') as {
  startNodeRed(o: object): Promise<{ url: string; stop(): Promise<void>; output: string }>;
};

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; 'node-red': { nodes: Record<string, string> } };
const types = Object.keys(pkg['node-red'].nodes);

type Catalog = Record<string, unknown>;

function lookup(catalog: Catalog, key: string): unknown {
  return key.split('.').reduce<unknown>((obj, part) => (obj && typeof obj === 'object' ? (obj as Catalog)[part] : undefined), catalog);
}

function leaves(obj: unknown, prefix = ''): Array<[string, unknown]> {
  if (!obj || typeof obj !== 'object') return [[prefix, obj]];
  return Object.entries(obj as Catalog).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

const LANGS = ['en-US', 'de', 'zh-CN'];

/**
 * A catalogue as written. Node-RED serves (and the runtime reads) a language's
 * catalogue with the keys it lacks filled in from en-US, so a missing
 * translation shows only here.
 */
function catalogFile(lang: string, type: string): Catalog {
  return JSON.parse(fs.readFileSync(path.join(root, 'locales', lang, `${type}.json`), 'utf8')) as Catalog;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}
const sources = sourceFiles(path.join(root, 'src')).map((f) => fs.readFileSync(f, 'utf8'));

/** The placeholder names that the code fills in: the keys of the object each `RED._(key, {...})` call in src/ passes. */
const FILLED = new Set(
  sources.flatMap((s) => [...s.matchAll(/\bRED\._\([^;]*?\{([^}]*)\}/g)].flatMap((m) => [...m[1].matchAll(/([A-Za-z]+)\s*:/g)].map((n) => n[1]))),
);

function placeholders(text: string): string[] {
  return [...text.matchAll(/__([A-Za-z0-9]+)__/g)].map((m) => m[1]);
}

/** Every catalogue key of `type` that the runtime (src/) or the editor (nodes/<type>.html) asks for. */
function usedKeys(type: string): Set<string> {
  const keys = new Set<string>();
  const html = fs.readFileSync(path.join(root, 'nodes', `${type}.html`), 'utf8');
  for (const m of html.matchAll(/data-i18n="([^"]+)"/g)) for (const k of m[1].split(';')) keys.add(k.replace(/^\[[a-z]+\]/, ''));
  for (const m of html.matchAll(/\b_\(\s*['"]([a-z0-9-]+\.[A-Za-z0-9_.-]+)['"]/g)) keys.add(m[1]);
  // a key the editor builds from a form's choice: 'wiim-command.hint.' + (cmd || 'fromMessage'), one per <option>
  for (const m of html.matchAll(/['"]([a-z0-9-]+\.[A-Za-z0-9_.-]+\.)['"]\s*\+\s*\(?\s*\w+(?:\s*\|\|\s*['"]([^'"]+)['"])?/g)) {
    const choices = [...html.matchAll(/<option value="([^"]+)"/g)].map((o) => o[1]);
    for (const c of m[2] ? [...choices, m[2]] : choices) keys.add(m[1] + c);
  }
  // literal keys anywhere in src/: statuses, RED._ calls (a literal ending in "." is a prefix, not a key)
  const literal = new RegExp(`['"\`](${type.replace(/-/g, '\\-')}\\.[A-Za-z0-9_.-]*[A-Za-z0-9_-])['"\`]`, 'g');
  for (const s of sources) for (const m of s.matchAll(literal)) keys.add(m[1]);
  // the device-node scaffold builds these from the type
  if (!type.endsWith('-config')) for (const k of [...SHARED_STATUS.map((s) => `status.${s}`), 'errors.noconfig']) keys.add(`${type}.${k}`);
  // the config node words every kind of device error
  const kinds: Record<DeviceErrorKind, true> = {
    argument: true,
    timeout: true,
    network: true,
    offline: true,
    device: true,
    protocol: true,
    closed: true,
  };
  if (type.endsWith('-config')) for (const k of Object.keys(kinds)) keys.add(`${type}.errors.${k}`);
  return keys;
}

describe('editor resources in a running Node-RED', function () {
  this.timeout(90000);
  let nr: Awaited<ReturnType<typeof startNodeRed>>;
  let editorHtml = '';

  before(async () => {
    nr = await startNodeRed({ quiet: true, flows: [] });
    const res = await fetch(`${nr.url}nodes`, { headers: { Accept: 'text/html' } });
    assert.equal(res.status, 200);
    editorHtml = await res.text();
  });
  after(async () => nr?.stop());

  it('registers all nine node types from the package', async () => {
    const res = await fetch(`${nr.url}nodes`, { headers: { Accept: 'application/json' } });
    const sets = (await res.json()) as Array<{ module: string; types: string[]; enabled: boolean; err?: string }>;
    const ours = sets.filter((s) => s.module === pkg.name);
    for (const s of ours) assert.equal(s.err, undefined, `node set failed to load: ${s.err}`);
    assert.deepEqual(ours.flatMap((s) => s.types).sort(), [...types].sort());
    assert.ok(ours.every((s) => s.enabled));
  });

  it('has no {{...}} placeholder in the editor HTML or the help, in any language', () => {
    // Node-RED's i18n (runtime and editor) fills in __name__ only: {{name}} would be shown as it is
    const files = [...types.map((t) => path.join('nodes', `${t}.html`)), ...LANGS.flatMap((l) => types.map((t) => path.join('locales', l, `${t}.html`)))];
    const found = files.filter((f) => /\{\{|\}\}/.test(fs.readFileSync(path.join(root, f), 'utf8')));
    assert.deepEqual(found, []);
  });

  for (const type of types) {
    describe(type, () => {
      let catalog: Catalog;
      before(async () => {
        const res = await fetch(`${nr.url}locales/${pkg.name}/${type}?lng=en-US`);
        assert.equal(res.status, 200);
        catalog = (await res.json()) as Catalog;
      });

      it('has a text in en-US, de and zh-CN for every key that the runtime or the editor uses', () => {
        assert.ok(catalog[type], `no "${type}" section in locales/en-US/${type}.json`);
        const own = [...usedKeys(type)].filter((k) => !k.startsWith('node-red:'));
        assert.ok(own.length > 0, `${type}: no i18n keys found`);
        for (const lang of LANGS) {
          const missing = own.filter((k) => typeof lookup(catalogFile(lang, type), k) !== 'string');
          assert.deepEqual(missing, [], `${type}: keys without a ${lang} text in locales/${lang}/${type}.json`);
        }
      });

      it('uses every key of its catalogue', () => {
        const used = usedKeys(type);
        const unused = leaves(catalog)
          .map(([k]) => k)
          .filter((k) => !used.has(k));
        assert.deepEqual(unused, [], `${type}: catalogue keys that neither src/ nor nodes/${type}.html uses`);
      });

      it('has placeholders only in the runtime and editor syntax (__name__), with the names the code fills in', () => {
        const en = new Map(leaves(catalog));
        for (const lang of LANGS) {
          for (const [k, v] of leaves(catalogFile(lang, type))) {
            const where = `${lang} ${k}: "${String(v)}"`;
            assert.ok(!/\{\{|\}\}/.test(String(v)), `${where} has a {{...}} placeholder, which Node-RED never fills in`);
            const names = placeholders(String(v));
            // anything else with "__" would be shown as it is, or half-filled
            assert.equal(String(v).split('__').length - 1, names.length * 2, `${where} has a stray "__"`);
            for (const n of names) assert.ok(FILLED.has(n), `${where}: nothing fills in __${n}__ (the code passes ${[...FILLED].join(', ')})`);
            assert.deepEqual(names.sort(), placeholders(String(en.get(k))).sort(), `${where}: not the placeholders of en-US`);
            // the config node's error wording goes around the protocol's detail: without it the detail is lost
            if (/^[a-z]+-config\.errors\./.test(k)) assert.deepEqual(names, ['detail'], `${where} does not carry the detail`);
          }
        }
      });

      it('has help text in the editor', () => {
        const help = new RegExp(`<script type="text/html" data-help-name="${type}"[^>]*>([\\s\\S]*?)</script>`).exec(editorHtml);
        assert.ok(help, `no help for ${type}`);
        assert.match(help[1], /<h3>[^<]*Inputs|<h3>[^<]*Outputs|<h3>[^<]*Details/i);
        assert.ok(help[1].length > 300, `help for ${type} is too short`);
      });

      it('has an editor form and an icon that the editor can load', async () => {
        assert.match(editorHtml, new RegExp(`data-template-name="${type}"`));
        const reg = new RegExp(`registerType\\(\\s*['"]${type}['"][\\s\\S]*?icon:\\s*['"]([^'"]+)['"]`).exec(editorHtml);
        assert.ok(reg, `no icon in the registerType of ${type}`);
        const res = await fetch(`${nr.url}icons/${pkg.name}/${reg[1]}`);
        assert.equal(res.status, 200, `icon ${reg[1]} of ${type} does not resolve`);
        const body = await res.text();
        assert.match(body, /<svg/);
      });
    });
  }

  // The same catalogues and help in the editor's other languages. The editor asks
  // for a catalogue with ?lng=<lang>; the node help comes with GET /nodes
  // (Accept: text/html), whose language the admin API takes from Accept-Language.
  const translations: Record<string, Record<string, string>> = {
    // Node-RED 4's own German help uses "Eingangsdaten" / "Ausgangsdaten"
    de: { Inputs: 'Eingangsdaten', Outputs: 'Ausgangsdaten', Details: 'Details', Properties: 'Eigenschaften', Errors: 'Fehler', References: 'Referenzen' },
    'zh-CN': { Inputs: '输入', Outputs: '输出', Details: '详细', Properties: '属性', Errors: '错误', References: '参考' },
  };

  function helpOf(html: string, type: string): string | undefined {
    return new RegExp(`<script type="text/html" data-help-name="${type}"[^>]*>([\\s\\S]*?)</script>`).exec(html)?.[1];
  }
  const headings = (help: string) => [...help.matchAll(/<h3>([^<]*)<\/h3>/g)].map((m) => m[1].trim());

  for (const lang of Object.keys(translations)) {
    describe(`translation ${lang}`, () => {
      let langHtml = '';
      before(async () => {
        const res = await fetch(`${nr.url}nodes`, { headers: { Accept: 'text/html', 'Accept-Language': lang } });
        assert.equal(res.status, 200);
        langHtml = await res.text();
      });

      for (const type of types) {
        it(`${type}: has a complete, translated catalogue`, async () => {
          const get = async (lng: string) => {
            const res = await fetch(`${nr.url}locales/${pkg.name}/${type}?lng=${encodeURIComponent(lng)}`);
            assert.equal(res.status, 200);
            // the served catalogue has the gaps filled from en-US: the keys are compared in the file
            return leaves(catalogFile(lng, type));
          };
          const en = await get('en-US');
          const tr = await get(lang);
          assert.deepEqual(tr.map(([k]) => k).sort(), en.map(([k]) => k).sort(), `${type}: ${lang} keys differ from en-US`);
          for (const [k, v] of tr) assert.equal(typeof v, 'string', `${type}: ${lang} ${k} is not a string`);
          const enText = new Map(en);
          const differing = tr.filter(([k, v]) => v !== enText.get(k)).length;
          assert.ok(differing * 2 >= tr.length, `${type}: only ${differing} of ${tr.length} ${lang} texts differ from en-US`);
        });

        it(`${type}: has help in ${lang} with the translated headings`, () => {
          const help = helpOf(langHtml, type);
          assert.ok(help, `no ${lang} help for ${type}`);
          const enHelp = helpOf(editorHtml, type);
          assert.ok(enHelp);
          assert.notEqual(help, enHelp, `${type}: ${lang} help is the en-US one`);
          const enHeadings = headings(enHelp);
          if (enHeadings.includes('Inputs'))
            assert.ok(headings(help).includes(translations[lang].Inputs), `${type}: no "${translations[lang].Inputs}" heading`);
          assert.deepEqual(
            headings(help),
            enHeadings.map((h) => translations[lang][h] ?? h),
            `${type}: ${lang} help headings do not match en-US`,
          );
        });
      }
    });
  }
});
