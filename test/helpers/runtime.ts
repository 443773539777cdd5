import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { sessionOf as configSession } from '../../src/nodes/config-node';

// A real Node-RED runtime, started by the helper: the one in devDependencies,
// or another install named by NODE_RED_DIR (the Node-RED 5 compat run).
helper.init(process.env.NODE_RED_DIR ? require.resolve(process.env.NODE_RED_DIR) : require.resolve('node-red'));
// the UPnP callback server takes a port the system picks: tests bind no fixed port outside a network namespace
helper.settings().wiimSonoffCallbackPort = 0;

export { helper };
export { sleep, until } from './wait';

export const TAB = 'tab1';

/** Adds the tab and `z` that Catch and Status nodes need. */
export function withTab(nodes: Array<Record<string, unknown>>): object[] {
  return [{ id: TAB, type: 'tab', label: 'test' }, ...nodes.map((n) => (n.type === 'tab' || n.z !== undefined ? n : { ...n, z: TAB }))];
}

export type TestNode = Node & Record<string, unknown>;

export function node(id: string): TestNode {
  const n = helper.getNode(id);
  if (!n) throw new Error(`node ${id} is not in the running flow`);
  return n;
}

/** Resolves with the next message a helper node receives. */
export function nextMessage<T = Record<string, unknown>>(id: string, timeoutMs = 5000): Promise<T> {
  const n = node(id);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message at ${id} within ${timeoutMs} ms`)), timeoutMs);
    (n as unknown as EventEmitter).once('input', (msg: T) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** Collects every message a helper node receives. */
export function collect<T = Record<string, unknown>>(id: string): T[] {
  const out: T[] = [];
  (node(id) as unknown as EventEmitter).on('input', (msg: T) => out.push(msg));
  return out;
}

/** Counts the process's active handles by type, for leak checks. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

/** A core node module (inject, debug, change, http request...) of the runtime in use. */
export function coreNode(file: string): (RED: unknown) => void {
  const runtime = process.env.NODE_RED_DIR ? require.resolve(process.env.NODE_RED_DIR) : require.resolve('node-red');
  const nodesPkg = require.resolve('@node-red/nodes/package.json', { paths: [runtime] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require('node:path').join(nodesPkg, '..', 'core', file));
}

export interface Outcome<M, C> {
  out?: M;
  caught?: C;
}

/**
 * Sends `msg` into node `target` and resolves with whichever comes first: its
 * answer at the helper node `outId` (the same message: a node's output reuses
 * its input, so another node's output there is not the answer) or an error at
 * the helper node `caught` (wired from a Catch node).
 */
export function outcome<M = Record<string, unknown>, C = Record<string, unknown>>(
  target: string,
  msg: Record<string, unknown>,
  timeoutMs = 5000,
  outId = 'out',
): Promise<Outcome<M, C>> {
  const out = node(outId) as unknown as EventEmitter;
  const caught = node('caught') as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const finish = (r: Outcome<M, C> | Error) => {
      clearTimeout(timer);
      out.removeListener('input', onOut);
      caught.removeListener('input', onCaught);
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const onOut = (m: M) => {
      if ((m as { _msgid?: unknown })._msgid === msg._msgid) finish({ out: m });
    };
    const onCaught = (m: C) => finish({ caught: m });
    const timer = setTimeout(() => finish(new Error(`neither an output nor a caught error within ${timeoutMs} ms`)), timeoutMs);
    out.on('input', onOut);
    caught.on('input', onCaught);
    node(target).receive(msg);
  });
}

/** A message a node sent, or the one a Catch node got. */
export type Msg = Record<string, unknown> & { payload?: unknown; topic?: unknown };
export type CaughtMsg = Msg & { error: { message: string; source: { id: string } } };

/** Sends `msg` into `target`; it must answer with an output at the helper node `out`. */
export async function ok<M extends Msg = Msg>(target: string, msg: Record<string, unknown>, timeoutMs?: number): Promise<M> {
  const r = await outcome<M, CaughtMsg>(target, msg, timeoutMs);
  assert.ok(r.out, `${target}: expected an output, got the error: ${r.caught?.error.message}`);
  return r.out;
}

/** Sends `msg` into `target`; it must fail, with an error that matches `pattern` and names `target` as its source. */
export async function refused(target: string, msg: Record<string, unknown>, pattern: RegExp, timeoutMs?: number): Promise<CaughtMsg> {
  const r = await outcome<Msg, CaughtMsg>(target, msg, timeoutMs);
  assert.ok(r.caught, `${target}: expected an error matching ${pattern}, got an output: ${JSON.stringify(r.out?.payload)?.slice(0, 200)}`);
  assert.match(r.caught.error.message, pattern);
  assert.equal(r.caught.error.source.id, target);
  return r.caught;
}

/** The session behind config node `id` in the running flow (internal to the package: tests only). */
export function sessionOf<S>(id: string): S {
  const session = configSession<S>(node(id));
  if (!session) throw new Error(`config node ${id} has no session (are its settings unusable?)`);
  return session;
}
