import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type ClockTimer } from '../shared/clock';
import { DeviceError } from '../shared/errors';
import { KEEP_ALIVE_MS } from '../shared/http';
import { RequestQueue } from '../shared/queue';
import { PollGate } from './poll-gate';

/**
 * The gate every session's regular polls pass (see PollGate). Enough slots
 * that a poll round stays one burst of work for the event loop (fewer left
 * it waiting on replies more often); a lease longer than a healthy device's
 * reply on a LAN, yet short enough that many devices that do not answer
 * delay the others' polls only a little. The runs behind these numbers are
 * in bench/README.md.
 */
export const pollGate = new PollGate(16, 25);

/**
 * The part of a device session that both families share: the per-device
 * queue, the users (nodes) registered with it, and the device's health.
 *
 * Health follows failures: after `offlineAfter` timeouts or connection
 * failures in a row the device is offline, and the first good reply brings
 * it back. While offline, commands fail at once with a catchable error
 * instead of piling up; reads (polls, probes) still go out, with backoff, so
 * that the session notices the device's return. A device that answers, but
 * only with replies that cannot be read (DeviceError 'protocol': garbage, a
 * 1 MB body, a redirect, an HTTP status the API never sends), is `faulty`
 * after `offlineAfter` of them in a row: never online, polled with backoff,
 * and commands still go out (the device may take them).
 */
export type Health = 'connecting' | 'online' | 'offline' | 'faulty';

/**
 * Where a state came from, in both families: a device's own announcement
 * (`push`), a regular or probing read (`poll`), a command's reply
 * (`command`), or a read that a message asked for (`refresh`).
 */
export type StateSource = 'push' | 'poll' | 'command' | 'refresh';

export interface SessionOptions {
  /** failures in a row before the device counts as offline */
  offlineAfter?: number;
  /** least gap between requests (SONOFF: 200 ms) */
  minGapMs?: number;
  /** first and largest retry delay while offline */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** the gate regular polls pass (default: the process's, shared by every session) */
  pollGate?: PollGate;
  /** the time polls, backoff, probes and the queue's gap run on (default: the system clock; tests pass a fake one) */
  clock?: Clock;
}

export interface SessionEvents {
  health: [Health, DeviceError | undefined];
}

export interface SendOptions {
  /** requests with the same key coalesce while waiting: the latest wins */
  key?: string;
  /** a read that must go out even while offline (polls, probes) */
  probe?: boolean;
}

type SessionEventMap<Events> = Events & SessionEvents;

export abstract class DeviceSession<Events extends Record<keyof Events, unknown[]> = SessionEvents> extends EventEmitter<SessionEventMap<Events>> {
  /** @internal */
  readonly queue: RequestQueue;
  protected readonly clock: Clock;
  private healthState: Health = 'connecting';
  private failures = 0;
  /** unreadable replies in a row */
  private badReplies = 0;
  private lastFailure: DeviceError | undefined;
  private readonly users = new Set<object>();
  private closed = false;
  private lastAskedAt = Number.NEGATIVE_INFINITY;
  private probeTimer: ClockTimer | undefined;
  protected readonly offlineAfter: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly gate: PollGate;

  constructor(options: SessionOptions = {}) {
    super();
    this.clock = options.clock ?? systemClock;
    this.gate = options.pollGate ?? pollGate;
    this.queue = new RequestQueue({ minGapMs: options.minGapMs ?? 0, clock: this.clock });
    this.offlineAfter = Math.max(1, options.offlineAfter ?? 3);
    this.backoffMinMs = options.backoffMinMs ?? 1000;
    this.backoffMaxMs = options.backoffMaxMs ?? 30000;
  }

  get health(): Health {
    return this.healthState;
  }

