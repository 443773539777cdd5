/**
 * The one contract between a config node (wiim-config, sonoff-config) and
 * the nodes that use its device, in the manner of the core MQTT broker node:
 * the config node owns the device's session and its users, pushes health and
 * state to them, and turns settings it cannot use into a `problem` that every
 * user shows, instead of failing to exist.
 */

import type { Node, NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { DeviceError } from '../shared/errors';
import type { Clock } from '../shared/clock';
import { closeSession, openSession, type DeviceSession, type Health } from '../sessions/device-session';
import type { HandleSetup } from '../contract/handle';
import type { Health as DeviceHealth } from '../api';

export type UserHealth = DeviceHealth;

export interface DeviceUser<Change> {
  readonly node: Node;
  /** Register with the session itself, so that it polls or listens for this node (with the session's options). */
  readonly subscribe?: true | Record<string, unknown>;
  health(health: UserHealth, err: DeviceError | undefined): void;
  state?(change: Change): void;
}

export interface ConfigNode<Change, H = unknown> extends Node {
  /** the device handle (src/api.ts): always there, `unconfigured` when the settings are unusable */
  readonly device: H;
  readonly problem: DeviceError | undefined;
  /** the name for msg.topic and messages: the node's name, else the device's address or id */
  readonly deviceName: string;
  register(user: DeviceUser<Change>): void;
  deregister(user: DeviceUser<Change>): void;
  /** The error in the runtime's language, for `done(err)`. */
  localError(err: unknown): Error;
}

/** What a session must offer a config node. */
interface OwnedSession extends Pick<DeviceSession, 'health' | 'lastError' | 'deregister' | 'close'> {
  register(user: object, options?: Record<string, unknown>): void;
  // the sessions' own event maps are typed; here any listener shape will do
  on(event: 'health' | 'state', listener: (...args: never[]) => void): unknown;
  removeListener(event: 'health' | 'state', listener: (...args: never[]) => void): unknown;
}

export interface ConfigSpec<S, H> {
  type: string;
  deviceName: string;
  /** Opens the session; a throw (unusable settings) becomes the node's `problem`. */
  open(clock: Clock | undefined): S;
  /** The device handle over the session (undefined when unusable). */
  handle(setup: HandleSetup<S>): H;
}

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Each config node's session: internal, off the node's type (nodes and tests reach it through sessionOf). */
const sessions = new WeakMap<object, unknown>();

/** The session behind a config node, undefined when its settings are unusable. */
export function sessionOf<S>(config: object): S | undefined {
  return sessions.get(config) as S | undefined;
}

/** Where a config node keeps its owner (below). */
const OWNER = Symbol('wiim-sonoff config owner');

type OwnedNode<S extends OwnedSession, Change> = Node & { [OWNER]: ConfigOwner<S, Change> };

/**
 * What a config node owns: its session, its users and what it tells them.
 * One object per config node, its methods shared: the seven closures a
 * config node held before, and their scope, were among the largest items
 * every device kept (bench/README.md, part 8's memory). It is also the
 * handle's setup.
 */
class ConfigOwner<S extends OwnedSession, Change> implements HandleSetup<S> {
  readonly users = new Set<DeviceUser<Change>>();
  session: S | undefined;

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node & { deviceName: string; problem?: DeviceError },
    private readonly type: string,
  ) {}

  // the node's own, as users read them there (HandleSetup)
  get name(): string {
    return this.node.deviceName;
  }

  get problem(): DeviceError | undefined {
    return this.node.problem;
  }

  onHealth(health: Health, err: DeviceError | undefined): void {
    // once per episode (the session tells each change of health once), not per poll
    if (health === 'faulty')
      this.node.warn(`${this.node.deviceName}: the device answers, but its replies cannot be read${err ? `: ${shorten(err.message, ERROR_TEXT_MAX)}` : ''}`);
    for (const u of this.users) u.health(health, err);
  }

  onState(change: Change): void {
    for (const u of this.users) u.state?.(change);
  }

  localError(err: unknown): Error {
    return localError(this.RED, this.type, err);
  }

  warn(message: string): void {
    this.node.warn(message);
  }

  register(user: DeviceUser<Change>): void {
    this.users.add(user);
    const session = this.session;
    if (!session) {
      user.health('unconfigured', this.problem);
      return;
    }
    if (user.subscribe) session.register(user.node, user.subscribe === true ? undefined : user.subscribe);
    user.health(session.health, session.lastError);
  }

  deregister(user: DeviceUser<Change>): void {
    this.users.delete(user);
    this.session?.deregister(user.node);
  }

  close(done: () => void): void {
    this.users.clear();
    if (!this.session) done();
    else closeSession(this.RED, this.node.id, this.session).then(done, done);
  }
}

// the config node's methods, one function each for every config node: `this` is the node
function ownerOf<S extends OwnedSession, Change>(node: Node): ConfigOwner<S, Change> {
  return (node as OwnedNode<S, Change>)[OWNER];
}
function register(this: Node, user: DeviceUser<unknown>): void {
  ownerOf(this).register(user);
}
function deregister(this: Node, user: DeviceUser<unknown>): void {
  ownerOf(this).deregister(user);
}
function configLocalError(this: Node, err: unknown): Error {
  return ownerOf(this).localError(err);
}
// two parameters: Node-RED then hands in `removed` and `done`, and waits for `done`
function onClose(this: Node, _removed: boolean, done: () => void): void {
  ownerOf(this).close(done);
}

