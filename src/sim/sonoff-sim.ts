import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type http from 'node:http';
import { Agent } from 'undici';
import type { AdvertisedInstance } from './mdns-advertiser';
import { commonFaults, SimServer, type CommonFaults, type Reply } from './sim-server';

/**
 * A SONOFF DIY relay on 127.0.0.1: both API families (single-channel
 * switch/startup/pulse, multi-channel switches/startups/pulses), real pulse
 * timers, OTA that really downloads the image with Range requests, firmware
 * quirks and faults to switch on, and an opt-in mDNS responder that pushes
 * every change as a new TXT record.
 *
 * Its limits are written here from the vendor documents, never imported from
 * src/sonoff: a limit misread there must fail a test, not pass on both sides.
 */

/** "BASICR3/RFR3/MINI HTTP API" v2.2, Inching: "multiples of 500 in range of 500~3600000". */
const SIM_PULSE_STEP_MS = 500;
const SIM_SINGLE_PULSE_MAX_MS = 3_600_000;
/** "MINIR3 HTTP API" v1.0, Inching: "multiples of 500 in range of 500~3599500". */
const SIM_MULTI_PULSE_MAX_MS = 3_599_500;
/** "MINIR3 HTTP API" v1.0: "outlet … Ranges: [0,3]", channels 1-4. */
const SIM_OUTLETS = 4;
/** Both documents, OTA flash: "The maximum firmware size is 508KB", read as 508 × 1024 bytes. */
const SIM_MAX_IMAGE_BYTES = 508 * 1024;
/** "DIY MODE API for D1" (Sonoff_Devices_DIY_Tools): brightness "1~100", with `switch` "on" and `mode` 0. */
const SIM_BRIGHTNESS_MAX = 100;
/** How long a meter keeps reporting after `sledonline` (the "active" window; SonoffLAN resends it to keep readings flowing). */
const SIM_METER_ACTIVE_MS = 10_000;
/** A DNS-SD TXT string holds at most 255 bytes (RFC 6763, 6.1), so the state JSON goes out in pieces. */
const TXT_STRING_MAX_BYTES = 255;

export interface SonoffSimOptions {
  deviceid?: string;
  /** multi-channel (MINIR3/4CH protocol) instead of single-channel */
  multi?: boolean;
  /** answer and announce over mDNS (off unless asked for) */
  mdns?: boolean;
  /** listen address, default 127.0.0.1 */
  host?: string;
  /** TXT `type`; default diy_plug (MINIR3 also says diy_plug or diylight), enhanced_plug for the POWR2 */
  type?: string;
  fwVersion?: string;
  ssid?: string;
  signalStrength?: number;
  /** firmware 3.7.6+: the deviceid must be filled in and right, else error 404. Default: from fwVersion */
  requireDeviceid?: boolean;
  /** quirk: answer 422 whenever the deviceid is filled in */
  rejectDeviceid?: boolean;
  /** old firmware: `data` in replies is a JSON string */
  dataAsString?: boolean;
  /** an encrypted (non-DIY) device whose key the test does not give: every request gets error 401 */
  encrypted?: boolean;
  /**
   * stock firmware in LAN mode: requests, replies and TXT records are
   * encrypted with this key (AES-128-CBC, key MD5(devicekey), SonoffLAN
   * local.py). A plain request, or one that does not decrypt, gets 401.
   */
  devicekey?: string;
  /** a family beyond the relays: D1 dimmer, POWR2/S31 meter (W/V/A as numbers, TXT type enhanced_plug), POWR3 meter (hundredths), TH sensor */
  model?: SimModel;
  /** quirk: drop the connection without an answer when the deviceid is filled in (Sonoff_Devices_DIY_Tools #132) */
  dropOnDeviceid?: boolean;
  /** the device's web server takes one connection at a time and resets the others */
  oneConnection?: boolean;
  /**
   * quirk: the `seq` of HTTP replies runs this far ahead of the TXT
   * record's (the documents do not say that the two counters are one)
   */
  replySeqAhead?: number;
  /** meters: how long they report after `sledonline`; default 10 s */
  activeMs?: number;
  /** readings change (and are pushed) this often; 0 (default) = only through stepReadings() */
  readingsEveryMs?: number;
  /** max characters per TXT dataN entry; default 200 */
  txtChunkSize?: number;
  /** announce the dataN entries in reverse order */
  txtReverse?: boolean;
  /** ota_flash: download deadline before error 408; default 60 s */
  otaDownloadTimeoutMs?: number;
  /** ota_unlock fails with this vendor-service code */
  unlockError?: 500 | 503;
  /** fwVersion after a successful flash; default: patch + 1 */
  flashedFwVersion?: string;
}

