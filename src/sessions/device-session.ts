import { EventEmitter } from 'node:events';
import { DeviceError } from '../shared/errors';
import { KEEP_ALIVE_MS } from '../shared/http';
import { RequestQueue } from '../shared/queue';
import { PollGate } from './poll-gate';

/**
 * The gate every session's regular polls pass (see PollGate). 16 at a time
 * keeps a poll round one burst of work for the event loop (8 left it waiting
 * on replies more often); a 25 ms lease is longer than a healthy device's
 * reply on a LAN, and lets 200 devices start within a third of a second even
 * when none answers.
 */
export const pollGate = new PollGate(16, 25);

/**
 * The part of a device session that both families share: the per-device
 * queue, the users (nodes) registered with it, and the device's health.
 *
 * Health follows transport failures only: after `offlineAfter` timeouts or
 * connection failures in a row the device is offline, and the first success
 * brings it back. While offline, commands fail at once with a catchable
 * error instead of piling up; reads (polls, probes) still go out, with
 * backoff, so that the session notices the device's return.
 */
export type Health = 'connecting' | 'online' | 'offline';

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

export abstract class DeviceSession<Events extends Record<keyof Events, unknown[]> = SessionEvents> extends EventEmitter<Events & SessionEvents> {
  readonly queue: RequestQueue;
  private healthState: Health = 'connecting';
  private failures = 0;
  private lastFailure: DeviceError | undefined;
  private readonly users = new Set<object>();
  private closed = false;
  private lastAskedAt = 0;
  protected readonly offlineAfter: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly gate: PollGate;

  constructor(options: SessionOptions = {}) {
    super();
    this.gate = options.pollGate ?? pollGate;
    this.queue = new RequestQueue({ minGapMs: options.minGapMs ?? 0 });
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
    this.stop();
    for (const hook of this.closeHooks.splice(0)) hook();
    await this.dispose();
    (this as EventEmitter).removeAllListeners();
  }

  private readonly closeHooks: Array<() => void> = [];

  /** Runs `hook` once, when the session closes. */
  onClose(hook: () => void): void {
    if (this.closed) hook();
    else this.closeHooks.push(hook);
  }

  /** The delay before a regular poll due in about `ms`: see alignedDelay. */
  protected pollDelay(ms: number): number {
    return alignedDelay(ms, Date.now());
  }

  /** Runs a regular (timer) poll through the poll gate: see PollGate. */
  protected regularPoll<T>(poll: () => Promise<T>): Promise<T> {
    return this.gate.run(poll);
  }

  /** Delay before the next read while the device fails: doubles per failure. */
  protected retryDelay(): number {
    const steps = Math.max(0, this.failures - 1);
    return Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** Math.min(steps, 16));
  }

  protected get consecutiveFailures(): number {
    return this.failures;
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
        else if (err instanceof DeviceError && (err.kind === 'device' || err.kind === 'protocol')) this.noteSuccess();
        throw err;
      },
    );
  }

  /** The device answered (a reply, an mDNS record): it is online. */
  protected noteSuccess(): void {
    this.failures = 0;
    this.setHealth('online', undefined);
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
    (this as EventEmitter).emit('health', health, err);
  }

  /** A node asked something of the device (a command, a read on demand): more may follow soon. */
  protected noteAsked(): void {
    this.lastAskedAt = Date.now();
  }

  /**
   * The session will ask the device nothing for `ms` (until its next poll):
   * unless a request waits or a node used the device within the keep-alive
   * (a slider sends the next volume soon), its connection goes now instead
   * of holding one of the device's few sockets until the keep-alive runs out.
   */
  protected idleFor(ms: number): void {
    if (ms > KEEP_ALIVE_MS && !this.queue.busy && Date.now() - this.lastAskedAt > KEEP_ALIVE_MS) this.releaseConnection();
  }

  /** A short name for messages: the device's name or address. */
  protected abstract describe(): string;
  /** Begin polling or listening (first user registered). */
  protected abstract start(): void;
  /** Stop timers and listeners (last user left, or close). */
  protected abstract stop(): void;
  /** Close the device's idle connection now (the next request opens another). */
  protected abstract releaseConnection(): void;
  /** Release sockets and dispatchers for good. */
  protected abstract dispose(): Promise<void>;
}

/**
 * The time from `now` to the next multiple of `ms` on the clock that is at
 * least `ms / 4` away (so at most 1.25 × `ms`: a playing WiiM's 1 s polls
 * stay within the 1.5 s keep-alive). Devices polled at the same interval
 * then poll on the same tick, and a Node-RED with many devices wakes once
 * per interval rather than once per device. Devices deployed together start in step, but their
 * polls would drift apart over hours, each by its own reply time; spread
 * over the interval, 100 WiiM and 100 relays took 7.7–8.9 % of a core where
 * in step they took 4.1–4.9 % (sessions alone, paired 30 s runs).
 */
export function alignedDelay(ms: number, now: number): number {
  const delay = ms - (now % ms);
  return delay < ms / 4 ? delay + ms : delay;
}

/** Sessions by config node id, per Node-RED runtime. */
interface ListedSession {
  close(): Promise<void>;
  onClose(hook: () => void): void;
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
