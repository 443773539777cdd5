import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent } from 'undici';
import { MdnsAdvertiser } from './mdns-advertiser';
import { MULTI_PULSE_MAX_MS, SINGLE_PULSE_MAX_MS, splitTxtData } from '../sonoff/codec';
import { MAX_IMAGE_BYTES } from '../sonoff/ota';

/**
 * A SONOFF DIY relay on 127.0.0.1: both API families (single-channel
 * switch/startup/pulse, multi-channel switches/startups/pulses), real pulse
 * timers, OTA that really downloads the image with Range requests, firmware
 * quirks and faults to switch on, and an opt-in mDNS responder that pushes
 * every change as a new TXT record.
 */

export interface SonoffSimOptions {
  deviceid?: string;
  /** multi-channel (MINIR3/4CH protocol) instead of single-channel */
  multi?: boolean;
  /** answer and announce over mDNS (off unless asked for) */
  mdns?: boolean;
  /** listen address, default 127.0.0.1 */
  host?: string;
  /** TXT `type`; default diy_plug (MINIR3 also says diy_plug or diylight) */
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
  /** an encrypted (non-DIY) device: every request gets error 401 */
  encrypted?: boolean;
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

export interface SimFaults {
  /** delay before every answer */
  latencyMs: number;
  /** close the connection without an answer */
  drop: boolean;
  /** HTTP 500 with a text body */
  http500: boolean;
  /** 200 with a non-JSON body */
  garbage: boolean;
  /** 200 with a JSON body cut short */
  truncated: boolean;
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

export class SonoffSimulator {
  readonly deviceid: string;
  readonly multi: boolean;
  readonly options: SonoffSimOptions;
  readonly faults: SimFaults = { latencyMs: 0, drop: false, http500: false, garbage: false, truncated: false, errorCode: 0 };
  readonly requests: SimRequest[] = [];
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
  private host: string;
  private port = 0;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** TCP connections accepted so far (a client that reuses its connection opens few) */
  connectionsAccepted = 0;

  /** Connections open now. */
  get openConnections(): number {
    return this.sockets.size;
  }
  private readonly pulseTimers = new Map<number, NodeJS.Timeout>();
  private readonly advertiser = new MdnsAdvertiser(() => ({
    service: SERVICE,
    instance: this.instanceName,
    host: this.host,
    port: this.port,
    txt: this.txtEntries(),
  }));
  private offline = false;
  private readonly changeListeners = new Set<() => void>();

  constructor(options: SonoffSimOptions = {}) {
    this.options = options;
    this.deviceid = options.deviceid ?? '1000abcdef';
    this.multi = !!options.multi;
    this.host = options.host ?? '127.0.0.1';
    this.fwVersion = options.fwVersion ?? '3.7.6';
    this.ssid = options.ssid ?? 'eWeLink';
    this.signalStrength = options.signalStrength ?? -55;
    this.requireDeviceid = options.requireDeviceid ?? versionAtLeast(this.fwVersion, [3, 7, 6]);
    this.rejectDeviceid = !!options.rejectDeviceid;
    this.dataAsString = !!options.dataAsString;
    this.encrypted = !!options.encrypted;
    this.unlockError = options.unlockError ?? 0;
    this.txtChunkSize = options.txtChunkSize ?? 200;
    this.outlets = Array.from({ length: this.multi ? 4 : 1 }, () => ({
      on: false,
      startup: 'off' as const,
      pulse: false,
      pulseWidth: 500,
      pulseSwitch: 'off' as const,
    }));
  }

  // ------------------------------------------------------------ lifecycle

  async start(opts: { port?: number } = {}): Promise<{ host: string; port: number }> {
    await this.listen(opts.port ?? 0);
    if (this.options.mdns) this.advertiser.start();
    return { host: this.host, port: this.port };
  }

  get address(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const t of this.pulseTimers.values()) clearTimeout(t);
    this.pulseTimers.clear();
    await this.advertiser.stop();
    await this.unlisten();
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
    for (const t of this.pulseTimers.values()) clearTimeout(t);
    this.pulseTimers.clear();
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
    if (!this.multi) {
      const o = this.outlets[0];
      return { switch: onOff(o.on), startup: o.startup, pulse: onOff(o.pulse), pulseWidth: o.pulseWidth, sledOnline: 'on', rssi: this.signalStrength };
    }
    return {
      sledOnline: 'on',
      switches: this.outlets.map((o, outlet) => ({ switch: onOff(o.on), outlet })),
      configure: this.outlets.map((o, outlet) => ({ startup: o.startup, outlet })),
      pulses: this.outlets.map((o, outlet) => ({ pulse: onOff(o.pulse), switch: o.pulseSwitch, width: o.pulseWidth, outlet })),
    };
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
    this.announce();
    for (const l of this.changeListeners) l();
  }