export interface SimFaults extends CommonFaults {
  /** answer every request with this error code (e.g. 400, 422) */
  errorCode: number;
}

export interface SimRequest {
  endpoint: string;
  /** the parsed body, or the raw text when it is not JSON */
  body: unknown;
  at: number;
}

export interface SimOutlet {
  on: boolean;
  startup: 'on' | 'off' | 'stay';
  pulse: boolean;
  pulseWidth: number;
  /** multi: the state after the pulse */
  pulseSwitch: 'on' | 'off';
}

export interface FlashRecord {
  bytes: number;
  sha256: string;
  rangeRequests: number;
}

/** An ESP8266 image for tests: header magic 0xE9, flash mode at offset 2 (3 = DOUT). */
export function makeFirmwareImage(size: number, flashMode = 3): Buffer {
  const image = Buffer.alloc(size);
  for (let i = 0; i < size; i++) image[i] = (i * 31 + 7) & 0xff;
  if (size > 0) image[0] = 0xe9;
  if (size > 1) image[1] = 1;
  if (size > 2) image[2] = flashMode;
  if (size > 3) image[3] = 0x20;
  return image;
}

const SERVICE = '_ewelink._tcp.local';

export type SimModel = 'relay' | 'd1' | 'powr2' | 'powr3' | 'th';

/** The readings a meter or sensor simulates, in plain units. */
export interface SimReadings {
  power: number;
  voltage: number;
  current: number;
  dayKwh: number;
  monthKwh: number;
  temperature: number;
  humidity: number;
}

export class SonoffSimulator extends SimServer<SimRequest, SimFaults> {
  readonly deviceid: string;
  readonly multi: boolean;
  readonly options: SonoffSimOptions;
  readonly faults: SimFaults = { ...commonFaults(), errorCode: 0 };
  readonly outlets: SimOutlet[];
  /** every completed flash */
  readonly flashes: FlashRecord[] = [];
  fwVersion: string;
  ssid: string;
  signalStrength: number;
  otaUnlock = false;
  seq = 1;
  requireDeviceid: boolean;
  rejectDeviceid: boolean;
  dataAsString: boolean;
  encrypted: boolean;
  unlockError: 0 | 500 | 503;
  txtChunkSize: number;
  readonly model: SimModel;
  devicekey: string | undefined;
  dropOnDeviceid: boolean;
  brightness = 50;
  sledOnline: 'on' | 'off' = 'on';
  readonly readings: SimReadings = { power: 12.5, voltage: 230.1, current: 0.05, dayKwh: 0.12, monthKwh: 3.45, temperature: 21.5, humidity: 45 };
  /** meters: reporting until this time (ms since epoch), renewed by `sledonline` */
  activeUntil = 0;
  /** TXT records announced since start (each change of a reporting device is one) */
  pushes = 0;
  private readingsTimer: NodeJS.Timeout | undefined;
  private readonly pulseTimers = new Map<number, NodeJS.Timeout>();
  private offline = false;
  private readonly changeListeners = new Set<() => void>();

