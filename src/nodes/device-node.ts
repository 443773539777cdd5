/**
 * The one scaffold of every device node: finding its config node ("no
 * device" when there is none), the status (through the runtime's `status`, so that a
 * Status node hears only real changes), busy while a message runs, then
 * `send` and `done()`, or the error status and `done(err)` in the runtime's
 * language. A node file adds only its message contract.
 */

import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { DeviceError } from '../shared/errors';
import type { StateEvent } from '../sessions/device-session';
import { configOf, sessionOf, shorten, type ConfigNode, type DeviceUser, type UserHealth } from './config-node';

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;

/** The status texts every device node's catalogue has, as `<type>.status.<name>`. */
export const SHARED_STATUS = ['working', 'done', 'online', 'connecting', 'offline', 'badreplies', 'error', 'unconfigured'] as const;
export type SharedStatus = (typeof SHARED_STATUS)[number];

export interface DeviceNodeSpec<S, Change extends StateEvent<unknown>, H> {
  /** the node type: status texts are `<type>.status.<name>` */
  type: string;
  /** the config node's type */
  configType: 'wiim-config' | 'sonoff-config';
  /** the device node's setting that names its config node */
  device: unknown;
  /** see DeviceUser.subscribe */
  subscribe?: DeviceUser<Change>['subscribe'];
  /** The status at rest, from the session; undefined: the device's health. */
  idle?(session: S, health: UserHealth): NodeStatus | undefined;
  /** A change of state that the node did not ask for: one its own message asked for answers through that message. */
  onState?(change: Change, session: S): void;
  /** Runs one message through the device handle: fills in `msg`, which is then sent. Resolves with a status to show, or nothing for the idle one. */
  input(msg: NodeMessageInFlow, device: H, session: S): Promise<NodeStatus | void>;
  /** How long a result status stays before the status at rest comes back; undefined: it stays. */
  resultMs?: number;
}

export interface DeviceNode<Change, H> {
  readonly config: ConfigNode<Change, H> | undefined;
  /** Shows a status (skipped when it is the one shown). */
  status(status: NodeStatus): void;
  /** `<type>.status.<name>` with the shared colours. */
  shared(name: SharedStatus): NodeStatus;
  /** Shows the status at rest again. */
  refresh(): void;
}

const COLOURS: Record<SharedStatus, Pick<NodeStatus, 'fill' | 'shape'>> = {
  working: { fill: 'yellow', shape: 'dot' },
  done: { fill: 'green', shape: 'dot' },
  online: { fill: 'green', shape: 'dot' },
  connecting: { fill: 'yellow', shape: 'ring' },
  offline: { fill: 'red', shape: 'ring' },
  badreplies: { fill: 'red', shape: 'ring' },
  error: { fill: 'red', shape: 'ring' },
  unconfigured: { fill: 'red', shape: 'ring' },
};

/** The shared statuses, made once per node type: every message shows `working`, and building it each time was measurable work per command (bench/README.md). Node-RED does not change a status with a string text. */
const sharedStatuses = new Map<string, Partial<Record<SharedStatus, NodeStatus>>>();
function sharedStatus(type: string, name: SharedStatus): NodeStatus {
  let ofType = sharedStatuses.get(type);
  if (!ofType) sharedStatuses.set(type, (ofType = {}));
  return (ofType[name] ??= { ...COLOURS[name], text: `${type}.status.${name}` });
}

/** The most characters a status text shows. */
export const STATUS_TEXT_MAX = 64;

/** A two-state status at rest (relay on/off, inching on/off): a green or grey dot, apart from the health colours; none when unknown or offline. */
export function twoStateStatus(on: boolean | undefined, health: UserHealth, text: { on: string; off: string }): NodeStatus | undefined {
  if (health === 'offline' || on === undefined) return undefined;
  return on ? { fill: 'green', shape: 'dot', text: text.on } : { fill: 'grey', shape: 'dot', text: text.off };
}

/** The shared status of a health: a faulty device shows "bad replies". */
function healthStatus(health: UserHealth): SharedStatus {
  return health === 'faulty' ? 'badreplies' : health;
}

/** Offline (red ring) when the device could not be reached, else error. */
export function failureStatus(err: unknown): SharedStatus {
  return err instanceof DeviceError && (err.kind === 'offline' || err.isTransport) ? 'offline' : 'error';
}

/**
 * One device node's runtime: its status (a status equal to the one shown is
 * skipped: Node-RED hands every status call to the flow's Status nodes, so a
 * status set on every poll would make them emit once a poll), its health,
 * and its user of the config node. A class, not closures: a node of every
 * device holds one, and each closure and its scope cost the heap more than a
 * field (bench/README.md, part 8's memory).
 */
