import type { ClockTimer } from '../shared/clock';
import { DeviceError } from '../shared/errors';
import { sameTxt, type DiscoveredService } from '../shared/mdns';
import {
  checkOutlet,
  checkPulseWidth,
  checkStartup,
  encodePulse,
  encodePulses,
  encodeStartup,
  encodeStartups,
  encodeSwitch,
  encodeSwitches,
  encodeWifi,
  encodeDimmable,
  encodeLed,
  encodeThSwitch,
  checkBrightness,
  type SonoffReply,
  type SonoffRequest,
} from '../sonoff/codec';
import {
  cloneState,
  READING_NAMES,
  readingsOfState,
  type DeviceKind,
  type MeterUnits,
  type MeterHint,
  type Readings,
  mergeState,
  changedFields,
  type Family,
  type OnOff,
  type OutletState,
  type SonoffState,
  type StartupValue,
} from '../sonoff/state';
import { SeqTracker, parseTxtState } from '../sonoff/txt';
import { DEFAULT_SONOFF_PORT, DEFAULT_TIMEOUT_MS, SonoffClient } from '../sonoff/client';
import { aesKey, WRONG_KEY_MESSAGE } from '../sonoff/crypto';
import { PushedDuringRead } from './pushed-during-read';
import { acquireSonoffWatcher, type SonoffRecordListener, type WatcherLease } from '../sonoff/discovery';
import { DeviceSession, type Health, type SessionEvents, type SessionOptions, type StateEvent, type StateSource } from './device-session';

export type { StateSource } from './device-session';
/** `powr2` and `powr3`: a meter whose units the user set (MeterUnits in src/sonoff/state.ts) */
export type SonoffModel = 'auto' | 'single' | 'multi' | 'dimmer' | 'meter' | 'powr2' | 'powr3' | 'th';

/** Nothing heard for this long: ping the device, so that one that died without a word goes offline. */
export const LIVENESS_MS = 60_000;
/** A meter that sent nothing for this long is asked to report again (SonoffLAN `update_local` resends `sledonline`). */
export const METER_QUIET_MS = 10_000;
/** Resends in a row without a reading in between; then the session waits for the device to speak first. */
export const METER_RESENDS_MAX = 3;
/** A regular poll due this soon may bring the meter's reading: the keep-alive waits for its answer. */
export const METER_POLL_WAIT_MS = 1000;

export interface SonoffSessionOptions extends SessionOptions {
  deviceid: string;
  /** empty: the address comes from mDNS (and follows it) */
  host?: string;
  /** only for a static host; with mDNS the record's port is used */
  port?: number;
  model?: SonoffModel;
  /** seconds between `info` polls; 0 = off */
  pollInterval?: number;
  timeoutMs?: number;
  name?: string;
  /** stock firmware in LAN mode: the device's key; requests, replies and TXT records are encrypted with it */
  devicekey?: string;
  /** a line for the debug log (an mDNS record that was not taken) */
  debug?: (message: string) => void;
}

/** One outlet as the session knows it: what commands and reads resolve with. */
export interface OutletSnapshot {
  outlet: number;
  state: OutletState;
  device: SonoffState;
  source: StateSource;
  seq?: number;
}

/** A SONOFF device's state event: the one shape of both families (`outlets.<n>.<field>` names an outlet's field). */
export type SonoffStateEvent = StateEvent<SonoffState>;