  constructor(options: SonoffSimOptions = {}) {
    super(options.host, 2000);
    this.options = options;
    this.deviceid = options.deviceid ?? '1000abcdef';
    this.multi = !!options.multi;
    this.fwVersion = options.fwVersion ?? '3.7.6';
    this.ssid = options.ssid ?? 'eWeLink';
    this.signalStrength = options.signalStrength ?? -55;
    this.requireDeviceid = options.requireDeviceid ?? versionAtLeast(this.fwVersion, [3, 7, 6]);
    this.rejectDeviceid = !!options.rejectDeviceid;
    this.dataAsString = !!options.dataAsString;
    this.encrypted = !!options.encrypted;
    this.unlockError = options.unlockError ?? 0;
    this.txtChunkSize = options.txtChunkSize ?? 200;
    this.model = options.model ?? 'relay';
    this.devicekey = options.devicekey;
    this.dropOnDeviceid = !!options.dropOnDeviceid;
    if (options.oneConnection) this.maxConnections = 1;
    this.outlets = Array.from({ length: this.multi ? SIM_OUTLETS : 1 }, () => ({
      on: false,
      startup: 'off' as const,
      pulse: false,
      pulseWidth: SIM_PULSE_STEP_MS,
      pulseSwitch: 'off' as const,
    }));
  }

  get protocol(): 'http' {
    return 'http';
  }

  // ------------------------------------------------------------ lifecycle

  async start(opts: { port?: number } = {}): Promise<{ host: string; port: number }> {
    await this.listen(opts.port ?? 0);
    if (this.options.mdns) this.advertiser.start();
    const every = this.options.readingsEveryMs ?? 0;
    if (every > 0 && this.model !== 'relay' && this.model !== 'd1') {
      this.readingsTimer = setInterval(() => this.stepReadings(), every);
      this.readingsTimer.unref();
    }
    return this.address;
  }

