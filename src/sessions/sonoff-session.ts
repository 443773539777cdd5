import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { DeviceError } from '../shared/errors';
import type { DiscoveredService } from '../shared/mdns';
import {
  SeqTracker,
  checkOutlet,
  checkPulseWidth,
  checkStartup,
  cloneState,
  encodePulse,
  encodePulses,
  encodeStartup,
  encodeStartups,
  encodeSwitch,
  encodeSwitches,
  encodeWifi,
  encodeOtaFlash,
  mergeState,
  parseTxtState,
  sameOutlet,
  type Family,
  type OnOff,
  type OutletState,
  type SonoffReply,
  type SonoffRequest,
  type SonoffState,
  type StartupValue,
} from '../sonoff/codec';
import { DEFAULT_SONOFF_PORT, DEFAULT_TIMEOUT_MS, SonoffClient } from '../sonoff/client';
import { FirmwareServer, checkImage, sha256 } from '../sonoff/ota';
import { acquireSonoffWatcher, deviceidOf, type WatcherLease } from '../sonoff/discovery';
import { DeviceSession, openSession, type SessionEvents } from './device-session';
import type { PollGate } from './poll-gate';

export type StateSource = 'command' | 'push' | 'poll';
export type SonoffModel = 'auto' | 'single' | 'multi';

export interface SonoffSessionOptions {
  deviceid: string;
  /** empty: the address comes from mDNS (and follows it) */
  host?: string;
  /** only for a static host; with mDNS the record's port is used */
  port?: number;
  model?: SonoffModel;
  /** seconds between `info` polls; 0 = off */
  pollInterval?: number;
  timeoutMs?: number;
  offlineAfter?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  pollGate?: PollGate;
  name?: string;
}

/** One outlet's change, as the session reports it to nodes. */
export interface OutletChange {
  outlet: number;
  state: OutletState;
  device: SonoffState;
  source: StateSource;
  seq?: number;
  /** the first state known of the device: a baseline for status, not a change to report */
  initial?: boolean;
}

/** What a command resolves with: the confirmed state of the outlet it touched. */
export interface OutletSnapshot {
  outlet: OutletState;
  device: SonoffState;
  source: StateSource;
  seq?: number;
}

export interface SonoffSessionEvents extends SessionEvents {
  state: [OutletChange];
  address: [{ host: string; port: number }];
}

export interface PulseRequest {
  pulse: boolean;
  width?: number;
  /** multi-channel: state after the pulse */
  switch?: OnOff;
}

/**
 * One SONOFF DIY relay: the request queue (200 ms apart; a newer switch
 * command for an outlet replaces a waiting older one and every caller gets
 * the confirmed state), state from mDNS pushes, `info` polls and commands,
 * the address from mDNS when no host is configured, and online/offline.
 */
export class SonoffSession extends DeviceSession<SonoffSessionEvents> {
  readonly deviceid: string;
  readonly model: SonoffModel;
  readonly pollIntervalMs: number;
  readonly staticHost: boolean;
  readonly client: SonoffClient;
  private readonly name: string | undefined;
  private readonly timeoutMs: number;
  private current: SonoffState | undefined;
  private lastSeq: number | undefined;
  private readonly seq = new SeqTracker();
  private lease: WatcherLease | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private running = false;
  private addressKnown: boolean;
  private familyRead: Promise<SonoffState> | undefined;
  private pending: SonoffState | undefined;
  private readonly addressWaiters = new Set<(err?: DeviceError) => void>();
  /** firmware servers of flashes under way, closed with the session */
  private readonly firmwareServers = new Set<FirmwareServer>();
  private readonly onUp = (s: DiscoveredService) => this.onService(s);
  private readonly onUpdate = (s: DiscoveredService) => this.onService(s);
  private readonly onDown = (s: DiscoveredService) => this.onWithdrawn(s);