export interface SonoffSessionEvents extends SessionEvents {
  state: [SonoffStateEvent];
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
  /** @internal */
  readonly client: SonoffClient;
  private readonly name: string | undefined;
  private readonly timeoutMs: number;
  /** the AES key for TXT records, derived from the devicekey once */
  private readonly txtKey: Buffer | undefined;
  private readonly debug: ((message: string) => void) | undefined;
  /** an encrypted record we could not read (no key, wrong key): the device is there but unusable */
  private keyProblem: DeviceError | undefined;
  private current: SonoffState | undefined;
  private lastSeq: number | undefined;
  private readonly seq = new SeqTracker();
  private lease: WatcherLease | undefined;
  private livenessTimer: ClockTimer | undefined;
  private meterTimer: ClockTimer | undefined;
  private lastHeard = Number.NEGATIVE_INFINITY;
  private lastReading = Number.NEGATIVE_INFINITY;
  private meterResends = 0;
  private running = false;
  private addressKnown: boolean;
  private familyRead: Promise<void> | undefined;
  private pending: SonoffState | undefined;
  /** the state object of the last read and the session's state right after it (see readInfo) */
  private lastRead: { state?: SonoffState; after?: SonoffState } = {};
  /** the records that arrive while an `info` read is out, laid over its reply */
  private readonly pushedDuringRead = new PushedDuringRead<SonoffState>(mergeState);
  /** the meter keep-alive is due again once the regular poll has its answer */
  private meterAfterPoll = false;
  /** commands waiting for the mDNS address; made when the first waits */
  private addressWaiters: Set<(err?: DeviceError) => void> | undefined;
  /** the last TXT record read: the same one again (an address change, a repeat) is not parsed or decrypted again */
  private lastTxt: Readonly<Record<string, string>> | undefined;

  constructor(options: SonoffSessionOptions) {
    super({ ...options, minGapMs: 200 });
    if (!options.deviceid && !options.host) throw new DeviceError('argument', 'a SONOFF device needs a deviceid (for mDNS) or a host');
    this.deviceid = options.deviceid;
    this.model = options.model ?? 'auto';
    this.name = options.name;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.txtKey = options.devicekey ? aesKey(options.devicekey) : undefined;
    this.debug = options.debug;
    this.staticHost = !!options.host;
    this.addressKnown = this.staticHost;
    this.pollIntervalMs = Math.max(0, (options.pollInterval ?? 0) * 1000);
    this.client = new SonoffClient({
      host: options.host ?? '',
      port: this.staticHost ? (options.port ?? DEFAULT_SONOFF_PORT) : DEFAULT_SONOFF_PORT,
      deviceid: this.deviceid,
      timeoutMs: this.timeoutMs,
      devicekey: options.devicekey,
    });
  }

  protected override healthChanged(health: Health): void {
    // a device that was offline starts its seq afresh (docs/architecture.md)
    if (health === 'offline') this.seq.markRestart();
  }

  // ------------------------------------------------------------ read-outs

  /** The last known state (a copy), or undefined before the first reply or record. */
  get state(): SonoffState | undefined {
    return this.current ? cloneState(this.current) : undefined;
  }

  /** The readings as last known (a new object, without copying the rest of the state). */
  get readings(): Readings {
    return this.current ? readingsOfState(this.current) : {};
  }

  /** The deviceid the device reported, else the configured one (without copying the state). */
  get reportedDeviceid(): string {
    return this.current?.deviceid ?? this.deviceid;
  }

  get family(): Family | undefined {
    if (this.model === 'single' || this.model === 'multi') return this.model;
    // the POWR3 family switches through `switches` (SonoffLAN uiid 190), the POWR2 through `switch`: both learned from the data
    return this.model === 'auto' || this.meterModel ? this.current?.family : 'single';
  }

  /** What the device is: forced by the model, else learned from its data; a relay until it says otherwise. */
  get kind(): DeviceKind {
    if (this.meterModel) return 'meter';
    if (this.model === 'dimmer' || this.model === 'meter' || this.model === 'th') return this.model;
    return this.current?.kind ?? 'relay';
  }

  /** Stock firmware in LAN mode: a devicekey is set, and requests, replies and records are encrypted. */
  get encrypted(): boolean {
    return this.txtKey !== undefined;
  }

  /** the meter family the model setting names, if it names one */
  private get meterModel(): MeterUnits | undefined {
    return this.model === 'powr2' || this.model === 'powr3' ? this.model : undefined;
  }

