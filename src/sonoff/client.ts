import { DeviceError } from '../shared/errors';
import { DeviceConnection, deviceRequest } from '../shared/http';
import {
  encodeInfo,
  encodeOtaFlash,
  encodeOtaUnlock,
  encodePulse,
  encodePulses,
  encodeSignalStrength,
  encodeStartup,
  encodeStartups,
  encodeSwitch,
  encodeSwitches,
  encodeWifi,
  normaliseState,
  parseReply,
  requestBody,
  type MultiPulseSetting,
  type PulseSetting,
  type SonoffReply,
  type SonoffRequest,
  type SonoffState,
  type StartupValue,
} from './codec';
import { sealedRequestBody } from './crypto';

export const DEFAULT_SONOFF_PORT = 8081;
export const DEFAULT_TIMEOUT_MS = 5000;
/** How long ota_flash may take: the device downloads the whole image before it answers. */
export const OTA_FLASH_TIMEOUT_MS = 120_000;

/**
 * A device's web server takes one connection at a time and resets the
 * others, so a request can be reset before the device read it. Such a
 * request is sent again, this many times, RESET_RETRY_MS apart (SonoffLAN
 * local.py retries up to 10 times). Safe because every command we send is an
 * absolute value (on, off, a width, a brightness), never a relative step:
 * doing it twice leaves the device as doing it once.
 */
export const RESET_RETRIES = 3;
export const RESET_RETRY_MS = 100;

function isReset(err: unknown): boolean {
  return err instanceof DeviceError && err.kind === 'network' && (err.code === 'UND_ERR_SOCKET' || err.code === 'ECONNRESET' || err.code === 'EPIPE');
}

const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

export interface SonoffClientOptions {
  host: string;
  port?: number;
  deviceid: string;
  /** per request; ota_flash gets its own, longer deadline */
  timeoutMs?: number;
  /** stock firmware in LAN mode: every request and reply is encrypted with this key (src/sonoff/crypto.ts) */
  devicekey?: string;
}

/**
 * One SONOFF DIY device over HTTP: one connection, `POST /zeroconf/<endpoint>`
 * with `{deviceid, data}`.
 *
 * deviceid rule: firmware 3.7.6 and later needs the deviceid filled in, so it
 * is always sent. Some devices answer error 422 when it is filled. On such a
 * 422 the client sends the same request once more with `"deviceid": ""`; if
 * that succeeds it remembers, for this device, to send the empty deviceid
 * from then on (`blankDeviceid`). If the retry also fails with 422 the
 * parameters really are bad and the first error is reported.
 *
 * The client does no pacing; the session's queue does (200 ms between
 * requests).
 */
export class SonoffClient {
  readonly deviceid: string;
  private host: string;
  private port: number;
  private readonly timeoutMs: number;
  private readonly connection: DeviceConnection;
  private readonly devicekey: string | undefined;
  private sendBlank = false;
  private cachedOrigin: string | undefined;
  private closed = false;

  constructor(options: SonoffClientOptions) {
    this.deviceid = options.deviceid;
    this.host = options.host;
    this.port = options.port ?? DEFAULT_SONOFF_PORT;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.devicekey = options.devicekey || undefined;
    this.connection = new DeviceConnection({ connectTimeoutMs: this.timeoutMs });
  }

  get origin(): string {
    return (this.cachedOrigin ??= `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`);
  }

