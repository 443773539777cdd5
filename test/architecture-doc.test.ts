import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

// docs/architecture.md's table of flow properties is the contract that saved
// flows depend on; it must name every property a node has. The properties are
// read from the editor's own `RED.nodes.registerType(...)` literal (run with a
// stand-in RED, as the editor would run it) and from what the runtime reads.

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
const types = Object.keys(pkg['node-red'].nodes);

interface Definition {
  defaults?: Record<string, unknown>;
  credentials?: Record<string, unknown>;
}

/** The definitions that nodes/<type>.html registers. */
function registered(type: string): Record<string, Definition> {
  const html = fs.readFileSync(path.join(root, 'nodes', `${type}.html`), 'utf8');
  const found: Record<string, Definition> = {};
  const validator = () => () => true;
  const RED = { nodes: { registerType: (t: string, def: Definition) => (found[t] = def) }, validators: { number: validator, regex: validator } };
  for (const m of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)) vm.runInNewContext(m[1], { RED });
  return found;
}

/** The row of `type` in the flow-property table: its backquoted names. */
function documented(doc: string): Map<string, Set<string>> {
  const table = doc.slice(doc.indexOf('| type | flow properties |'));
  const rows = new Map<string, Set<string>>();
  for (const line of table.split('\n').slice(2)) {
    const m = /^\| `([a-z-]+)` \| (.*) \|$/.exec(line);
    if (!m) break;
    rows.set(m[1], new Set([...m[2].matchAll(/`([^`]+)`/g)].map((n) => n[1])));
  }
  return rows;
}

describe('docs/architecture.md', () => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');
  const rows = documented(doc);

  it('calls no node type or property that exists "planned" or "reserved"', () => {
    const existing = new Set([...types, ...[...rows.values()].flatMap((r) => [...r])]);
    const stale = doc
      .split(/\n\s*\n/)
      .filter((p) => /\b(planned|reserved)\b/i.test(p))
      .flatMap((p) => [...p.matchAll(/`([^`]+)`/g)].map((m) => m[1]).filter((n) => existing.has(n)));
    assert.deepEqual(stale, []);
  });

  it('has a row in the flow-property table for each node type, and no other', () => {
    assert.deepEqual([...rows.keys()].sort(), [...types].sort());
  });

  for (const type of types) {
    it(`${type}: names every property and credential of the editor's defaults, and every setting the runtime reads`, () => {
      const def = registered(type)[type];
      assert.ok(def?.defaults, `nodes/${type}.html registers no defaults for ${type}`);
      const names = [...Object.keys(def.defaults), ...Object.keys(def.credentials ?? {})];
      // settings read from the node's definition (`def.x`), some not in the editor (upnpPort)
      const src = fs.readFileSync(path.join(root, 'src', 'nodes', `${type}.ts`), 'utf8');
      for (const m of src.matchAll(/\bdef\.([A-Za-z]+)\b/g)) names.push(m[1]);
      const row = rows.get(type) ?? new Set<string>();
      const missing = [...new Set(names)].filter((n) => !row.has(n));
      assert.deepEqual(missing, [], `${type}: flow properties missing from the table in docs/architecture.md`);
    });
  }
});