  get address(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  async stop(): Promise<void> {
    clearInterval(this.readingsTimer);
    this.stopPulses();
    await this.shutdown();
  }

  /** Stop answering (the device lost power or Wi-Fi) or come back on the same port. */
  async setOffline(offline: boolean): Promise<void> {
    if (offline === this.offline) return;
    this.offline = offline;
    this.advertiser.paused = offline;
    if (offline) await this.unlisten();
    else {
      await this.listen(this.port);
      this.announce();
    }
  }

  /** Move to another address and/or port, and announce it. */
  async setAddress(host: string | undefined, port: number): Promise<{ host: string; port: number }> {
    await this.unlisten();
    if (host) this.host = host;
    await this.listen(port);
    this.announce();
    return this.address;
  }

  /** A restart: timers stop, outlets take their power-on state, seq starts low again. */
  reboot(): void {
    this.stopPulses();
    for (const o of this.outlets) if (o.startup !== 'stay') o.on = o.startup === 'on';
    this.otaUnlock = false;
    this.seq = 1;
    this.announce();
  }

  /** The physical button: toggles the outlet and announces the change. */
  pressButton(outlet = 0): void {
    const o = this.outlets[outlet];
    if (!o) throw new Error(`no outlet ${outlet}`);
    this.setOutlet(outlet, !o.on);
    this.changed();
  }

  /** True while a meter reports (after `sledonline`); other models always report. */
  get active(): boolean {
    return !this.isMeter || Date.now() < this.activeUntil;
  }

  get isMeter(): boolean {
    return this.model === 'powr2' || this.model === 'powr3';
  }

  /**
   * The readings move on one step; a reporting device pushes them, a meter
   * that is not active keeps them to itself (they still show in `info`).
   */
  stepReadings(): void {
    const r = this.readings;
    r.power = round2(r.power >= 2000 ? 10 : r.power + 7.25);
    r.voltage = round2(r.voltage >= 240 ? 220 : r.voltage + 0.5);
    r.current = round2(r.power / r.voltage);
    r.dayKwh = round2(r.dayKwh + 0.01);
    r.monthKwh = round2(r.monthKwh + 0.01);
    r.temperature = round2(r.temperature >= 30 ? 15 : r.temperature + 0.5);
    r.humidity = r.humidity >= 80 ? 30 : r.humidity + 1;
    if (this.active) this.changed();
  }

  /** Called after every state change (tests wait on it). */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Requests to one endpoint. */
  requestsTo(endpoint: string): SimRequest[] {
    return this.requests.filter((r) => r.endpoint === endpoint);
  }

  // ------------------------------------------------------------ state

  /** The `info` data as the device reports it. */
  infoData(): Record<string, unknown> {
    const common = {
      fwVersion: this.fwVersion,
      deviceid: this.deviceid,
      ssid: this.ssid,
      bssid: 'ec:17:2f:3d:15:0e',
      signalStrength: this.signalStrength,
      otaUnlock: this.otaUnlock,
    };
    return { ...this.stateData(), ...common };
  }

  /** The state JSON of the TXT record (dataN). */
  stateData(): Record<string, unknown> {
    const r = this.readings;
    const o0 = this.outlets[0];
    switch (this.model) {
      case 'd1':
        return { switch: onOff(o0.on), brightness: this.brightness, mode: 0, startup: o0.startup, sledOnline: this.sledOnline, rssi: this.signalStrength };
      case 'powr2':
        // a POWR2 or S31 in LAN mode: its alarm limits, then W, V and A as numbers in plain units (SonoffLAN issue 941, mattsaxon/sonoff-lan-mode-homeassistant issue 13)
        return {
          alarmVValue: [-1, -1],
          alarmCValue: [-1, -1],
          alarmPValue: [-1, -1],
          ...this.relayData(),
          power: round2(r.power),
          voltage: round2(r.voltage),
          current: round2(r.current),
        };
      case 'powr3':
        // the POWR3 family (SonoffLAN uiid 190: POWR3, POWR316, POWR320D, S60): hundredths, plus the day's and month's energy
        return {
          ...this.relayData(),
          power: Math.round(r.power * 100),
          voltage: Math.round(r.voltage * 100),
          current: Math.round(r.current * 100),
          dayKwh: Math.round(r.dayKwh * 100),
          monthKwh: Math.round(r.monthKwh * 100),
        };
      case 'th':
        return {
          switch: onOff(o0.on),
          mainSwitch: onOff(o0.on),
          deviceType: 'normal',
          currentTemperature: r.temperature.toFixed(1),
          currentHumidity: String(r.humidity),
          sledOnline: this.sledOnline,
        };
      default:
        return this.relayData();
    }
  }

  private relayData(): Record<string, unknown> {
    if (!this.multi) {
      const o = this.outlets[0];
      return {
        switch: onOff(o.on),
        startup: o.startup,
        pulse: onOff(o.pulse),
        pulseWidth: o.pulseWidth,
        sledOnline: this.sledOnline,
        rssi: this.signalStrength,
      };
    }
    return {
      sledOnline: this.sledOnline,
      switches: this.outlets.map((o, outlet) => ({ switch: onOff(o.on), outlet })),
      configure: this.outlets.map((o, outlet) => ({ startup: o.startup, outlet })),
      pulses: this.outlets.map((o, outlet) => ({ pulse: onOff(o.pulse), switch: o.pulseSwitch, width: o.pulseWidth, outlet })),
    };
  }

  private stopPulses(): void {
    for (const t of this.pulseTimers.values()) clearTimeout(t);
    this.pulseTimers.clear();
  }

  private setOutlet(i: number, on: boolean): void {
    const o = this.outlets[i];
    o.on = on;
    const existing = this.pulseTimers.get(i);
    if (existing) clearTimeout(existing);
    this.pulseTimers.delete(i);
    const rest = this.multi ? o.pulseSwitch === 'on' : false;
    if (o.pulse && on !== rest) {
      this.pulseTimers.set(
        i,
        setTimeout(() => {
          this.pulseTimers.delete(i);
          o.on = rest;
          this.changed();
        }, o.pulseWidth),
      );
    }
  }

  private changed(): void {
    this.seq++;
    this.pushes++;
    this.announce();
    for (const l of this.changeListeners) l();
  }

  // ------------------------------------------------------------ HTTP

  protected handle(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
    const m = /^\/zeroconf\/([A-Za-z_]+)$/.exec(req.url ?? '');
    const endpoint = m ? m[1] : (req.url ?? '');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // logged raw
    }
    // the log holds what the device understood: an encrypted request's params decrypted
    const opened = this.devicekey ? openRequest(body, this.devicekey) : body;
    this.requests.push({ endpoint, body: opened ?? body, at: Date.now() });
    const id = (opened as { deviceid?: unknown } | undefined)?.deviceid;
    if (this.dropOnDeviceid && typeof id === 'string' && id !== '') {
      req.socket.destroy();
      return;
    }
    this.answer(req, res, async () => {
      if (req.method !== 'POST' || !m) return { status: 404, ...this.reply({ error: 400 }) };
      if (this.devicekey && opened === undefined) return this.reply({ error: 401 });
      return this.reply(await this.dispatch(endpoint, opened).catch(() => ({ error: 500 })));
    });
  }