  get address(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  /** True when requests go out encrypted (a devicekey is set). */
  get encrypted(): boolean {
    return this.devicekey !== undefined;
  }

  /** True once the device showed that it wants `"deviceid": ""` (422 quirk). */
  get blankDeviceid(): boolean {
    return this.sendBlank;
  }

  /** The device moved (mDNS): the next request goes to the new origin. */
  setAddress(host: string, port: number): void {
    this.host = host;
    this.port = port;
    this.cachedOrigin = undefined;
  }

  /** Sends one request; returns the parsed reply or throws a DeviceError. */
  async request(req: SonoffRequest, timeoutMs?: number): Promise<SonoffReply> {
    if (this.closed) throw new DeviceError('closed', 'the SONOFF client is closed');
    const id = this.sendBlank ? '' : this.deviceid;
    try {
      return await this.postRetrying(req, id, timeoutMs);
    } catch (err) {
      // the 422 case, and firmware that drops the connection instead of answering 422
      // (MINIR3 1.4, BASICR3 3.7.6: Sonoff_Devices_DIY_Tools #132): once more with an empty deviceid
      const refusedId = err instanceof DeviceError && err.code === 422;
      if (id === '' || !(refusedId || isReset(err))) throw err;
      try {
        const reply = await this.post(req, '', timeoutMs);
        this.sendBlank = true;
        return reply;
      } catch (retryErr) {
        if (retryErr instanceof DeviceError && (retryErr.code === 422 || !refusedId)) throw err;
        throw retryErr;
      }
    }
  }

  /** One request, sent again when the device reset it before answering (see RESET_RETRIES). */
  private async postRetrying(req: SonoffRequest, deviceid: string, timeoutMs?: number): Promise<SonoffReply> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.post(req, deviceid, timeoutMs);
      } catch (err) {
        if (!isReset(err) || attempt >= RESET_RETRIES || this.closed) throw err;
        // real time, like the connection's own timers: it spaces real sockets
        await new Promise((resolve) => setTimeout(resolve, RESET_RETRY_MS));
      }
    }
  }

  private async post(req: SonoffRequest, deviceid: string, timeoutMs?: number): Promise<SonoffReply> {
    const reply = await deviceRequest(this.connection, {
      origin: this.origin,
      path: `/zeroconf/${req.endpoint}`,
      method: 'POST',
      body: this.devicekey ? sealedRequestBody(deviceid, req.data, this.devicekey) : requestBody(deviceid, req),
      headers: JSON_HEADERS,
      timeoutMs: timeoutMs ?? this.timeoutMs,
    });
    // some firmware answers a command it does not know with an HTML page: for the ping, an answer is all we ask (SonoffLAN local.py)
    if (req.endpoint === 'getState' && reply.status === 200 && !reply.body.trimStart().startsWith('{')) return { error: 0 };
    return parseReply(reply.status, reply.body, req.endpoint, this.devicekey);
  }

  // single-channel
  switch(on: boolean): Promise<SonoffReply> {
    return this.request(encodeSwitch(on));
  }
  startup(value: StartupValue): Promise<SonoffReply> {
    return this.request(encodeStartup(value));
  }
  pulse(setting: PulseSetting): Promise<SonoffReply> {
    return this.request(encodePulse(setting));
  }

  // multi-channel
  switches(items: ReadonlyArray<{ outlet: number; on: boolean }>): Promise<SonoffReply> {
    return this.request(encodeSwitches(items));
  }
  startups(items: ReadonlyArray<{ outlet: number; startup: StartupValue }>): Promise<SonoffReply> {
    return this.request(encodeStartups(items));
  }
  pulses(items: ReadonlyArray<MultiPulseSetting>): Promise<SonoffReply> {
    return this.request(encodePulses(items));
  }

  // both
  async signalStrength(): Promise<number> {
    const reply = await this.request(encodeSignalStrength());
    const v = reply.data?.signalStrength;
    if (typeof v !== 'number') throw new DeviceError('protocol', 'signal_strength reply carries no signalStrength number');
    return v;
  }
  wifi(ssid: string, password: string): Promise<SonoffReply> {
    return this.request(encodeWifi(ssid, password));
  }
  otaUnlock(): Promise<SonoffReply> {
    return this.request(encodeOtaUnlock());
  }
  /** The device downloads the image before it answers: give it time. */
  otaFlash(downloadUrl: string, sha256: string, timeoutMs = OTA_FLASH_TIMEOUT_MS): Promise<SonoffReply> {
    return this.request(encodeOtaFlash(downloadUrl, sha256), timeoutMs);
  }
  /**
   * The device's state: `info` in DIY mode; in LAN mode `getState`, the
   * request SonoffLAN (local.py) sends, which may answer without data.
   */
  async readState(): Promise<{ reply: SonoffReply; state: SonoffState }> {
    if (!this.devicekey) return this.info();
    const reply = await this.request({ endpoint: 'getState', data: {} });
    return { reply, state: normaliseState(reply.data ?? {}) };
  }

  async info(): Promise<{ reply: SonoffReply; state: SonoffState }> {
    const reply = await this.request(encodeInfo());
    if (!reply.data) throw new DeviceError('protocol', 'info reply carries no data');
    return { reply, state: normaliseState(reply.data) };
  }

  /** Lets the idle connection go now (see DeviceConnection.release). */
  release(): void {
    this.connection.release();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }
}
