import { DeviceError } from '../shared/errors';
import { DeviceConnection, deviceRequest, isConnectionReset, type DeviceReply } from '../shared/http';
import {
  encodeInfo,
  encodeOtaUnlock,
  encodePulse,
  encodePulses,
  encodeSignalStrength,
  encodeStartup,
  encodeStartups,
  encodeSwitch,
  encodeSwitches,
  encodeWifi,
  isIdempotent,
  parseReply,
  requestBody,
  type MultiPulseSetting,
  type PulseSetting,
  type SonoffReply,
  type SonoffRequest,
} from './codec';
import { normaliseState, type SonoffState, type MeterHint, type StartupValue } from './state';
import { aesKey, sealedRequestBody } from './crypto';

export const DEFAULT_SONOFF_PORT = 8081;
export const DEFAULT_TIMEOUT_MS = 5000;
/** How long ota_flash may take: the device downloads the whole image before it answers. */
export const OTA_FLASH_TIMEOUT_MS = 120_000;

/**
 * A device's web server takes one connection at a time and resets the
 * others, so a request can be reset before the device read it. Such a
 * request is sent again, this many times, RESET_RETRY_MS apart (SonoffLAN
 * local.py retries up to 10 times), if it is idempotent (an absolute value:
 * on, off, a width, a brightness; codec.ts isIdempotent): doing it twice
 * leaves the device as doing it once. A toggle or an OTA step is never sent
 * again.
 */
export const RESET_RETRIES = 3;
export const RESET_RETRY_MS = 100;

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
  /** the AES key, derived from the devicekey once rather than per message */
  private readonly key: Buffer | undefined;
  private sendBlank = false;
  /** the last `info` reply: a relay answers the same bytes poll after poll, and those are not read again */
  private lastInfo: { body: string; reply: SonoffReply; state?: SonoffState; meterKey?: string } | undefined;
  private cachedOrigin: string | undefined;
  private closed = false;

  constructor(options: SonoffClientOptions) {
    this.deviceid = options.deviceid;
    this.host = options.host;
    this.port = options.port ?? DEFAULT_SONOFF_PORT;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.key = options.devicekey ? aesKey(options.devicekey) : undefined;
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
    return this.key !== undefined;
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

  /**
   * Sends one request; returns the parsed reply or throws a DeviceError.
   * Promise chains rather than nested async functions: this runs for every
   * poll of every relay, and each async frame is one more object to collect.
   */
  request(req: SonoffRequest, timeoutMs?: number): Promise<SonoffReply> {
    if (this.closed) return Promise.reject(new DeviceError('closed', 'the SONOFF client is closed'));
    const id = this.sendBlank ? '' : this.deviceid;
    return this.postRetrying(req, id, timeoutMs, 0).catch((err: unknown) => {
      // the 422 case, and firmware that drops the connection instead of answering 422
      // (MINIR3 1.4, BASICR3 3.7.6: Sonoff_Devices_DIY_Tools #132): once more with an empty deviceid
      const refusedId = err instanceof DeviceError && err.code === 422;
      if (id === '' || !(refusedId || (isConnectionReset(err) && isIdempotent(req)))) throw err;
      return this.post(req, '', timeoutMs).then(
        (reply) => {
          this.sendBlank = true;
          return reply;
        },
        (retryErr: unknown) => {
          if (retryErr instanceof DeviceError && (retryErr.code === 422 || !refusedId)) throw err;
          throw retryErr;
        },
      );
    });
  }

  /** One request, sent again when the device reset it before answering (see RESET_RETRIES). */
  private postRetrying(req: SonoffRequest, deviceid: string, timeoutMs: number | undefined, attempt: number): Promise<SonoffReply> {
    return this.post(req, deviceid, timeoutMs).catch((err: unknown) => {
      if (!isConnectionReset(err) || attempt >= RESET_RETRIES || this.closed || !isIdempotent(req)) throw err;
      // real time, like the connection's own timers: it spaces real sockets
      return new Promise((resolve) => setTimeout(resolve, RESET_RETRY_MS)).then(() => this.postRetrying(req, deviceid, timeoutMs, attempt + 1));
    });
  }

  private post(req: SonoffRequest, deviceid: string, timeoutMs?: number): Promise<SonoffReply> {
    return deviceRequest(this.connection, {
      origin: this.origin,
      path: `/zeroconf/${req.endpoint}`,
      method: 'POST',
      body: this.key ? sealedRequestBody(deviceid, req.data, this.key) : requestBody(deviceid, req),
      headers: JSON_HEADERS,
      timeoutMs: timeoutMs ?? this.timeoutMs,
      idempotent: isIdempotent(req),
    }).then((reply) => this.read(req.endpoint, reply));
  }

  private read(endpoint: string, reply: DeviceReply): SonoffReply {
    // some firmware answers a command it does not know with an HTML page: for the ping, an answer is all we ask (SonoffLAN local.py)
    if (endpoint === 'getState' && reply.status === 200 && !reply.body.trimStart().startsWith('{')) return { error: 0 };
    if (endpoint !== 'info' || reply.status !== 200) return parseReply(reply.status, reply.body, endpoint, this.key);
    if (reply.body === this.lastInfo?.body) return this.lastInfo.reply;
    const read = parseReply(reply.status, reply.body, endpoint, this.key);
    this.lastInfo = { body: reply.body, reply: read };
    return read;
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
  /** Sends an encoded ota_flash request (encodeOtaFlash, which checks it), allowing the download its own, longer time. */
  otaFlash(request: SonoffRequest, timeoutMs = OTA_FLASH_TIMEOUT_MS): Promise<SonoffReply> {
    return this.request(request, timeoutMs);
  }
  /**
   * The device's state: `info` in DIY mode; in LAN mode `getState`, the
   * request SonoffLAN (local.py) sends, which may answer without data.
   * `meter` says how to read a meter's units where its data does not.
   */
  readState(meter?: MeterHint): Promise<{ reply: SonoffReply; state: SonoffState }> {
    if (!this.key) return this.info(meter);
    return this.request({ endpoint: 'getState', data: {} }).then((reply) => ({ reply, state: normaliseState(reply.data ?? {}, meter) }));
  }

  /** `info`; the same bytes as the last time, read with the same meter hint, give the same state object, so that a session can see that nothing changed. */
  info(meter?: MeterHint): Promise<{ reply: SonoffReply; state: SonoffState }> {
    return this.request(encodeInfo()).then((reply) => {
      if (!reply.data) throw new DeviceError('protocol', 'info reply carries no data');
      const last = this.lastInfo;
      if (last?.reply !== reply) return { reply, state: normaliseState(reply.data, meter) };
      const key = `${meter?.set}/${meter?.known}`;
      if (!last.state || last.meterKey !== key) Object.assign(last, { state: normaliseState(reply.data, meter), meterKey: key });
      return { reply, state: last.state as SonoffState };
    });
  }

  /** Lets the idle connection go now, and its Client unless the device is read again soon (see DeviceConnection.release). */
  release(keepClient = false): void {
    this.connection.release(keepClient);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }
}