  constructor(options: SonoffSessionOptions) {
    super({
      minGapMs: 200,
      offlineAfter: options.offlineAfter ?? 3,
      backoffMinMs: options.backoffMinMs ?? 1000,
      backoffMaxMs: options.backoffMaxMs ?? 30000,
      pollGate: options.pollGate,
    });
    if (!options.deviceid && !options.host) throw new DeviceError('argument', 'a SONOFF device needs a deviceid (for mDNS) or a host');
    this.deviceid = options.deviceid;
    this.model = options.model ?? 'auto';
    this.name = options.name;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.staticHost = !!options.host;
    this.addressKnown = this.staticHost;
    this.pollIntervalMs = Math.max(0, (options.pollInterval ?? 0) * 1000);
    this.client = new SonoffClient({
      host: options.host ?? '',
      port: this.staticHost ? (options.port ?? DEFAULT_SONOFF_PORT) : DEFAULT_SONOFF_PORT,
      deviceid: this.deviceid,
      timeoutMs: this.timeoutMs,
    });
    (this as DeviceSession).on('health', (h) => {
      if (h === 'offline') {
        // DESIGN: a device that was offline starts its seq afresh
        this.seq.markRestart();
        this.scheduleProbe();
      }
    });
  }

  // ------------------------------------------------------------ read-outs

  /** The last known state (a copy), or undefined before the first reply or record. */
  get state(): SonoffState | undefined {
    return this.current ? cloneState(this.current) : undefined;
  }

  get family(): Family | undefined {
    return this.model === 'auto' ? this.current?.family : this.model;
  }

  get address(): { host: string; port: number } | undefined {
    return this.addressKnown ? this.client.address : undefined;
  }

  get seqNumber(): number | undefined {
    return this.lastSeq;
  }

  outletState(outlet: number): OutletState | undefined {
    const o = this.current?.outlets.find((x) => x.outlet === outlet);
    return o ? { ...o } : undefined;
  }

  // ------------------------------------------------------------ commands

  /**
   * The device family, read from the device when still unknown; an outlet no
   * family has (7, -1, "x") is refused before that read goes out.
   */
  private familyFor(outlet: number): Promise<Family> {
    if (this.family === undefined) checkOutlet(outlet, 'multi');
    return this.ensureFamily();
  }

  async setSwitch(outlet: number, on: boolean): Promise<OutletSnapshot> {
    const family = await this.familyFor(outlet);
    const o = checkOutlet(outlet, family);
    const req = family === 'single' ? encodeSwitch(on) : encodeSwitches([{ outlet: o, on }]);
    return this.command(req, { outlets: [{ outlet: o, on }] }, o, `switch:${o}`);
  }

  /** Flips the outlet, from the state known when the command goes out. */
  async toggle(outlet: number): Promise<OutletSnapshot> {
    const family = await this.familyFor(outlet);
    const o = checkOutlet(outlet, family);
    if (this.outletState(o)?.on === undefined) await this.readState('poll');
    await this.ready();
    return this.send(async () => {
      const on = !this.outletState(o)?.on;
      const change: SonoffState = { outlets: [{ outlet: o, on }] };
      return this.inFlight(change, async () =>
        this.confirm(await this.client.request(family === 'single' ? encodeSwitch(on) : encodeSwitches([{ outlet: o, on }])), change, o),
      );
    });
  }

  async setStartup(outlet: number, value: unknown): Promise<OutletSnapshot> {
    const startup: StartupValue = checkStartup(value);
    const family = await this.familyFor(outlet);
    const o = checkOutlet(outlet, family);
    const req = family === 'single' ? encodeStartup(startup) : encodeStartups([{ outlet: o, startup }]);
    return this.command(req, { outlets: [{ outlet: o, startup }] }, o, `startup:${o}`);
  }

  async setPulse(outlet: number, setting: PulseRequest): Promise<OutletSnapshot> {
    // family unknown: a width no relay takes is refused before the family is read
    if (setting.width !== undefined && this.family === undefined) checkPulseWidth(setting.width, 'single');
    const family = await this.familyFor(outlet);
    const o = checkOutlet(outlet, family);
    let width = setting.width;
    if (width === undefined) width = this.outletState(o)?.pulseWidth;
    if (setting.pulse && width === undefined) throw new DeviceError('argument', 'enabling inching needs a width in ms');
    if (width !== undefined) width = checkPulseWidth(width, family);
    const pulse = setting.pulse;
    let req: SonoffRequest;
    const change: OutletState = { outlet: o, pulse: setting.pulse };
    if (width !== undefined) change.pulseWidth = width;
    if (family === 'single') {
      req = encodePulse({ pulse, width });
    } else {
      const sw = setting.switch ?? this.outletState(o)?.pulseSwitch ?? 'off';
      req = encodePulses([{ outlet: o, pulse, width: width ?? 500, switch: sw }]);
      change.pulseSwitch = sw;
      if (change.pulseWidth === undefined) change.pulseWidth = 500;
    }
    return this.command(req, { outlets: [change] }, o, `pulse:${o}`);
  }

