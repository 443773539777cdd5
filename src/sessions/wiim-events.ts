/**
 * The UPnP event subscriptions of one WiiM session: description, SUBSCRIBE
 * per service, renewal, and a fresh start after a 412 or a failure, with
 * backoff. While `live`, NOTIFYs arrive through the shared callback server
 * and reach the session as partial states. All timers run on the session's
 * clock. See docs/architecture.md (WiiM events).
 */

import type { Clock, ClockTimer } from '../shared/clock';
import type { Lease } from '../shared/shared-resource';
import {
  fetchDescription,
  parseNotify,
  renew,
  renewAfterS,
  subscribe,
  SubscribeError,
  unsubscribe,
  type ParsedEvent,
  type ServiceName,
  type UpnpService,
} from '../wiim/upnp';
import { type WiimStatePatch } from '../wiim/state';
import {
  acquireCallbackServer,
  CALLBACK_PATH,
  callbackPorts,
  DEFAULT_CALLBACK_PORT,
  MAX_SEQ,
  type CallbackServer,
  type ListenAt,
  type NotifyTarget,
} from './upnp-callback';

export interface WiimEventsOptions {
  descriptionUrl: string;
  /** `host[:port]` to announce instead of the address the device connection uses; its address and port are listened on */
  callback?: string;
  /** the port listened on when `callback` names none (default DEFAULT_CALLBACK_PORT; 0: one the system picks) */
  callbackPort?: number;
  clock: Clock;
  timeoutMs: number;
  onState(state: WiimStatePatch, service: ServiceName): void;
  /** events started or stopped flowing */
  onLive(live: boolean): void;
  /** the group's members changed (RenderingControl `Slave` add/rm): the follower list should be read again */
  onSlaves?(changes: Array<{ action: string; value: string }>): void;
  /** a NOTIFY went missing (a gap in SEQ): the state should be read in full */
  onGap?(): void;
  /** a line for the log, at most once per cause */
  log?(message: string): void;
  /** a line for the debug log: a NOTIFY or a value in it that was not taken */
  debug?(message: string): void;
}

/** First and largest wait before trying events again after a failure. */
const RETRY_MIN_MS = 30_000;
const RETRY_MAX_MS = 600_000;

/**
 * One live subscription, and the target the callback server hands its
 * NOTIFYs to: one object instead of a `deliver` closure, its context, a
 * target object and a record per subscription (a WiiM has three; part 8's
 * memory in bench/README.md).
 */
class Subscription implements NotifyTarget {
  /** the SEQ of the last NOTIFY taken; undefined before the initial event */
  last: number | undefined = undefined;

  constructor(
    readonly events: WiimEvents,
    /** the attempt (WiimEvents' generation) that made it */
    readonly gen: number,
    readonly service: UpnpService,
    readonly sid: string,
    /** the device's address: NOTIFYs from anywhere else are refused */
    readonly address: string,
    /** seconds granted by the last SUBSCRIBE or renewal */
    public granted: number,
  ) {}

  deliver(seq: number, body: string): void {
    this.events.notified(this, seq, body);
  }
}

/** `host[:port]` → its parts (port undefined when not given); undefined for an empty or unusable setting. */
export function parseCallbackSetting(value: string | undefined): { host: string; port: number | undefined } | undefined {
  const v = (value ?? '').trim();
  if (v === '') return undefined;
  const m = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/i.exec(v) ?? /^([^:\s/]+)(?::(\d{1,5}))?$/.exec(v);
  if (!m) return undefined;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && port > 65535) return undefined;
  return { host: m[1], port };
}

/**
 * Where the callback server listens: the setting's host (its address), or
 * else the local address of the connection that reached the device, never
 * every interface. A setting's host that is not an address of this machine
 * (NAT, Docker's published port) falls back to that local address. The
 * setting's port is taken as it is; without one, the default port and its
 * fallbacks.
 */
export function listenCandidates(setting: { host: string; port: number | undefined } | undefined, local: string, defaultPort: number): ListenAt[] {
  const hosts = [...new Set([setting?.host ?? local, local])];
  const ports = setting?.port !== undefined ? [setting.port] : callbackPorts(defaultPort, true);
  return hosts.flatMap((host) => ports.map((port) => ({ host, port })));
}