  get lastError(): DeviceError | undefined {
    return this.lastFailure;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get userCount(): number {
    return this.users.size;
  }

  /** A node starts using the device: the first user starts polling or push. */
  register(user: object): void {
    if (this.closed || this.users.has(user)) return;
    this.users.add(user);
    if (this.users.size === 1) this.start();
  }

  /** A node stops using the device: the last one stops timers and sockets. */
  deregister(user: object): void {
    if (!this.users.delete(user)) return;
    if (this.users.size === 0) this.stop();
  }

  /** The config node closes: stop everything and fail what still waits. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.users.clear();
    this.queue.close();
    this.stopProbing();
    this.stop();
    await Promise.all([...this.closeHooks].map((hook) => hook()));
    this.closeHooks.clear();
    await this.dispose();
    this.removeAllListeners();
  }

  private readonly closeHooks = new Set<() => void | Promise<void>>();

  /**
   * Runs `hook` once, when the session closes (before its connection goes);
   * a promise it returns is awaited. The function returned takes the hook
   * back, for work that ended before the session did.
   */
  onClose(hook: () => void | Promise<void>): () => void {
    if (this.closed) {
      void hook();
      return () => undefined;
    }
    this.closeHooks.add(hook);
    return () => {
      this.closeHooks.delete(hook);
    };
  }

  /** Emits one of the session's events, typed by its event map. */
  protected emitEvent<K extends keyof SessionEventMap<Events> & string>(name: K, ...args: SessionEventMap<Events>[K] & unknown[]): void {
    this.emitUntyped(name, args);
  }

  /** EventEmitter's own typing cannot see through an event map that is still generic here: emitEvent and setHealth check the types. */
  private emitUntyped(name: string, args: unknown[]): void {
    EventEmitter.prototype.emit.call(this, name, ...args);
  }

  /** The delay before a regular poll due in about `ms`: see alignedDelay. */
  protected pollDelay(ms: number): number {
    return alignedDelay(ms, this.clock.now());
  }

  /** Runs a regular (timer) poll through the poll gate: see PollGate. */
  protected regularPoll<T>(poll: () => Promise<T>): Promise<T> {
    return this.gate.run(poll);
  }

  /** Delay before the next read while the device fails or answers garbage: doubles per failure. */
  protected retryDelay(): number {
    const steps = Math.max(0, this.consecutiveFailures - 1);
    return Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** Math.min(steps, 16));
  }

  /** Failed requests or unreadable replies in a row. */
  protected get consecutiveFailures(): number {
    return Math.max(this.failures, this.badReplies);
  }

  /** Runs one request through the device's queue, keeping the health up to date. */
  protected send<T>(task: () => Promise<T>, options: SendOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new DeviceError('closed', 'the device session is closed'));
    if (!options.probe) this.noteAsked();
    if (this.healthState === 'offline' && !options.probe) {
      const reason = this.lastFailure ? `: ${this.lastFailure.message}` : '';
      return Promise.reject(new DeviceError('offline', `${this.describe()} is offline${reason}`));
    }
    return this.queue.run(task, options.key).then(
      (value) => {
        this.noteSuccess();
        return value;
      },
      (err: unknown) => {
        if (err instanceof DeviceError && err.isTransport) this.noteFailure(err);
        else if (err instanceof DeviceError && err.kind === 'protocol') this.noteBadReply(err);
        else if (err instanceof DeviceError && err.kind === 'device') this.noteSuccess();
        throw err;
      },
    );
  }

  /**
   * The device answered: a reply we could read makes it online. An mDNS
   * record (`announced`) proves it reachable, but not that its replies can
   * be read: a faulty device stays faulty.
   */
  protected noteSuccess(announced = false): void {
    this.failures = 0;
    if (!announced) this.badReplies = 0;
    if (this.badReplies >= this.offlineAfter) this.setHealth('faulty', this.lastFailure);
    else this.setHealth('online', undefined);
  }

  /** The device answered something we cannot read: reachable, yet no good reply. */
  protected noteBadReply(err: DeviceError): void {
    this.failures = 0;
    this.badReplies++;
    this.lastFailure = err;
    if (this.badReplies >= this.offlineAfter) this.setHealth('faulty', err);
  }

  protected noteFailure(err: DeviceError): void {
    this.failures++;
    this.lastFailure = err;
    if (this.failures >= this.offlineAfter) {
      // commands queued behind a dead device would only time out in turn
      this.queue.clear(new DeviceError('offline', `${this.describe()} is offline: ${err.message}`));
      this.setHealth('offline', err);
    }
  }