  private reply(reply: { error: number; data?: Record<string, unknown> }): Reply {
    const out: Record<string, unknown> = { seq: this.seq + (this.options.replySeqAhead ?? 0), error: reply.error };
    if (reply.data && this.devicekey) Object.assign(out, { encrypt: true }, sealJson(reply.data, this.devicekey));
    else if (reply.data) out.data = this.dataAsString ? JSON.stringify(reply.data) : reply.data;
    return { body: JSON.stringify(out), type: 'application/json' };
  }

  private async dispatch(endpoint: string, body: unknown): Promise<{ error: number; data?: Record<string, unknown> }> {
    if (this.encrypted && !this.devicekey) return { error: 401 };
    if (this.faults.errorCode) return { error: this.faults.errorCode };
    if (!body || typeof body !== 'object' || Array.isArray(body)) return { error: 400 };
    const { deviceid, data } = body as { deviceid?: unknown; data?: unknown };
    if (typeof deviceid !== 'string' || !data || typeof data !== 'object' || Array.isArray(data)) return { error: 400 };
    if (this.rejectDeviceid && deviceid !== '') return { error: 422 };
    if (deviceid !== '' && deviceid !== this.deviceid) return { error: 404 };
    if (deviceid === '' && this.requireDeviceid) return { error: 404 };
    const d = data as Record<string, unknown>;
    const single = !this.multi;
    switch (endpoint) {
      case 'switch': {
        if (!single) return { error: 400 };
        if (d.switch !== 'on' && d.switch !== 'off') return { error: 422 };
        // the TH's relay takes its switch only with mainSwitch and deviceType "normal" (SonoffLAN switch.py)
        if (this.model === 'th' && (d.mainSwitch !== d.switch || d.deviceType !== 'normal')) return { error: 422 };
        this.setOutlet(0, d.switch === 'on');
        this.changed();
        return { error: 0 };
      }
      case 'dimmable': {
        if (this.model !== 'd1') return { error: 400 };
        const b = d.brightness;
        if (d.switch !== 'on' || typeof b !== 'number' || !Number.isInteger(b) || b < 1 || b > SIM_BRIGHTNESS_MAX) return { error: 400 };
        this.outlets[0].on = true;
        this.brightness = b;
        this.changed();
        return { error: 0 };
      }
      case 'sledonline': {
        if (d.sledOnline !== 'on' && d.sledOnline !== 'off') return { error: 422 };
        this.sledOnline = d.sledOnline;
        if (this.isMeter) this.activeUntil = Date.now() + (this.options.activeMs ?? SIM_METER_ACTIVE_MS);
        this.changed();
        return { error: 0 };
      }
      case 'getState':
        return { error: 0, data: this.stateData() };
      case 'startup': {
        if (!single) return { error: 400 };
        if (!isStartup(d.startup)) return { error: 422 };
        this.outlets[0].startup = d.startup;
        this.changed();
        return { error: 0 };
      }
      case 'pulse': {
        if (!single) return { error: 400 };
        if (d.pulse !== 'on' && d.pulse !== 'off') return { error: 422 };
        if (d.pulseWidth !== undefined && !validWidth(d.pulseWidth, SIM_SINGLE_PULSE_MAX_MS)) return { error: 422 };
        if (d.pulse === 'on' && d.pulseWidth === undefined) return { error: 422 };
        this.outlets[0].pulse = d.pulse === 'on';
        if (typeof d.pulseWidth === 'number') this.outlets[0].pulseWidth = d.pulseWidth;
        this.changed();
        return { error: 0 };
      }
      case 'switches': {
        if (single) return { error: 400 };
        const items = entries(d.switches);
        if (!items || !items.every((i) => validOutlet(i.outlet) && (i.switch === 'on' || i.switch === 'off'))) return { error: 422 };
        for (const i of items) this.setOutlet(i.outlet as number, i.switch === 'on');
        this.changed();
        return { error: 0 };
      }
      case 'startups': {
        if (single) return { error: 400 };
        const items = entries(d.configure);
        if (!items || !items.every((i) => validOutlet(i.outlet) && isStartup(i.startup))) return { error: 422 };
        for (const i of items) this.outlets[i.outlet as number].startup = i.startup as SimOutlet['startup'];
        this.changed();
        return { error: 0 };
      }
      case 'pulses': {
        if (single) return { error: 400 };
        const items = entries(d.pulses);
        const ok = items?.every(
          (i) =>
            validOutlet(i.outlet) &&
            (i.pulse === 'on' || i.pulse === 'off') &&
            (i.switch === 'on' || i.switch === 'off') &&
            (i.width === undefined ? i.pulse === 'off' : validWidth(i.width, SIM_MULTI_PULSE_MAX_MS)),
        );
        if (!items || !ok) return { error: 422 };
        for (const i of items) {
          const o = this.outlets[i.outlet as number];
          o.pulse = i.pulse === 'on';
          o.pulseSwitch = i.switch as 'on' | 'off';
          if (typeof i.width === 'number') o.pulseWidth = i.width;
        }
        this.changed();
        return { error: 0 };
      }
      case 'signal_strength':
        return { error: 0, data: { signalStrength: this.signalStrength } };
      case 'info':
        return { error: 0, data: this.infoData() };
      case 'wifi': {
        if (typeof d.ssid !== 'string' || d.ssid === '' || typeof d.password !== 'string') return { error: 422 };
        this.ssid = d.ssid;
        return { error: 0 };
      }
      case 'ota_unlock': {
        if (this.unlockError) return { error: this.unlockError };
        this.otaUnlock = true;
        return { error: 0 };
      }
      case 'ota_flash':
        return this.flash(d);
      default:
        return { error: 400 };
    }
  }