/**
 * Whether `seq` comes after `last` for one SID: SEQ counts up by one per
 * NOTIFY and wraps from 4294967295 to 1 (UDA 1.1, 4.3.2), so a number far
 * below the last (more than half the range) is one after a wrap, and one at
 * or just below it is a replay.
 */
export function seqAfter(seq: number, last: number | undefined): boolean {
  if (last === undefined) return true;
  const half = 2 ** 31;
  return seq > last ? seq - last < half : seq !== 0 && last - seq > half;
}

export class WiimEvents {
  private subs: Subscription[] = [];
  /**
   * One renewal timer per device, due at the earliest renewal of its
   * subscriptions, rather than one per subscription: a Timeout and a closure
   * (made anew at every renewal) per subscription were most of what events
   * cost the heap per device.
   */
  private renewTimer: ClockTimer | undefined;
  private lease: Lease<CallbackServer> | undefined;
  private retryTimer: ClockTimer | undefined;
  private failures = 0;
  private running = false;
  /** bumped on every (re)start, so that the work of an older attempt stops where it is */
  private generation = 0;
  private isLive = false;
  private readonly logged = new Set<string>();
  /** the callback URL the last subscriptions announced (tests and the editor read it) */
  callbackUrl: string | undefined;
  /** NOTIFYs received and read, and refused by the parser */
  received = 0;
  unreadable = 0;

  constructor(private readonly options: WiimEventsOptions) {}

  get live(): boolean {
    return this.isLive;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  /** Cancels every subscription, stops the timers and gives the callback server back. */
  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    this.options.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.teardown();
  }

  /** Events seem to have stopped (a poll found a change no event reported): subscribe afresh. */
  resubscribe(reason: string): void {
    if (!this.running) return;
    this.logOnce(`resubscribe:${reason}`, `UPnP events: ${reason}; subscribing again`);
    void this.teardown().then(() => this.connect());
  }