  /** How to read the meter's units: the model setting, else what the device showed before (its data, its TXT type). */
  private get meterHint(): MeterHint {
    return { set: this.meterModel, known: this.current?.meterUnits };
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

  /** The outlet as last known, with the device's state and seq: what a message answers with. */
  snapshot(outlet: number, source: StateSource): OutletSnapshot {
    const snap: OutletSnapshot = { outlet, state: this.outletState(outlet) ?? { outlet }, device: this.state ?? { outlets: [] }, source };
    if (this.lastSeq !== undefined) snap.seq = this.lastSeq;
    return snap;
  }

  // ------------------------------------------------------------ commands

  /**
   * The device family, read from the device when still unknown; an outlet no
   * family has (7, -1, 0.5) is refused before that read goes out.
   */
  private familyFor(outlet: number): Promise<Family> {
    if (this.family === undefined) checkOutlet(outlet, 'multi');
    return this.ensureFamily();
  }

  setSwitch(outlet: number, on: boolean, requester?: object): Promise<OutletSnapshot> {
    const send = (family: Family) => {
      const o = checkOutlet(outlet, family);
      return this.command(this.switchRequest(family, o, on), { outlets: [{ outlet: o, on }] }, o, { key: `switch:${o}`, requester });
    };
    // the family known (every command after the first): nothing to wait for before the request is queued
    try {
      return this.family ? send(this.family) : this.familyFor(outlet).then(send);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** D1: on at a brightness of 1..100; 0 turns it off (the `dimmable` request takes only "on"). */
  async setBrightness(brightness: number, requester?: object): Promise<OutletSnapshot> {
    if (brightness === 0) return this.setSwitch(0, false, requester);
    const b = checkBrightness(brightness);
    await this.familyFor(0);
    if (this.kind !== 'dimmer') throw new DeviceError('argument', `${this.describe()} is not a dimmer (it reports no brightness); set the model to dimmer`);
    return this.command(encodeDimmable(b), { outlets: [{ outlet: 0, on: true, brightness: b }] }, 0, { key: 'switch:0', requester });
  }

  /** The network LED; the answer is the device's state with `led`. */
  async setLed(on: boolean, requester?: object): Promise<OutletSnapshot> {
    await this.ready();
    return this.send(
      async () => {
        const reply = await this.client.request(encodeLed(on));
        return this.confirm(reply, { outlets: [], led: on }, 0);
      },
      { requester },
    );
  }

  /** Flips the outlet, from the state known when the command goes out. */
  async toggle(outlet: number, requester?: object): Promise<OutletSnapshot> {
    const family = await this.familyFor(outlet);
    const o = checkOutlet(outlet, family);
    if (this.outletState(o)?.on === undefined) await this.readInfo('poll', false);
    await this.ready();
    return this.send(
      async () => {
        const on = !this.outletState(o)?.on;
        const change: SonoffState = { outlets: [{ outlet: o, on }] };
        // computed from the state known now: never sent twice
        const req = { ...this.switchRequest(family, o, on), idempotent: false as const };
        return this.inFlight(change, async () => this.confirm(await this.client.request(req), change, o));
      },
      { requester },
    );
  }

  async setStartup(outlet: number, value: StartupValue, requester?: object): Promise<OutletSnapshot> {
    const startup = checkStartup(value);
    const family = await this.familyFor(outlet);
    const o = checkOutlet(outlet, family);
    // a multi-channel relay takes the whole `configure` list: the others go with their current values, so they are kept (SonoffLAN select.py)
    const others = (this.current?.outlets ?? []).filter((x) => x.outlet !== o && x.startup !== undefined);
    const items = [...others.map((x) => ({ outlet: x.outlet, startup: x.startup as StartupValue })), { outlet: o, startup }].sort(
      (a, b) => a.outlet - b.outlet,
    );
    const req = family === 'single' ? encodeStartup(startup) : encodeStartups(items);
    return this.command(req, { outlets: [{ outlet: o, startup }] }, o, { key: `startup:${o}`, requester });
  }

  async setPulse(outlet: number, request: PulseRequest, requester?: object): Promise<OutletSnapshot> {
    // family unknown: a width no relay takes is refused before the family is read
    if (request.width !== undefined && this.family === undefined) checkPulseWidth(request.width, 'single');
    const family = await this.familyFor(outlet);
    const o = checkOutlet(outlet, family);
    let width = request.width;
    if (width === undefined) width = this.outletState(o)?.pulseWidth;
    if (request.pulse && width === undefined) throw new DeviceError('argument', 'enabling inching needs a width in ms');
    if (width !== undefined) width = checkPulseWidth(width, family);
    const pulse = request.pulse;
    let req: SonoffRequest;
    const change: OutletState = { outlet: o, pulse: request.pulse };
    if (width !== undefined) change.pulseWidth = width;
    if (family === 'single') {
      req = encodePulse({ pulse, width: pulse ? width : undefined });
    } else {
      const sw = request.switch ?? this.outletState(o)?.pulseSwitch ?? 'off';
      req = encodePulses([{ outlet: o, pulse, width: pulse ? width : undefined, switch: sw }]);
      change.pulseSwitch = sw;
    }
    return this.command(req, { outlets: [change] }, o, { key: `pulse:${o}`, requester });
  }

  /**
   * A read on demand (both families call it refresh): reads the device now
   * because a message asked, updates the state (source `refresh`) and
   * resolves with a copy of it.
   */
  async refresh(requester?: object): Promise<SonoffState> {
    await this.readInfo('refresh', false, requester);
    return cloneState(this.current ?? { outlets: [] });
  }

  /** One `info` read; `probe` reads go out even while the device is offline. */
  private readInfo(source: 'refresh' | 'poll', probe: boolean, requester?: object): Promise<void> {
    // a chain rather than async frames: this runs on every poll
    const read = () =>
      this.send(
        () => {
          this.pushedDuringRead.start();
          return this.client.readState(this.meterHint).then(
            ({ reply, state }) => this.applyRead(state, source, reply.seq),
            (err: unknown) => {
              this.pushedDuringRead.stop();
              throw err;
            },
          );
        },
        { probe, requester },
      );
    return this.addressKnown ? read() : this.ready().then(read);
  }

  private applyRead(reply: SonoffState, source: 'refresh' | 'poll', seq: number | undefined): void {
    const state = this.pushedDuringRead.finish(reply);
    // an HTTP reply's seq does not feed the mDNS tracker: the documents do not say the counters are one (see confirm)
    if (state === this.lastRead.state && this.current === this.lastRead.after) {
      // the same reply as last time, over the state it left: laying it over again would change nothing
      if (seq !== undefined) this.lastSeq = seq;
      return;
    }
    this.applyState(state, source, seq);
    // a reply with pushes laid over it is new each time, so the next read is laid over in full
    this.lastRead = { state, after: this.current };
  }

  async signalStrength(requester?: object): Promise<number> {
    await this.ready();
    return this.send(
      async () => {
        const rssi = await this.client.signalStrength();
        this.applyState({ outlets: [], rssi }, 'command');
        return rssi;
      },
      { requester },
    );
  }

  /** Sets the Wi-Fi network; the password never appears in errors or logs. */
  async setWifi(ssid: string, password: string): Promise<true> {
    const req = encodeWifi(ssid, password);
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

  /** Asks the relay to download and flash an image: `request` is encodeOtaFlash's, checked before it got here. */
  async otaFlash(request: SonoffRequest): Promise<SonoffReply> {
    await this.ready();
    return this.send(() => this.client.otaFlash(request));
  }

  // ------------------------------------------------------------ internals

  protected describe(): string {
    return this.name ? `${this.name} (SONOFF ${this.deviceid || this.client.address.host})` : `SONOFF ${this.deviceid || this.client.address.host}`;
  }

  protected start(): void {
    this.running = true;
    if (!this.staticHost) {
      this.lease = acquireSonoffWatcher();
      const listener: SonoffRecordListener = { service: (s) => this.onService(s), withdrawn: () => this.onWithdrawn() };
      this.lease.follow(this.deviceid, listener);
      this.lease.watcher.query();
    } else {
      // a first read: the state, the family, and whether the device is there
      this.readInfo('poll', true)
        .catch(() => undefined)
        .finally(() => this.idleFor(this.pollIntervalMs || Infinity));
    }
    this.startPolling();
    this.lastHeard = this.clock.now();
    // regular polls at least as often read the device anyway, and their failures count the same way
    if (this.pollIntervalMs <= 0 || this.pollIntervalMs > LIVENESS_MS) this.scheduleLiveness(LIVENESS_MS);
  }

  protected stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.livenessTimer);
    this.livenessTimer = undefined;
    this.clock.clearTimeout(this.meterTimer);
    this.meterTimer = undefined;
    for (const finish of [...(this.addressWaiters ?? [])])
      finish(new DeviceError('closed', `${this.describe()}: the session stopped before mDNS found the device`));
    this.meterAfterPoll = false;
    this.lease?.release();
    this.lease = undefined;
  }

  protected releaseConnection(keepClient: boolean): void {
    this.client.release(keepClient);
  }

  protected async dispose(): Promise<void> {
    await this.client.close();
  }

  /** While offline: ask mDNS again and, once the address is known, read `info`. */
  protected async probe(): Promise<void> {
    this.lease?.watcher.query();
    // a record we cannot read stays unreadable until the key changes (a redeploy makes a new session)
    if (this.keyProblem) return;
    if (this.addressKnown) await this.readInfo('poll', true);
  }

  /** Anything from the device (a reply, an mDNS record) counts as heard. */
  protected override noteSuccess(announced = false): void {
    this.lastHeard = this.clock.now();
    super.noteSuccess(announced);
  }

  /** An unreadable reply still shows the relay is there: the faulty backoff reads it, no liveness ping is due. */
  protected override noteBadReply(err: DeviceError): void {
    this.lastHeard = this.clock.now();
    super.noteBadReply(err);
  }

  /**
   * Liveness: a relay that loses power says nothing, and without polling
   * nothing would notice. When nothing has been heard for LIVENESS_MS, one
   * read (getState in LAN mode, info in DIY mode) goes out; failures count
   * towards offlineAfter, retried with the backoff delay; once offline, the
   * probe loop takes over. Not run beside regular polls that are as frequent.
   */
  private scheduleLiveness(delay: number): void {
    if (!this.running || this.isClosed) return;
    this.clock.clearTimeout(this.livenessTimer);
    this.livenessTimer = this.clock.setTimeout(() => {
      this.livenessTimer = undefined;
      const quiet = this.clock.now() - this.lastHeard;
      if (this.health === 'offline' || !this.addressKnown || quiet < LIVENESS_MS) {
        this.scheduleLiveness(Math.max(1, LIVENESS_MS - Math.max(0, quiet)));
        return;
      }
      this.readInfo('poll', true).then(
        () => this.scheduleLiveness(LIVENESS_MS),
        () => this.scheduleLiveness(this.health === 'offline' ? LIVENESS_MS : this.retryDelay()),
      );
    }, delay);
  }

  /**
   * Meters report only while "active"; SonoffLAN keeps them so by resending
   * `sledonline` with the LED's current state when no reading came for a
   * while. Bounded: METER_RESENDS_MAX in a row, then it waits for a reading.
   * A regular poll under way may bring the reading: its answer is awaited
   * first, so that polls about as frequent as the quiet time do not each
   * race a resend.
   */
  private scheduleMeterKeepAlive(): void {
    if (!this.running || this.isClosed || this.kind !== 'meter' || this.meterTimer || this.meterResends >= METER_RESENDS_MAX) return;
    const wait = Math.max(1, this.lastReading + METER_QUIET_MS - this.clock.now());
    this.meterTimer = this.clock.setTimeout(() => {
      this.meterTimer = undefined;
      if (this.clock.now() - this.lastReading < METER_QUIET_MS) return this.scheduleMeterKeepAlive();
      if (this.health === 'offline' || !this.addressKnown) return this.scheduleMeterKeepAlive();
      if (this.pollInFlight || this.nextPollAt <= this.clock.now() + METER_POLL_WAIT_MS) {
        this.meterAfterPoll = true;
        return;
      }
      this.meterResends++;
      const led = this.current?.led ?? true;
      this.send(() => this.client.request(encodeLed(led)), { probe: true }).then(
        () => {
          // the request itself is no reading: wait a full quiet time again
          this.lastReading = this.clock.now();
          this.scheduleMeterKeepAlive();
        },
        () => this.scheduleMeterKeepAlive(),
      );
    }, wait);
  }

  /** `info` (getState in LAN mode) at the configured interval; 0: none (mDNS pushes the state). */
  protected pollInterval(): number {
    return this.pollIntervalMs;
  }

  protected pollRead(): Promise<void> {
    return this.readInfo('poll', true);
  }

  /** Without a static host, reads wait for mDNS to give the address. */
  protected override canPoll(): boolean {
    return this.addressKnown;
  }

  /** A meter keep-alive that waited for this poll's answer is due now. */
  protected override afterPoll(): void {
    if (!this.meterAfterPoll) return;
    this.meterAfterPoll = false;
    this.scheduleMeterKeepAlive();
  }

  /** The family to encode with: fixed by the model, else learned from the device. */
  private ensureFamily(): Promise<Family> {
    const known = this.family;
    if (known) return Promise.resolve(known);
    // concurrent commands share one info read
    this.familyRead ??= this.readInfo('poll', false).finally(() => {
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
      const finish = (err?: DeviceError) => {
        this.clock.clearTimeout(timer);
        this.removeListener('address', onAddress);
        this.addressWaiters?.delete(finish);
        if (this.addressWaiters?.size === 0) this.addressWaiters = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onAddress = () => finish();
      const timer = this.clock.setTimeout(
        () => finish(new DeviceError('offline', `${this.describe()} was not found by mDNS within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      (this.addressWaiters ??= new Set()).add(finish);
      this.on('address', onAddress);
      this.lease?.watcher.query();
    });
  }

  /**
   * A command's request through the queue, its reply confirmed into the
   * state. Promise chains, not async frames: a relay's command after a
   * pause runs cold, and their extra turns took about 0.03 ms of it before
   * the request went out (bench/README.md).
   */
  private command(req: SonoffRequest, change: SonoffState, outlet: number, options: { key: string; requester?: object }): Promise<OutletSnapshot> {
    const send = () => this.send(() => this.inFlight(change, () => this.client.request(req).then((reply) => this.confirm(reply, change, outlet))), options);
    return this.addressKnown ? send() : this.ready().then(send);
  }

  /**
   * The device multicasts its new TXT record about when it replies, often
   * first: a pushed change that matches the command in flight is that
   * command's echo, reported with source 'command'.
   */
  private inFlight<T>(change: SonoffState, task: () => Promise<T>): Promise<T> {
    this.pending = change;
    let run: Promise<T>;
    try {
      run = task();
    } catch (err) {
      run = Promise.reject(err);
    }
    // then, not finally: finally would add turns before the caller hears
    return run.then(
      (value) => {
        this.pending = undefined;
        return value;
      },
      (err: unknown) => {
        this.pending = undefined;
        throw err;
      },
    );
  }

  /** Whether the device now shows every outlet as the command in flight sets it. */
  private isEcho(state: SonoffState): boolean {
    const pending = this.pending;
    if (!pending || pending.outlets.length === 0) return false;
    return pending.outlets.every((expected) => {
      const after = state.outlets.find((o) => o.outlet === expected.outlet);
      return after !== undefined && (Object.keys(expected) as Array<keyof OutletState>).every((k) => expected[k] === undefined || expected[k] === after[k]);
    });
  }

  /**
   * An accepted command's reply. Its seq is shown but never marks later
   * mDNS records stale: nothing says the reply's counter and the record's
   * are the same, and a push that follows must not be dropped.
   */
  private confirm(reply: SonoffReply, change: SonoffState, outlet: number): OutletSnapshot {
    this.applyState(change, 'command', reply.seq);
    return this.snapshot(outlet, 'command');
  }

  /**
   * Merges a (partial) state and emits one 'state' event naming the fields
   * that changed; a pushed change that shows what the command in flight set
   * is that command's echo, with its source and requesters.
   */
  private applyState(next: SonoffState, source: StateSource, seq?: number): void {
    if (this.isClosed) return;
    if (seq !== undefined) this.lastSeq = seq;
    const prev = this.current;
    const merged = mergeState(prev, next);
    if (!merged.family && this.model !== 'auto') merged.family = this.family;
    this.current = merged;
    if (merged === prev) return;
    const changed = changedFields(prev, merged);
    if (changed.length === 0) return;
    if (READING_NAMES.some((k) => next[k] !== undefined && next[k] !== prev?.[k])) this.readingsArrived();
    const why = source === 'push' && this.isEcho(merged) ? 'command' : source;
    const event: SonoffStateEvent = { state: merged, changed, source: why };
    const requesters = this.requestersFor(why);
    if (requesters) event.requesters = requesters;
    this.emitEvent('state', event);
  }

  /** A new reading: the meter spoke, so the keep-alive starts over. */
  private readingsArrived(): void {
    this.lastReading = this.clock.now();
    this.meterResends = 0;
    this.scheduleMeterKeepAlive();
  }

  /** One outlet's switch command in the family's encoding (the TH's relay wants its own). */
  private switchRequest(family: Family, outlet: number, on: boolean): SonoffRequest {
    if (family === 'multi') return encodeSwitches([{ outlet, on }]);
    return this.kind === 'th' ? encodeThSwitch(on) : encodeSwitch(on);
  }

  /**
   * A record of this device (the shared watcher routes by deviceid). Anyone
   * on the LAN can announce a deviceid: for an encrypted device only a record
   * that decrypts with its key may move it or tell its state; one that does
   * not (or is not encrypted at all) is ignored once the device's address is
   * known, so it neither moves it nor marks it offline, and "check the
   * devicekey" then comes only from the device's own replies; a goodbye
   * only makes the session ask the device (onWithdrawn). A DIY device
   * has no key, and nothing tells its real record from a forged one.
   */
  private onService(s: DiscoveredService): void {
    if (this.isClosed) return;
    // the record read last time (the address moved, or it came again): its state is known, and the seq check has seen it
    const repeat = this.lastTxt !== undefined && sameTxt(this.lastTxt, s.txt);
    const t = repeat ? undefined : parseTxtState(s.txt, this.txtKey, this.meterHint);
    if (t && this.txtKey && !(t.encrypted && t.data)) {
      if (this.addressKnown) {
        this.debug?.(`${this.describe()}: an mDNS record from ${s.address ?? s.host ?? '?'} that does not decrypt with the devicekey was ignored`);
        return;
      }
      // nothing else reaches the device yet: the hint is all there is (a record that decrypts clears it)
      this.keyProblem = t.keyProblem ?? new DeviceError('protocol', WRONG_KEY_MESSAGE);
      this.markOffline(this.keyProblem);
      return;
    }
    const host = s.address ?? s.host;
    if (host && s.port !== undefined) {
      const cur = this.client.address;
      if (!this.addressKnown || cur.host !== host || cur.port !== s.port) {
        this.client.setAddress(host, s.port);
        this.addressKnown = true;
        this.emitEvent('address', { host, port: s.port });
      }
    }
    if (!t) {
      if (this.keyProblem) this.markOffline(this.keyProblem);
      else this.noteSuccess(true);
      return;
    }
    this.lastTxt = s.txt;
    if (t.keyProblem) {
      this.keyProblem = t.keyProblem;
      this.markOffline(t.keyProblem);
      return;
    }
    this.keyProblem = undefined;
    const verdict = this.seq.check(t.seq);
    if (verdict !== 'stale' && t.state) {
      this.applyState(t.state, 'push', t.seq);
      this.pushedDuringRead.note(t.state);
    }
    this.noteSuccess(true);
  }

  private onWithdrawn(): void {
    if (this.isClosed) return;
    // a goodbye carries nothing to decrypt, so anyone can send one: a device with a key is asked, and its own answer decides
    if (this.txtKey && this.addressKnown) {
      this.debug?.(`${this.describe()}: its mDNS record was withdrawn; asking the device`);
      void this.readInfo('poll', true).catch(() => undefined);
      return;
    }
    this.seq.markRestart();
    this.lastTxt = undefined;
    this.markOffline(new DeviceError('offline', `${this.describe()} withdrew its mDNS record`));
  }
}