  /** Reads `info` and updates the state; `source` is what the change events carry. Resolves with a copy of the state. */
  async readState(source: StateSource = 'poll', probe = false): Promise<SonoffState> {
    await this.readInfo(source, probe);
    return this.state as SonoffState;
  }

  /** readState without the copy, for the polls and probes that only update the state. */
  private async readInfo(source: StateSource, probe: boolean): Promise<void> {
    await this.ready();
    return this.send(
      async () => {
        const { reply, state } = await this.client.info();
        this.seq.observe(reply.seq);
        this.applyState(state, source, reply.seq);
      },
      { probe },
    );
  }

  async signalStrength(): Promise<number> {
    await this.ready();
    return this.send(async () => {
      const rssi = await this.client.signalStrength();
      this.applyState({ outlets: [], rssi }, 'command');
      return rssi;
    });
  }

  /** Sets the Wi-Fi network; the password never appears in errors or logs. */
  async setWifi(ssid: unknown, password: unknown): Promise<true> {
    const req = encodeWifi(ssid as string, password as string); // typed at the node edge (src/nodes/sonoff-values.ts)
    await this.ready();
    return this.send(async () => {
      await this.client.request(req);
      return true as const;
    });
  }

  async otaUnlock(): Promise<SonoffReply> {
    await this.ready();
    return this.send(() => this.client.otaUnlock());
  }

  async otaFlash(downloadUrl: string, sha256: string, timeoutMs?: number): Promise<SonoffReply> {
    const req = encodeOtaFlash(downloadUrl, sha256);
    await this.ready();
    return this.send(() => this.client.request(req, timeoutMs ?? 120_000));
  }

  /**
   * Flashes a local image: checks it (size, header, DOUT, the expected
   * SHA-256 if given), serves it once to the relay's address only, and runs
   * info → ota_unlock → ota_flash. `onProgress` gets the percentage served.
   */
  async flashImage(image: Buffer, options: { expectedSha256?: string; onProgress?: (percent: number) => void } = {}): Promise<FlashResult> {
    checkImage(image);
    const digest = sha256(image);
    const expected = options.expectedSha256?.toLowerCase();
    if (expected && expected !== digest) throw new DeviceError('argument', `the image's SHA-256 ${digest} does not match the sha256 setting ${expected}`);
    const address = await this.deviceAddress();
    let lastPercent = -1;
    const server = new FirmwareServer({
      image,
      allow: address,
      onProgress: (bytes, total) => {
        const percent = Math.min(100, Math.floor((bytes * 100) / total));
        if (percent === lastPercent) return;
        lastPercent = percent;
        options.onProgress?.(percent);
      },
    });
    this.firmwareServers.add(server);
    try {
      const url = await server.start();
      await this.otaUnlock();
      await this.otaFlash(url, digest);
    } finally {
      this.firmwareServers.delete(server);
      await server.close();
    }
    return this.flashed({ status: 'done', bytes: image.length, sha256: digest });
  }

  /** Flashes an image from the user's own HTTP server: info → ota_unlock → ota_flash. */
  async flashUrl(url: string, digest: string): Promise<FlashResult> {
    // refuse a bad URL or hash before the relay is unlocked for a flash that cannot happen
    const req = encodeOtaFlash(url, digest);
    await this.readState('poll');
    await this.otaUnlock();
    await this.otaFlash(String(url), String(digest));
    return this.flashed({ status: 'done', bytes: null, sha256: String((req.data as { sha256sum: string }).sha256sum) });
  }

  /** The new firmware version, if the relay answers before it restarts. */
  private async flashed(result: FlashResult): Promise<FlashResult> {
    const fw = await this.readState('poll').then(
      (s) => s.fwVersion,
      () => undefined,
    );
    if (fw) result.fwVersion = fw;
    return result;
  }