  // ------------------------------------------------------------ HTTP

  private listen(port: number): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 2000;
    server.on('connection', (s: Socket) => {
      this.connectionsAccepted++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.removeListener('error', reject);
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private unlisten(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const m = /^\/zeroconf\/([a-z_]+)$/.exec(req.url ?? '');
      const endpoint = m ? m[1] : (req.url ?? '');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // logged raw
      }
      this.requests.push({ endpoint, body, at: Date.now() });
      const answer = () => {
        if (this.faults.drop) {
          req.socket.destroy();
          return;
        }
        if (this.faults.http500) {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
          return;
        }
        if (this.faults.garbage) {
          res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>hello</body></html>');
          return;
        }
        if (this.faults.truncated) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(`{"seq":${this.seq},"error":0,"da`);
          return;
        }
        if (req.method !== 'POST' || !m) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: this.seq, error: 400 }));
          return;
        }
        this.dispatch(endpoint, body).then(
          (reply) => this.reply(res, reply),
          () => this.reply(res, { error: 500 }),
        );
      };
      if (this.faults.latencyMs > 0) setTimeout(answer, this.faults.latencyMs);
      else answer();
    });
  }

  private reply(res: http.ServerResponse, reply: { error: number; data?: Record<string, unknown> }): void {
    if (res.destroyed) return;
    const out: Record<string, unknown> = { seq: this.seq, error: reply.error };
    if (reply.data) out.data = this.dataAsString ? JSON.stringify(reply.data) : reply.data;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
  }

  private async dispatch(endpoint: string, body: unknown): Promise<{ error: number; data?: Record<string, unknown> }> {
    if (this.encrypted) return { error: 401 };
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
        this.setOutlet(0, d.switch === 'on');
        this.changed();
        return { error: 0 };
      }
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
        if (d.pulseWidth !== undefined && !validWidth(d.pulseWidth, SINGLE_PULSE_MAX_MS)) return { error: 422 };
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
            (i.width === undefined ? i.pulse === 'off' : validWidth(i.width, MULTI_PULSE_MAX_MS)),
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
        if (total > MAX_IMAGE_BYTES) {
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

  /** The TXT entries as the device announces them. */
  txtEntries(): string[] {
    const data = splitTxtData(JSON.stringify(this.stateData()), this.txtChunkSize);
    const dataKeys = Object.keys(data);
    if (this.options.txtReverse) dataKeys.reverse();
    return [
      'txtvers=1',
      `id=${this.deviceid}`,
      `type=${this.options.type ?? (this.multi ? 'diy_plug' : 'diy_plug')}`,
      'apivers=1',
      `seq=${this.seq}`,
      ...(this.encrypted ? ['encrypt=true', 'iv=MTIzNDU2Nzg5MDEyMzQ1Ng=='] : []),
      ...dataKeys.map((k) => `${k}=${data[k]}`),
    ];
  }

  private announce(): void {
    this.advertiser.announce();
  }
}

function onOff(v: boolean): 'on' | 'off' {
  return v ? 'on' : 'off';
}

function isStartup(v: unknown): v is 'on' | 'off' | 'stay' {
  return v === 'on' || v === 'off' || v === 'stay';
}

function validWidth(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 500 && v <= max && v % 500 === 0;
}

function validOutlet(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 3;
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

/** `wiim-sonoff-sim sonoff [--port N] [--deviceid ID] [--multi] [--mdns]` */
export async function runSonoffSimCli(argv: string[]): Promise<void> {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sim = new SonoffSimulator({ deviceid: opt('--deviceid') ?? '1000abcdef', multi: argv.includes('--multi'), mdns: argv.includes('--mdns') });
  const addr = await sim.start({ port: Number(opt('--port') ?? 8081) });
  console.log(
    `SONOFF DIY simulator (${sim.multi ? 'multi' : 'single'}-channel, deviceid ${sim.deviceid}) on http://${addr.host}:${addr.port}/zeroconf/${sim.options.mdns ? ', announced over mDNS' : ''}`,
  );
  const stop = () => {
    sim.stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
