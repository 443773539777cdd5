import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type ClockTimer } from '../shared/clock';
import { DeviceError } from '../shared/errors';
import { KEEP_ALIVE_MS } from '../shared/http';
import { RequestQueue } from '../shared/queue';
import { PollGate } from './poll-gate';

/**
 * The gate every session's regular polls pass (see PollGate). Enough slots
 * that a poll round stays one burst of work for the event loop (fewer left
 * it waiting on replies more often); a lease (of the loop's idle time)
 * longer than a healthy device's reply on a LAN, yet short enough that many
 * devices that do not answer delay the others' polls only a little. The
 * runs behind these numbers are in bench/README.md.
 */
export const pollGate = new PollGate(16, 25);

/**
 * A device read again within this long keeps its undici Client between reads
 * (not its connection): a relay's or an idle WiiM's default polls do, a
 * device heard through events or mDNS, read once a minute, holds none.
 */
export const KEEP_CLIENT_MS = 15_000;

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

/**
 * A change of a device's state, one shape for both families (WiiM adds the
 * raw replies). Per-outlet or per-field views are the nodes' business.
 */
export interface StateEvent<S> {
  /** the session's own snapshot, replaced and never changed: read it, copy it before changing it */
  state: Readonly<S>;
  /** the fields that changed: `volume`, `outlets.2.on`, `power`; a WiiM poll that found nothing new has none */
  changed: readonly string[];
  source: StateSource;
  /**
   * The users whose command or read brought this state (requests coalesced
   * into one name each of them). They answer through their own message, so
   * a node skips an event that names it: the one way to avoid an echo.
   */
  requesters?: ReadonlySet<object>;
}