  // ------------------------------------------------------------ OTA

  private async flash(d: Record<string, unknown>): Promise<{ error: number }> {
    if (!this.otaUnlock) return { error: 403 };
    if (typeof d.downloadUrl !== 'string' || typeof d.sha256sum !== 'string') return { error: 422 };
    let url: URL;
    try {
      url = new URL(d.downloadUrl);
    } catch {
      return { error: 424 };
    }
    if (url.protocol !== 'http:') return { error: 424 };
    const agent = new Agent({ connections: 1 });
    const deadline = AbortSignal.timeout(this.options.otaDownloadTimeoutMs ?? 60_000);
    const parts: Buffer[] = [];
    let total = -1;
    let received = 0;
    let rangeRequests = 0;
    const chunk = 64 * 1024;
    try {
      while (total < 0 || received < total) {
        const res = await agent.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: 'GET',
          headers: { range: `bytes=${received}-${received + chunk - 1}` },
          signal: deadline,
        });
        rangeRequests++;
        if (res.statusCode !== 206) {
          await res.body.dump();
          return { error: 424 };
        }
        const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
        if (!cr || Number(cr[1]) !== received) {
          await res.body.dump();
          return { error: 424 };
        }
        total = Number(cr[3]);
        if (total > SIM_MAX_IMAGE_BYTES) {
          await res.body.dump();
          return { error: 413 };
        }
        const body = Buffer.from(await res.body.arrayBuffer());
        parts.push(body);
        received += body.length;
        if (body.length === 0) return { error: 424 };
      }
    } catch {
      return { error: deadline.aborted ? 408 : 424 };
    } finally {
      await agent.close().catch(() => undefined);
    }
    const image = Buffer.concat(parts);
    const digest = createHash('sha256').update(image).digest('hex');
    if (digest !== d.sha256sum.toLowerCase()) return { error: 471 };
    this.flashes.push({ bytes: image.length, sha256: digest, rangeRequests });
    this.fwVersion = this.options.flashedFwVersion ?? bumpPatch(this.fwVersion);
    this.otaUnlock = false;
    return { error: 0 };
  }

  // ------------------------------------------------------------ mDNS

  get instanceName(): string {
    return `eWeLink_${this.deviceid}`;
  }

  /** The TXT entries as the device announces them: the state JSON in data1..dataN. */
  txtEntries(): string[] {
    let json = JSON.stringify(this.stateData());
    let crypt: string[] = [];
    if (this.devicekey) {
      // a new iv with every record; the ciphertext is chunked like the plain JSON
      const sealed = sealJson(this.stateData(), this.devicekey);
      json = sealed.data;
      crypt = ['encrypt=true', `iv=${sealed.iv}`];
    } else if (this.encrypted) crypt = ['encrypt=true', 'iv=MTIzNDU2Nzg5MDEyMzQ1Ng=='];
    const data = txtChunks(json, this.txtChunkSize).map((chunk, i) => `data${i + 1}=${chunk}`);
    if (this.options.txtReverse) data.reverse();
    const type = this.options.type ?? (this.model === 'powr2' ? 'enhanced_plug' : 'diy_plug');
    return ['txtvers=1', `id=${this.deviceid}`, `type=${type}`, 'apivers=1', `seq=${this.seq}`, ...crypt, ...data];
  }

  protected advertisement(): AdvertisedInstance {
    return { service: SERVICE, instance: this.instanceName, host: this.host, port: this.port, txt: this.txtEntries() };
  }

  private announce(): void {
    this.advertiser.announce();
  }
}

