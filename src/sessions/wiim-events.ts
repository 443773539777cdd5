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
import { acquireCallbackServer, CALLBACK_PATH, callbackPorts, DEFAULT_CALLBACK_PORT, MAX_SEQ, type CallbackServer, type ListenAt } from './upnp-callback';

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

interface Live {
  service: UpnpService;
  sid: string;
  timer: ClockTimer | undefined;
  /** seconds granted by the last SUBSCRIBE */
  granted: number;
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
  private subs: Live[] = [];
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
    const made: { subs: Live[]; lease: Lease<CallbackServer> | undefined } = { subs: [], lease: undefined };
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
        const sub = await subscribe(service.eventSubURL, callbackUrl, o.timeoutMs);
        made.subs.push({ service, sid: sub.sid, timer: undefined, granted: sub.timeoutS });
        let last: number | undefined;
        server.add(sub.sid, {
          address: device,
          deliver: (seq, body) => {
            // a replayed or reordered NOTIFY is older than what the session has
            if (!seqAfter(seq, last)) {
              this.options.debug?.(`UPnP events: NOTIFY ${service.name} SEQ ${seq} ignored, not after ${last}`);
              return;
            }
            // SEQ is 0 for the initial event, then +1, wrapping from 4294967295 to 1 (UDA 1.1, 4.3.2)
            const expected = last === undefined ? 0 : last >= MAX_SEQ ? 1 : last + 1;
            if (seq !== 0 && seq !== expected && gen === this.generation) this.options.onGap?.();
            last = seq;
            this.deliver(gen, service.name, body);
          },
        });
        if (stale()) return this.discard(made);
      }
      this.subs = made.subs;
      this.lease = made.lease;
      this.callbackUrl = callbackUrl;
      for (const live of made.subs) this.scheduleRenew(gen, live, live.granted);
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
  private async discard(made: { subs: Live[]; lease: Lease<CallbackServer> | undefined }): Promise<void> {
    await this.cancel(made.subs, made.lease);
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

  private scheduleRenew(gen: number, live: Live, grantedS: number): void {
    live.timer = this.options.clock.setTimeout(
      () => {
        live.timer = undefined;
        void renew(live.service.eventSubURL, live.sid, this.options.timeoutMs).then(
          (sub) => {
            if (gen === this.generation) this.scheduleRenew(gen, live, sub.timeoutS);
          },
          (err: unknown) => {
            if (gen !== this.generation) return;
            // 412: the device forgot us (a reboot): subscribe afresh at once; anything else: back to polling for a while
            if (err instanceof SubscribeError && err.status === 412) void this.teardown().then(() => this.connect());
            else void this.fallBack(gen);
          },
        );
      },
      renewAfterS(grantedS) * 1000,
    );
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
    if (!this.running) this.setLive(false);
    await this.cancel(subs, lease);
  }

  private async cancel(subs: Live[], lease: Lease<CallbackServer> | undefined): Promise<void> {
    for (const s of subs) {
      this.options.clock.clearTimeout(s.timer);
      lease?.value.remove(s.sid);
    }
    await Promise.all(subs.map((s) => unsubscribe(s.service.eventSubURL, s.sid, this.options.timeoutMs).catch(() => undefined)));
    lease?.release();
  }
}