export interface SendOptions {
  /** requests with the same key coalesce while waiting: the latest wins */
  key?: string;
  /** a read that must go out even while offline (polls, probes) */
  probe?: boolean;
  /** the user that asked (a node): named in the state events the request brings (StateEvent.requesters) */
  requester?: object;
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
  /** the regular poll loop: on while users are registered; paused while the device is offline (the probe reads instead) */
  private pollOn = false;
  private pollPaused = false;
  private pollTimer: ClockTimer | undefined;
  private pollDue = Number.POSITIVE_INFINITY;
  private pollRunning = false;
  /** who asked for each keyed request still waiting (coalesced requests gather here); made when first needed, as most devices never have one */
  private waitingAskers: Map<string, Set<object>> | undefined;
  /** who asked for the request running now */
  private askers: ReadonlySet<object> | undefined;
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
    if (this.users.size === 0) {
      this.stopPolling();
      this.stop();
    }
  }

  /** The config node closes: stop everything and fail what still waits. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.users.clear();
    this.queue.close();
    this.stopProbing();
    this.stopPolling();
    this.stop();
    const hooks = this.closeHooks ?? [];
    this.closeHooks = undefined;
    await Promise.all(hooks.map((hook) => hook()));
    await this.dispose();
    this.removeAllListeners();
  }

  /** an array, not a Set: a session has one or two, and each Set costs a hash table */
  private closeHooks: Array<() => void | Promise<void>> | undefined;

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
    // a literal: an array grown by push keeps room for 17
    if (this.closeHooks) this.closeHooks.push(hook);
    else this.closeHooks = [hook];
    return () => {
      const i = this.closeHooks?.indexOf(hook) ?? -1;
      if (i >= 0) this.closeHooks?.splice(i, 1);
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

  // ------------------------------------------------------------ the poll loop

  /**
   * Starts the regular reads: the first after `firstDelay` (default: the next
   * aligned tick), then one interval after each read ends. The loop is the
   * same for both families: reads pass the poll gate and fall on aligned
   * ticks (alignedDelay), the connection goes when the next read is far off
   * (idleFor), the loop pauses while the device is offline (the probe reads
   * instead) and carries on when it is back, and after a failed or unreadable
   * read the next waits the backoff delay (doubling per failure), or the
   * interval if that is longer: backoff only ever slows the reads.
   */
  protected startPolling(firstDelay?: number): void {
    this.pollOn = true;
    this.schedulePoll(firstDelay);
  }

  /** The next regular read is due from now: after a read on demand, or when the interval changes. */
  protected reschedulePoll(): void {
    if (this.pollOn) this.schedulePoll();
  }

  private stopPolling(): void {
    this.pollOn = false;
    this.pollPaused = false;
    this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.pollDue = Number.POSITIVE_INFINITY;
  }

  /** When the next regular read is due (infinity: none is). */
  protected get nextPollAt(): number {
    return this.pollDue;
  }

  /** A regular read is under way. */
  protected get pollInFlight(): boolean {
    return this.pollRunning;
  }

  private schedulePoll(delay?: number): void {
    this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.pollDue = Number.POSITIVE_INFINITY;
    if (!this.pollOn || this.closed) return;
    this.pollPaused = this.healthState === 'offline';
    if (this.pollPaused) return;
    const interval = this.pollInterval();
    if (interval <= 0 && delay === undefined) return;
    // one backoff rule: after a failed or unreadable read, the backoff delay, but never sooner than the interval
    const ms = delay ?? (this.consecutiveFailures > 0 ? Math.max(interval, this.retryDelay()) : alignedDelay(interval, this.clock.now()));
    this.idleFor(ms);
    this.pollDue = this.clock.now() + ms;
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = undefined;
      this.pollDue = Number.POSITIVE_INFINITY;
      // went offline on a command (the probe takes over), or nowhere to read yet (SONOFF before mDNS)
      if (this.healthState === 'offline' || !this.canPoll()) return this.schedulePoll();
      this.pollRunning = true;
      this.gate
        .run(() => this.pollRead())
        .catch(() => undefined)
        .finally(() => {
          this.pollRunning = false;
          this.schedulePoll();
          this.afterPoll();
        });
    }, ms);
  }

  /** The device is online again (or for the first time): the paused loop carries on. */
  private resume(): void {
    if (!this.pollPaused) return;
    this.pollPaused = false;
    if (this.pollOn && !this.pollTimer) this.schedulePoll();
  }

  /** The family's regular read (a probe read: it goes out whatever the health). */
  protected abstract pollRead(): Promise<unknown>;
  /** The time between regular reads now (WiiM's adapts to playback and events); 0: none. */
  protected abstract pollInterval(): number;
  /** Whether a read can go out now (SONOFF: once mDNS gave the address); if not, the loop waits an interval. */
  protected canPoll(): boolean {
    return true;
  }
  /** After each regular read, done or failed. */
  protected afterPoll(): void {}

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
    const key = options.key;
    const asked = this.askersFor(key, options.requester);
    const run = asked === undefined ? task : () => this.runAsked(asked, key, task);
    return this.queue.run(run, key).then(
      (value) => {
        this.noteSuccess();
        return value;
      },
      (err: unknown) => {
        this.doneAsking(key, asked);
        if (err instanceof DeviceError && err.isTransport) this.noteFailure(err);
        else if (err instanceof DeviceError && err.kind === 'protocol') this.noteBadReply(err);
        else if (err instanceof DeviceError && err.kind === 'device') this.noteSuccess();
        throw err;
      },
    );
  }

  /** The askers of a request: a keyed one shares the set of the waiting request it joins. */
  private askersFor(key: string | undefined, requester: object | undefined): Set<object> | undefined {
    let asked = key === undefined ? undefined : this.waitingAskers?.get(key);
    if (requester === undefined) return asked;
    if (!asked) {
      asked = new Set();
      if (key !== undefined) (this.waitingAskers ??= new Map()).set(key, asked);
    }
    asked.add(requester);
    return asked;
  }

  /** A keyed request's askers no longer gather new ones: it runs, or failed. */
  private doneAsking(key: string | undefined, asked: ReadonlySet<object> | undefined): void {
    if (key === undefined || !this.waitingAskers || this.waitingAskers.get(key) !== asked) return;
    this.waitingAskers.delete(key);
    if (this.waitingAskers.size === 0) this.waitingAskers = undefined;
  }

  private async runAsked<T>(asked: ReadonlySet<object>, key: string | undefined, task: () => Promise<T>): Promise<T> {
    // from now on a request with this key is a new one, with askers of its own
    this.doneAsking(key, asked);
    this.askers = asked;
    try {
      return await task();
    } finally {
      if (this.askers === asked) this.askers = undefined;
    }
  }

  /** The users to name in a state event of `source` (StateEvent.requesters): those of the request running now; none for a push. */
  protected requestersFor(source: StateSource): ReadonlySet<object> | undefined {
    return source === 'push' || this.askers === undefined || this.askers.size === 0 ? undefined : this.askers;
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

  /** The family's own reaction to a new health, before the listeners hear of it (a method, not a listener: no closure per session). */
  protected healthChanged(_health: Health): void {}

  private setHealth(health: Health, err: DeviceError | undefined): void {
    if (this.closed || health === this.healthState) return;
    this.healthState = health;
    this.healthChanged(health);
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
    if (ms > KEEP_ALIVE_MS && !this.queue.busy && this.clock.now() - this.lastAskedAt > KEEP_ALIVE_MS) this.releaseConnection(ms <= KEEP_CLIENT_MS);
  }

  /** A short name for messages: the device's name or address. */
  protected abstract describe(): string;
  /** Begin polling (startPolling) or listening: the first user registered. */
  protected abstract start(): void;
  /** Stop the family's own timers and listeners (last user left, or close); the poll loop is stopped already. The offline probe goes on until close. */
  protected abstract stop(): void;
  /** One read of the offline device; a success brings it back online (through send or noteSuccess). */
  protected abstract probe(): Promise<unknown>;
  /** Close the device's idle connection now (the next request opens another); `keepClient`: the next read is due soon, and goes on the same undici Client. */
  protected abstract releaseConnection(keepClient: boolean): void;
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
  registry.set(id, session);
  return session;
}

/** Closes the session of config node `id` and takes it off the runtime's list (unless a newer one took its place). */
export function closeSession(runtime: object, id: string, session: ListedSession): Promise<void> {
  const registry = registries.get(runtime);
  if (registry?.get(id) === session) registry.delete(id);
  return session.close();
}