/** Makes `node` a config node that owns the session `spec.open` returns, and its device handle. */
export function setupConfigNode<S extends OwnedSession, Change, H>(RED: NodeAPI, node: Node, spec: ConfigSpec<S, H>): void {
  const self = node as OwnedNode<S, Change> & { problem?: DeviceError; deviceName: string } & Pick<
      ConfigNode<Change, H>,
      'register' | 'deregister' | 'localError'
    >;
  self.deviceName = spec.deviceName;
  const owner = new ConfigOwner<S, Change>(RED, self, spec.type);
  self[OWNER] = owner;
  try {
    // tests hand in a fake clock through the runtime settings
    const clock = (RED.settings as { wiimSonoffClock?: Clock }).wiimSonoffClock;
    owner.session = openSession(RED, node.id, spec.open.bind(undefined, clock));
    sessions.set(node, owner.session);
  } catch (err) {
    self.problem = err instanceof DeviceError ? err : new DeviceError('argument', toError(err).message);
    node.warn(self.problem.message);
  }
  owner.session?.on('health', owner.onHealth.bind(owner));
  owner.session?.on('state', owner.onState.bind(owner));
  self.localError = configLocalError;
  self.register = register;
  self.deregister = deregister;
  Object.defineProperty(node, 'device', { value: spec.handle(owner), enumerable: true, writable: false, configurable: false });
  node.on('close', onClose);
}

/** The config node of a device node, when `id` names one of `type`. */
export function configOf<Change, H>(RED: NodeAPI, id: unknown, type: string): ConfigNode<Change, H> | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  const n = RED.nodes.getNode(id) as (Node & { type?: string }) | null;
  return n && n.type === type ? (n as ConfigNode<Change, H>) : undefined;
}

/**
 * An error in the runtime's language, as `done(err)` hands it to Catch
 * nodes: the kind's wording from the config node's catalogue
 * (`<type>.errors.<kind>`) around the protocol's detail, and never longer
 * than ERROR_TEXT_MAX, whatever the device or the message held.
 */
export function localError(RED: NodeAPI, type: string, err: unknown): Error {
  const base = toError(err);
  let text = base.message;
  if (err instanceof DeviceError) {
    const key = `${type}.errors.${err.kind}`;
    const local = RED._(key, { detail: err.message });
    if (local && !local.endsWith(key)) text = local;
  }
  text = shorten(text, ERROR_TEXT_MAX);
  if (text === base.message) return base;
  return err instanceof DeviceError ? new DeviceError(err.kind, text, { code: err.code, cause: err }) : new Error(text, { cause: err });
}

/** The most characters an error message carries. */
export const ERROR_TEXT_MAX = 500;

/** `text` cut to `max` characters, the last an ellipsis. */
export function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// ------------------------------------------------------------ editor endpoints

export interface EditorEndpoints {
  /** Devices found within `timeoutMs`. */
  discover(timeoutMs: number): Promise<object[]>;
  /** Asks the device the form describes; resolves with what to show. */
  test(form: Record<string, unknown>): Promise<object>;
}

const DISCOVER_MS = { default: 3000, min: 500, max: 10000 };
const TEST_ERROR_MAX = 200;

/**
 * Discover (read permission: it only listens) and Test connection (write
 * permission, as deploying a config does: it makes the runtime connect to
 * any host and port). Both answer one shape for both families:
 * `{devices: [...]}` and `{ok: true, ...} | {ok: false, error}`.
 */
export function serveEditorEndpoints(RED: NodeAPI, type: string, endpoints: EditorEndpoints): void {
  RED.httpAdmin.get(`/${type}/discover`, RED.auth.needsPermission(`${type}.read`), (req: Request, res: Response) => {
    const asked = Number(req.query.timeout);
    const timeout = Number.isFinite(asked) ? Math.min(DISCOVER_MS.max, Math.max(DISCOVER_MS.min, asked)) : DISCOVER_MS.default;
    endpoints.discover(timeout).then(
      (devices) => res.json({ devices }),
      (err: unknown) => res.status(500).json({ error: toError(err).message }),
    );
  });
  RED.httpAdmin.post(`/${type}/test`, RED.auth.needsPermission(`${type}.write`), (req: Request, res: Response) => {
    let result: Promise<object>;
    try {
      result = endpoints.test((req.body ?? {}) as Record<string, unknown>);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (r) => res.json({ ok: true, ...r }),
      (err: unknown) => res.json({ ok: false, error: testError(err) }),
    );
  });
}

/** What Test connection may say of a failure: never the body of whatever answered. */
function testError(err: unknown): string {
  if (err instanceof DeviceError && err.kind === 'protocol') return 'the reply could not be read: is this the right kind of device and port?';
  return shorten(toError(err).message, TEST_ERROR_MAX);
}