  private logOnce(key: string, message: string): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.options.log?.(message);
  }

  private setLive(live: boolean): void {
    if (live === this.isLive) return;
    this.isLive = live;
    this.options.onLive(live);
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    const o = this.options;
    // what this attempt made; handed over only if no stop or newer attempt came in between
    const made: { subs: Subscription[]; lease: Lease<CallbackServer> | undefined } = { subs: [], lease: undefined };
    const stale = () => gen !== this.generation || !this.running;
    try {
      const desc = await fetchDescription(o.descriptionUrl, o.timeoutMs);
      if (stale()) return;
      const services = desc.services;
      if (!services.some((s) => s.name === 'avTransport' || s.name === 'renderingControl'))
        throw new Error('the description lists no AVTransport or RenderingControl');
      const override = parseCallbackSetting(o.callback);
      // the address of our side of the connection that reached the device: right on a host with several cards
      const local = desc.localAddress?.replace(/^::ffff:/i, '');
      if (!local) throw new Error('no local address for the callback');
      const defaultPort = o.callbackPort ?? DEFAULT_CALLBACK_PORT;
      made.lease = acquireCallbackServer(listenCandidates(override, local, defaultPort));
      const server = made.lease.value;
      await server.ready;
      if (stale()) return this.discard(made);
      // a firewall rule was written for the default port: say where the events go instead
      if (override?.port === undefined && defaultPort !== 0 && server.port !== defaultPort)
        this.logOnce(`port:${server.port}`, `UPnP events: port ${defaultPort} is taken, listening on ${server.port}`);
      const host = override?.host ?? local;
      const callbackUrl = `http://${host.includes(':') ? `[${host}]` : host}:${server.port}${CALLBACK_PATH}`;
      const device = desc.remoteAddress ?? new URL(o.descriptionUrl).hostname;
      for (const service of services) {
        const reply = await subscribe(service.eventSubURL, callbackUrl, o.timeoutMs);
        const sub = new Subscription(this, gen, service, reply.sid, device, reply.timeoutS);
        made.subs.push(sub);
        server.add(sub.sid, sub);
        if (stale()) return this.discard(made);
      }
      this.subs = made.subs;
      this.lease = made.lease;
      this.callbackUrl = callbackUrl;
      this.scheduleRenew();
      this.failures = 0;
      this.setLive(true);
    } catch (err) {
      await this.discard(made);
      if (stale()) return;
      this.logOnce(`fail:${(err as Error).message}`, `UPnP events unavailable, polling instead: ${(err as Error).message}`);
      await this.fallBack(gen);
    }
  }

  /** Gives back what an attempt made that is no longer wanted. */
  private async discard(made: { subs: Subscription[]; lease: Lease<CallbackServer> | undefined }): Promise<void> {
    await this.cancel(made.subs, made.lease);
  }

  /**
   * @internal A NOTIFY for `sub` that the callback server took. SEQ is
   * checked here: a replayed or reordered NOTIFY is older than what the
   * session has; one that skips a number means one went missing.
   */
  notified(sub: Subscription, seq: number, body: string): void {
    const last = sub.last;
    if (!seqAfter(seq, last)) {
      this.options.debug?.(`UPnP events: NOTIFY ${sub.service.name} SEQ ${seq} ignored, not after ${last}`);
      return;
    }
    // SEQ is 0 for the initial event, then +1, wrapping from 4294967295 to 1 (UDA 1.1, 4.3.2)
    const expected = last === undefined ? 0 : last >= MAX_SEQ ? 1 : last + 1;
    if (seq !== 0 && seq !== expected && sub.gen === this.generation) this.options.onGap?.();
    sub.last = seq;
    this.deliver(sub.gen, sub.service.name, body);
  }

  private deliver(gen: number, service: ServiceName, body: string): void {
    if (gen !== this.generation) return;
    let event: ParsedEvent;
    try {
      event = parseNotify(service, body);
    } catch {
      this.unreadable++;
      return;
    }
    this.received++;
    for (const d of event.dropped) this.options.debug?.(`UPnP events: ${service} ${d} dropped`);
    if (Object.keys(event.state).length > 0) this.options.onState(event.state, service);
    if (event.extras.slaves) this.options.onSlaves?.(event.extras.slaves);
  }

  /** The device's renewal timer, at the earliest renewal its subscriptions need. */
  private scheduleRenew(): void {
    this.options.clock.clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    if (this.subs.length === 0) return;
    let afterS = Infinity;
    for (const s of this.subs) afterS = Math.min(afterS, renewAfterS(s.granted));
    this.renewTimer = this.options.clock.setTimeout(this.renewDue, afterS * 1000);
  }

  /** The renewal timer's callback: made once per device, not at each scheduling. */
  private readonly renewDue = (): void => {
    this.renewTimer = undefined;
    void this.renewAll();
  };

  /** Renews every subscription at once, then sets the timer again while they are still the live ones. */
  private async renewAll(): Promise<void> {
    const subs = this.subs;
    const gen = this.generation;
    await Promise.all(subs.map((s) => this.renewOne(s, subs)));
    if (gen === this.generation && subs === this.subs) this.scheduleRenew();
  }

  /** One renewal; `subs` is the set it belongs to: once that is no longer live (a restart), the outcome is of no consequence. */
  private async renewOne(sub: Subscription, subs: Subscription[]): Promise<void> {
    const current = () => sub.gen === this.generation && subs === this.subs;
    try {
      const reply = await renew(sub.service.eventSubURL, sub.sid, this.options.timeoutMs);
      if (current()) sub.granted = reply.timeoutS;
    } catch (err) {
      if (!current()) return;
      // 412: the device forgot us (a reboot): subscribe afresh at once; anything else: back to polling for a while
      if (err instanceof SubscribeError && err.status === 412) void this.teardown().then(() => this.connect());
      else void this.fallBack(sub.gen);
    }
  }

  private async fallBack(gen: number): Promise<void> {
    this.setLive(false);
    await this.teardown();
    if (gen !== this.generation || !this.running) return;
    this.failures++;
    const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.failures - 1, 10));
    this.options.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.options.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.running) void this.connect();
    }, wait);
  }

  /** Cancels the subscriptions (best effort: they expire anyway) and releases the server. */
  private async teardown(): Promise<void> {
    const subs = this.subs;
    const lease = this.lease;
    this.subs = [];
    this.lease = undefined;
    this.options.clock.clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    if (!this.running) this.setLive(false);
    await this.cancel(subs, lease);
  }

  private async cancel(subs: Subscription[], lease: Lease<CallbackServer> | undefined): Promise<void> {
    for (const s of subs) lease?.value.remove(s.sid);
    await Promise.all(subs.map((s) => unsubscribe(s.service.eventSubURL, s.sid, this.options.timeoutMs).catch(() => undefined)));
    lease?.release();
  }
}