/** Pieces of at most `size` characters, each small enough for a TXT string with its `dataN=` key. */
function txtChunks(json: string, size: number): string[] {
  const step = Math.max(1, Math.min(size, TXT_STRING_MAX_BYTES - 'data10='.length));
  const out: string[] = [];
  for (let i = 0; i < json.length; i += step) out.push(json.slice(i, i + step));
  return out;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** The simulator's own cipher (not the code under test's): AES-128-CBC, PKCS7, key MD5(utf8(devicekey)). */
function simKey(devicekey: string): Buffer {
  return createHash('md5').update(devicekey, 'utf8').digest();
}

function sealJson(data: Record<string, unknown>, devicekey: string): { iv: string; data: string } {
  const iv = randomBytes(16);
  const c = createCipheriv('aes-128-cbc', simKey(devicekey), iv);
  return { iv: iv.toString('base64'), data: Buffer.concat([c.update(JSON.stringify(data), 'utf8'), c.final()]).toString('base64') };
}

/** An encrypted request as `{deviceid, data}`; undefined when it is plain or does not decrypt. */
function openRequest(body: unknown, devicekey: string): { deviceid: unknown; data: unknown } | undefined {
  const b = body as { encrypt?: unknown; iv?: unknown; data?: unknown; deviceid?: unknown } | undefined;
  if (!b || b.encrypt !== true || typeof b.iv !== 'string' || typeof b.data !== 'string') return undefined;
  try {
    const d = createDecipheriv('aes-128-cbc', simKey(devicekey), Buffer.from(b.iv, 'base64'));
    const text = Buffer.concat([d.update(Buffer.from(b.data, 'base64')), d.final()]).toString('utf8');
    return { deviceid: b.deviceid, data: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

function onOff(v: boolean): 'on' | 'off' {
  return v ? 'on' : 'off';
}

function isStartup(v: unknown): v is 'on' | 'off' | 'stay' {
  return v === 'on' || v === 'off' || v === 'stay';
}

function validWidth(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= SIM_PULSE_STEP_MS && v <= max && v % SIM_PULSE_STEP_MS === 0;
}

function validOutlet(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < SIM_OUTLETS;
}

function entries(v: unknown): Array<Record<string, unknown>> | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return v.every((x) => x && typeof x === 'object') ? (v as Array<Record<string, unknown>>) : undefined;
}

function versionAtLeast(v: string, min: number[]): boolean {
  const parts = v.split('.').map((p) => Number(p) || 0);
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    if (a !== min[i]) return a > min[i];
  }
  return true;
}

function bumpPatch(v: string): string {
  const parts = v.split('.');
  const last = Number(parts[parts.length - 1]);
  parts[parts.length - 1] = String(Number.isFinite(last) ? last + 1 : 1);
  return parts.join('.');
}