  /** Forces the offline state, e.g. when the device withdraws its mDNS record. */
  protected markOffline(err: DeviceError): void {
    this.lastFailure = err;
    this.failures = Math.max(this.failures, this.offlineAfter);
    this.setHealth('offline', err);
  }

  private setHealth(health: Health, err: DeviceError | undefined): void {
    if (this.closed || health === this.healthState) return;
    this.healthState = health;
    const args: SessionEvents['health'] = [health, err];
    this.emitUntyped('health', args);
    if (health === 'offline') this.scheduleProbe();
    else {
      this.stopProbing();
      this.resume();
    }
  }

  /**
   * While the device is offline, one loop reads it (see probe) after the
   * backoff delay, until a read succeeds or the session closes. It runs
   * whether or not a node listens: otherwise a device used only by
   * commands, which fail at once while it is offline, would never be seen
   * again.
   */
  private scheduleProbe(): void {
    if (this.closed || this.probeTimer) return;
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = undefined;
      if (this.closed || this.healthState !== 'offline') return;
      void this.probe()
        .catch(() => undefined)
        .finally(() => {
          if (this.healthState === 'offline') this.scheduleProbe();
        });
    }, this.retryDelay());
  }

  private stopProbing(): void {
    this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  /** A node asked something of the device (a command, a read on demand): more may follow soon. */
  protected noteAsked(): void {
    this.lastAskedAt = this.clock.now();
  }

  /**
   * The session will ask the device nothing for `ms` (until its next poll):
   * unless a request waits or a node used the device within the keep-alive
   * (a slider sends the next volume soon), its connection goes now instead
   * of holding one of the device's few sockets until the keep-alive runs out.
   */
  protected idleFor(ms: number): void {
    if (ms > KEEP_ALIVE_MS && !this.queue.busy && this.clock.now() - this.lastAskedAt > KEEP_ALIVE_MS) this.releaseConnection();
  }

  /** A short name for messages: the device's name or address. */
  protected abstract describe(): string;
  /** Begin polling or listening (first user registered). */
  protected abstract start(): void;
  /** Stop timers and listeners (last user left, or close). The offline probe goes on until close. */
  protected abstract stop(): void;
  /** One read of the offline device; a success brings it back online (through send or noteSuccess). */
  protected abstract probe(): Promise<unknown>;
  /** The device is online again (or for the first time): carry on with regular polls. */
  protected abstract resume(): void;
  /** Close the device's idle connection now (the next request opens another). */
  protected abstract releaseConnection(): void;
  /** Release sockets and dispatchers for good. */
  protected abstract dispose(): Promise<void>;
}

/**
 * The time from `now` to the next multiple of `ms` on the clock that is at
 * least `ms / 4` away (so at most 1.25 × `ms`: a playing WiiM's polls stay
 * within the keep-alive). Devices polled at the same interval then poll on
 * the same tick, and a Node-RED with many devices wakes once per interval
 * rather than once per device. Devices deployed together start in step, but
 * their polls would drift apart over hours, each by its own reply time, and
 * polls spread over the interval cost clearly more CPU than polls in step
 * (see bench/README.md).
 */
export function alignedDelay(ms: number, now: number): number {
  const delay = ms - (now % ms);
  return delay < ms / 4 ? delay + ms : delay;
}

/** Sessions by config node id, per Node-RED runtime. */
interface ListedSession {
  close(): Promise<void>;
  onClose(hook: () => void): unknown;
}

const registries = new WeakMap<object, Map<string, ListedSession>>();

/**
 * The session of config node `id` in one runtime. A redeploy makes a new
 * config node with the same id; the old node's session is closed here if its
 * own close has not run yet, so a device never has two pollers.
 */
export function openSession<S extends ListedSession>(runtime: object, id: string, create: () => S): S {
  let registry = registries.get(runtime);
  if (!registry) {
    registry = new Map();
    registries.set(runtime, registry);
  }
  const old = registry.get(id);
  if (old) void old.close();
  const session = create();
  const list = registry;
  list.set(id, session);
  session.onClose(() => {
    if (list.get(id) === session) list.delete(id);
  });
  return session;
}