  /** The relay's IPv4 address (the firmware server admits it alone); `info` first proves it answers. */
  private async deviceAddress(): Promise<string> {
    await this.readState('poll');
    const host = this.address?.host;
    if (!host) throw new DeviceError('offline', 'the device address is not known');
    if (isIP(host)) return host;
    return (await lookup(host, { family: 4 })).address;
  }

  // ------------------------------------------------------------ internals

  protected describe(): string {
    return this.name ? `${this.name} (SONOFF ${this.deviceid || this.client.address.host})` : `SONOFF ${this.deviceid || this.client.address.host}`;
  }

  protected start(): void {
    this.running = true;
    if (!this.staticHost) {
      this.lease = acquireSonoffWatcher();
      const w = this.lease.watcher;
      w.on('up', this.onUp);
      w.on('update', this.onUpdate);
      w.on('down', this.onDown);
      for (const s of w.services) this.onService(s);
      w.query();
    } else {
      // a first read: the state, the family, and whether the device is there
      this.readInfo('poll', true)
        .catch(() => undefined)
        .finally(() => this.idleFor(this.pollIntervalMs || Infinity));
    }
    this.schedulePoll();
  }

  protected stop(): void {
    this.running = false;
    for (const finish of [...this.addressWaiters]) finish(new DeviceError('closed', `${this.describe()}: the session stopped before mDNS found the device`));
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.pollTimer = undefined;
    this.probeTimer = undefined;
    if (this.lease) {
      const w = this.lease.watcher;
      w.removeListener('up', this.onUp);
      w.removeListener('update', this.onUpdate);
      w.removeListener('down', this.onDown);
      this.lease.release();
      this.lease = undefined;
    }
  }

  protected releaseConnection(): void {
    this.client.release();
  }

  protected async dispose(): Promise<void> {
    await Promise.all([...this.firmwareServers].map((f) => f.close()));
    await this.client.close();
  }

