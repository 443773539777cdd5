import type { DeviceErrorInfo, DeviceHandle, DeviceUpdate, Health, SendResult } from '../api';
import { DeviceError } from '../shared/errors';
import type { Health as SessionHealth, StateEvent } from '../sessions/device-session';

/**
 * The device handle (`device` on each config node, typed in src/api.ts): one
 * message contract for flow nodes, widgets and other packages. A family
 * gives it how to run a command (its coercion and checks, then the session)
 * and how its state and state events look; the handle adds the
 * subscriptions, the replay, the unconfigured case and the errors' wording.
 */

/** What the handle needs of a session. */
export interface HandleSession {
  readonly health: SessionHealth;
  readonly lastError: DeviceError | undefined;
  register(user: object, options?: Record<string, unknown>): void;
  deregister(user: object): void;
  // the sessions' own event maps are typed; here any listener shape will do
  on(event: 'health' | 'state', listener: (...args: never[]) => void): unknown;
  removeListener(event: 'health' | 'state', listener: (...args: never[]) => void): unknown;
}

/** Options of one command: the public `outlet`, what only a node's settings give (sonoff-pulse's width), and the node that asks. */
export interface RunOptions {
  outlet?: unknown;
  width?: number;
  /** named in the state events the command brings (StateEvent.requesters), so that this node does not hear its own change twice */
  requester?: object;
}

export interface FamilyContract<Session, S, Result> {
  readonly family: 'wiim' | 'sonoff';
  /** The state as a handle shows it (a fresh object), undefined before anything is known. */
  stateOf(session: Session): S | undefined;
  /** One command of the message contract; a bad value throws before anything is sent. */
  run(session: Session, command: string, value: unknown, options: RunOptions): Promise<Result>;
  /** What the node puts in msg.payload. */
  payloadOf(result: Result): unknown;
}

export interface HandleSetup<Session> {
  name: string;
  /** undefined when the settings are unusable (`problem` says why) */
  session: Session | undefined;
  problem: DeviceError | undefined;
  /** The error in the runtime's language, as the nodes hand it to Catch nodes. */
  localError(err: unknown): Error;
  /** A subscriber's listener threw: say so once per throw, and carry on with the others. */
  warn(message: string): void;
}

type Listener<S> = (update: DeviceUpdate<S>) => void;

export class Device<Session extends HandleSession, S, Result> implements DeviceHandle<S> {
  readonly family: 'wiim' | 'sonoff';
  readonly name: string;
  private readonly session: Session | undefined;
  private readonly problem: DeviceError | undefined;
  private readonly listeners = new Map<object, Listener<S>>();
  /** the state the subscribers last heard: what the next change is measured against */
  private heard: S | undefined;
  /** the session's events, heard only while the handle has subscribers: most devices have none (flow nodes hear the config node) */
  private hooks: { health: (health: SessionHealth, err: DeviceError | undefined) => void; state: (event: StateEvent<unknown>) => void } | undefined;

  constructor(
    private readonly contract: FamilyContract<Session, S, Result>,
    private readonly setup: HandleSetup<Session>,
  ) {
    this.family = contract.family;
    this.name = setup.name;
    this.session = setup.session;
    this.problem = setup.problem;
  }

  /** Hears the session, from the first subscriber on. */
  private listen(session: Session): void {
    if (this.hooks) return;
    this.hooks = {
      health: (health, err) => {
        if (this.listeners.size > 0) this.deliver({ health, state: this.heard, changed: [], source: 'health', ...this.errorOf(health, err) });
      },
      // the session's event names the fields (both families alike); a read that changed nothing is not an update
      state: (event) => {
        if (this.listeners.size === 0 || event.changed.length === 0) return;
        this.heard = this.contract.stateOf(session);
        this.deliver({ health: session.health, state: this.heard, changed: event.changed, source: event.source });
      },
    };
    session.on('health', this.hooks.health);
    session.on('state', this.hooks.state);
  }

  /** Stops hearing the session after the last subscriber. */
  private unlisten(session: Session): void {
    if (!this.hooks || this.listeners.size > 0) return;
    session.removeListener('health', this.hooks.health);
    session.removeListener('state', this.hooks.state);
    this.hooks = undefined;
    this.heard = undefined;
  }

  get health(): Health {
    return this.session?.health ?? 'unconfigured';
  }

  get state(): Readonly<S> | undefined {
    return this.session ? this.contract.stateOf(this.session) : undefined;
  }

  subscribe(listener: Listener<S>, options?: { meta?: boolean }): () => void {
    const token = {};
    const session = this.session;
    if (this.listeners.size === 0 && session) {
      this.heard = this.contract.stateOf(session);
      this.listen(session);
    }
    this.listeners.set(token, listener);
    this.call1(listener, { health: this.health, state: this.heard, changed: [], source: 'health', ...this.errorOf(this.health, session?.lastError) });
    // registered after the replay: a first poll that starts now reports as a change
    if (this.listeners.has(token)) session?.register(token, options?.meta ? { meta: true } : undefined);
    return () => {
      if (!this.listeners.delete(token)) return;
      session?.deregister(token);
      if (session) this.unlisten(session);
    };
  }

  async send(command: string, value?: unknown, options?: { outlet?: number }): Promise<SendResult<S>> {
    try {
      const result = await this.run(command, value, options ?? {});
      return { payload: this.contract.payloadOf(result), state: this.state };
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** One command, with the family's own result (what a node's message carries besides the payload); errors as thrown. */
  run(command: string, value: unknown, options: RunOptions): Promise<Result> {
    const session = this.session;
    if (!session) return Promise.reject(this.problem ?? new DeviceError('argument', 'the device is not configured'));
    try {
      return this.contract.run(session, command, value, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** An error as the nodes word it, always with a `kind`. */
  private failure(err: unknown): Error & { kind: string } {
    const local = this.setup.localError(err);
    if (local instanceof DeviceError) return local;
    return new DeviceError('device', local.message, { cause: err });
  }

  private errorOf(health: Health, err: DeviceError | undefined): { error?: DeviceErrorInfo } {
    const why = health === 'unconfigured' ? this.problem : health === 'offline' || health === 'faulty' ? err : undefined;
    if (!why) return {};
    return { error: { kind: why.kind, message: this.setup.localError(why).message } };
  }

  private deliver(update: DeviceUpdate<S>): void {
    for (const listener of [...this.listeners.values()]) this.call1(listener, update);
  }

  private call1(listener: Listener<S>, update: DeviceUpdate<S>): void {
    try {
      listener(update);
    } catch (err) {
      this.setup.warn(`${this.name}: a device subscriber failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