class DeviceNodeRuntime<S, Change extends StateEvent<unknown>, H> implements DeviceNode<Change, H>, DeviceUser<Change> {
  readonly config: ConfigNode<Change, H> | undefined;
  readonly subscribe: DeviceUser<Change>['subscribe'];
  private readonly session: S | undefined;
  private healthNow: UserHealth = 'connecting';
  private busy = 0;
  private fade: NodeJS.Timeout | undefined;
  private shownKey: string | undefined;
  private last: NodeStatus | undefined;

  constructor(
    private readonly RED: NodeAPI,
    readonly node: Node,
    private readonly spec: DeviceNodeSpec<S, Change, H>,
  ) {
    this.config = configOf<Change, H>(RED, spec.device, spec.configType);
    this.session = this.config && sessionOf<S>(this.config);
    this.subscribe = spec.subscribe;
  }

  status(status: NodeStatus): void {
    // the same (shared) object as last time: nothing to compare
    if (status === this.last) return;
    this.last = status;
    // device text (a title) goes to every open editor: short, whatever the device sends
    const text = status.text === undefined ? undefined : shorten(String(status.text), STATUS_TEXT_MAX);
    const key = `${status.fill ?? ''}|${status.shape ?? ''}|${text ?? ''}`;
    if (key === this.shownKey) return;
    this.shownKey = key;
    this.node.status(text === status.text ? status : { ...status, text });
  }

  shared(name: SharedStatus): NodeStatus {
    return sharedStatus(this.spec.type, name);
  }

  refresh(): void {
    if (this.busy > 0) return;
    const { session, healthNow: health } = this;
    // a device that answers garbage shows that, over any state it last reported
    const rest = session && health !== 'unconfigured' && health !== 'faulty' ? this.spec.idle?.(session, health) : undefined;
    this.status(rest ?? this.shared(healthStatus(health)));
  }

  health(h: UserHealth): void {
    this.healthNow = h;
    this.refresh();
  }

  state(change: Change): void {
    this.refresh();
    // the one echo rule of both families: an event this node's own command or read brought is answered by its message
    if (this.session && !change.requesters?.has(this.node)) this.spec.onState?.(change, this.session);
  }

  input(msg: NodeMessageInFlow, send: Send, done: Done): void {
    const { config, session } = this;
    if (!config || !session) {
      done(config?.localError(config.problem) ?? new DeviceError('argument', this.RED._(`${this.spec.type}.errors.noconfig`)));
      return;
    }
    this.busy++;
    this.status(this.shared('working'));
    let run: Promise<NodeStatus | void>;
    try {
      run = this.spec.input(msg, config.device, session);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(
      (shown) => {
        this.busy--;
        clearTimeout(this.fade);
        if (!shown) this.refresh();
        else {
          this.status(shown);
          if (this.spec.resultMs !== undefined) this.fade = setTimeout(() => this.refresh(), this.spec.resultMs);
        }
        send(msg);
        done();
      },
      (err: unknown) => {
        this.busy--;
        this.status(this.shared(failureStatus(err)));
        done(config.localError(err));
      },
    );
  }

  close(): void {
    clearTimeout(this.fade);
    this.config?.deregister(this);
  }
}

/** Where a device node keeps its runtime: its listeners below are one function each for every node (Node-RED calls them with the node as `this`). */
const RUNTIME = Symbol('wiim-sonoff device node runtime');
type Runtime = Pick<DeviceNodeRuntime<unknown, StateEvent<unknown>, unknown>, 'input' | 'close'>;
type WithRuntime = Node & { [RUNTIME]: Runtime };

function onInput(this: Node, msg: NodeMessageInFlow, send: Send, done: Done): void {
  (this as WithRuntime)[RUNTIME].input(msg, send, done);
}
// two parameters: Node-RED then hands in `removed` and `done`
function onClose(this: Node, _removed: boolean, done: () => void): void {
  (this as WithRuntime)[RUNTIME].close();
  done();
}

export function deviceNode<S, Change extends StateEvent<unknown>, H>(RED: NodeAPI, node: Node, spec: DeviceNodeSpec<S, Change, H>): DeviceNode<Change, H> {
  const self = new DeviceNodeRuntime(RED, node, spec);
  if (self.config) self.config.register(self);
  else self.status(self.shared('unconfigured'));
  (node as WithRuntime)[RUNTIME] = self;
  node.on('input', onInput);
  node.on('close', onClose);
  return self;
}