  private schedulePoll(): void {
    if (!this.running || this.pollIntervalMs <= 0 || this.isClosed) return;
    this.idleFor(this.pollIntervalMs);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      // while offline the probe loop reads instead
      if (this.health === 'offline' || !this.addressKnown) {
        this.schedulePoll();
        return;
      }
      this.regularPoll(() => this.readInfo('poll', true))
        .catch(() => undefined)
        .finally(() => this.schedulePoll());
    }, this.pollDelay(this.pollIntervalMs));
  }

  private scheduleProbe(): void {
    if (!this.running || this.isClosed || this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.health !== 'offline' || !this.running) return;
      this.lease?.watcher.query();
      if (!this.addressKnown) {
        this.scheduleProbe();
        return;
      }
      this.readInfo('poll', true).catch(() => this.scheduleProbe());
    }, this.retryDelay());
  }

  /** The family to encode with: fixed by the model, else learned from the device. */
  private ensureFamily(): Promise<Family> {
    const known = this.family;
    if (known) return Promise.resolve(known);
    // concurrent commands share one info read
    this.familyRead ??= this.readState('poll').finally(() => {
      this.familyRead = undefined;
    });
    return this.familyRead.then(() => {
      const learned = this.family;
      if (!learned) throw new DeviceError('protocol', `${this.describe()} reported no switch state; set the model to single or multi`);
      return learned;
    });
  }

  /** Waits for the mDNS address when there is no static host. */
  private ready(): Promise<void> {
    if (this.addressKnown) return Promise.resolve();
    if (this.isClosed) return Promise.reject(new DeviceError('closed', 'the device session is closed'));
    return new Promise((resolve, reject) => {
      const self = this as DeviceSession<SonoffSessionEvents>;
      const finish = (err?: DeviceError) => {
        clearTimeout(timer);
        self.removeListener('address', onAddress);
        this.addressWaiters.delete(finish);
        if (err) reject(err);
        else resolve();
      };
      const onAddress = () => finish();
      const timer = setTimeout(
        () => finish(new DeviceError('offline', `${this.describe()} was not found by mDNS within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      this.addressWaiters.add(finish);
      self.on('address', onAddress);
      this.lease?.watcher.query();
    });
  }

  private async command(req: SonoffRequest, change: SonoffState, outlet: number, key: string): Promise<OutletSnapshot> {
    await this.ready();
    return this.send(() => this.inFlight(change, async () => this.confirm(await this.client.request(req), change, outlet)), { key });
  }

  /**
   * The device multicasts its new TXT record about when it replies, often
   * first: a pushed change that matches the command in flight is that
   * command's echo, reported with source 'command'.
   */
  private async inFlight<T>(change: SonoffState, task: () => Promise<T>): Promise<T> {
    this.pending = change;
    try {
      return await task();
    } finally {
      this.pending = undefined;
    }
  }

  private isEcho(after: OutletState): boolean {
    const expected = this.pending?.outlets.find((o) => o.outlet === after.outlet);
    if (!expected) return false;
    return (Object.keys(expected) as Array<keyof OutletState>).every((k) => expected[k] === undefined || expected[k] === after[k]);
  }

  private confirm(reply: SonoffReply, change: SonoffState, outlet: number): OutletSnapshot {
    this.seq.observe(reply.seq);
    this.applyState(change, 'command', reply.seq);
    return this.snapshot(outlet, 'command');
  }

  private snapshot(outlet: number, source: StateSource): OutletSnapshot {
    const snap: OutletSnapshot = { outlet: this.outletState(outlet) ?? { outlet }, device: this.state ?? { outlets: [] }, source };
    if (this.lastSeq !== undefined) snap.seq = this.lastSeq;
    return snap;
  }

  /** Merges a (partial) state and emits one 'state' event per outlet that changed. */
  private applyState(next: SonoffState, source: StateSource, seq?: number): void {
    if (this.isClosed) return;
    if (seq !== undefined) this.lastSeq = seq;
    const prev = this.current;
    const merged = mergeState(prev, next);
    if (!merged.family && this.model !== 'auto') merged.family = this.model;
    this.current = merged;
    for (const o of next.outlets) {
      const before = prev?.outlets.find((x) => x.outlet === o.outlet);
      const after = merged.outlets.find((x) => x.outlet === o.outlet) as OutletState;
      if (sameOutlet(before, after)) continue;
      const change: OutletChange = {
        outlet: o.outlet,
        state: { ...after },
        device: cloneState(merged),
        source: source !== 'command' && this.isEcho(after) ? 'command' : source,
      };
      if (this.lastSeq !== undefined) change.seq = this.lastSeq;
      if (!prev) change.initial = true;
      (this as DeviceSession<SonoffSessionEvents>).emit('state', change);
    }
  }

  private isMine(s: DiscoveredService): boolean {
    return deviceidOf(s) === this.deviceid;
  }

  private onService(s: DiscoveredService): void {
    if (this.isClosed || !this.isMine(s)) return;
    const host = s.address ?? s.host;
    if (host && s.port !== undefined) {
      const cur = this.client.address;
      if (!this.addressKnown || cur.host !== host || cur.port !== s.port) {
        this.client.setAddress(host, s.port);
        this.addressKnown = true;
        (this as DeviceSession<SonoffSessionEvents>).emit('address', { host, port: s.port });
      }
    }
    const t = parseTxtState(s.txt);
    const verdict = this.seq.check(t.seq);
    if (verdict !== 'stale' && t.state) this.applyState(t.state, 'push', t.seq);
    this.noteSuccess();
  }

  private onWithdrawn(s: DiscoveredService): void {
    if (this.isClosed || !this.isMine(s)) return;
    this.seq.markRestart();
    this.markOffline(new DeviceError('offline', `${this.describe()} withdrew its mDNS record`));
  }
}

// ------------------------------------------------------------ registry

/** The session of sonoff-config `id` in one runtime (see openSession). */
/** The one output of sonoff-ota. */
export interface FlashResult {
  status: 'done';
  /** null for {url, sha256}: the image never passes through us */
  bytes: number | null;
  sha256: string;
  fwVersion?: string;
}

export function openSonoffSession(runtime: object, id: string, options: SonoffSessionOptions): SonoffSession {
  return openSession(runtime, id, () => new SonoffSession(options));
}
