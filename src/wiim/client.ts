import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { argumentError, DeviceError } from '../shared/errors';
import { DeviceConnection, deviceRequest } from '../shared/http';
import {
  prepareCommand,
  wiimRequest,
  type BuiltCommand,
  type CommandContext,
  type DeviceFacts,
  type PlayerEffect,
  type PreparedCommand,
  type WiimCommandArgList,
  type WiimCommandName,
} from './commands';
import { lacksSettingMessage, loopSchemeOf } from './models';
import {
  parseEqList,
  parseEqStat,
  parseInfo,
  parseMeta,
  parsePlayerStatus,
  classifyReply,
  parseEqBands,
  parsePresets,
  parseReply,
  type Reading,
  type WiimEqBands,
  parseSlaveList,
  type ReplyContext,
  type WiimInfo,
  type WiimMeta,
} from './parse';
import { type WiimPlayerStatus } from './state';

export type WiimProtocol = 'auto' | 'https' | 'http';

export interface WiimEndpoint {
  protocol: 'https' | 'http';
  port: number;
}

export const DEFAULT_TIMEOUT_MS = 5000;

/** What `auto` tries, in order: WiiM (443), other LinkPlay and Audio Pro (4443), then 8443, old devices (80), then 8080 (pywiim's probe list). */
export const AUTO_ENDPOINTS: readonly WiimEndpoint[] = [
  { protocol: 'https', port: 443 },
  { protocol: 'https', port: 4443 },
  { protocol: 'https', port: 8443 },
  { protocol: 'http', port: 80 },
  { protocol: 'http', port: 8080 },
];

export interface WiimClientOptions {
  host: string;
  /** empty = by protocol (auto: 443, 4443, 80) */
  port?: number;
  protocol?: WiimProtocol;
  /** per request; default DEFAULT_TIMEOUT_MS */
  timeoutMs?: number;
  /** pinned SHA-256 certificate fingerprint (hex, any separators) */
  fingerprint?: string;
  /** the endpoints `auto` tries when no port is set (tests inject their own) */
  candidates?: readonly WiimEndpoint[];
  /** how long an idle connection is kept (default: the transport's KEEP_ALIVE_MS) */
  keepAliveMs?: number;
  /**
   * A client certificate and its key (PEM), for devices that ask for mutual
   * TLS (Audio Pro on 4443, as pywiim api/ssl.py does). The user gives their
   * own; none ships with the package. Used for this device only.
   */
  clientCert?: string;
  clientKey?: string;
}

/** A getPlayerStatus reply: normalised, as parsed, and as received. Read it, do not change it. */
export interface PlayerReading {
  readonly status: Readonly<WiimPlayerStatus>;
  readonly raw: Readonly<Record<string, unknown>>;
  readonly body: string;
}

export interface CommandResult {
  command: WiimCommandName;
  /** the device command string as sent (after `command=`) */
  request: string;
  /** the reply body as received */
  raw: string;
  /** the normalised result: what wiim-command puts in msg.payload */
  payload: unknown;
  /** the main reply as read, typed by its kind (narrow on `reading.reply`) */
  reading: Reading;
  /** the value the command set, when it sets one */
  applied?: unknown;
  /** what the command does to the player's state, typed (BuiltCommand.effect) */
  effect?: PlayerEffect;
}

/** Normalises a fingerprint to upper-case hex pairs joined by ':'; throws when it is not SHA-256. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-f]/gi, '').toUpperCase();
  if (hex.length !== 64) throw argumentError(`the certificate fingerprint must be a SHA-256 (64 hex digits), got "${fp}"`);
  return hex.replace(/(..)(?!$)/g, '$1:');
}

const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

/** A strict handshake failure that relaxed settings may cure (old TLS versions, weak keys or ciphers). */
function isHandshakeFailure(err: DeviceError): boolean {
  const code = typeof err.code === 'string' ? err.code : '';
  if (NOT_TLS_CODES.has(code)) return false;
  if (code.startsWith('ERR_SSL_')) return true;
  return code === 'EPROTO' && /handshake|version|cipher|protocol|too small/i.test(err.message);
}

const tlsContexts: { strict?: SecureContext; relaxed?: SecureContext } = {};

/**
 * The TLS context of every WiiM connection in the process, strict or relaxed.
 * Without one given, each new connection (each poll after the keep-alive)
 * builds its own, which costs much of the process's busy time with many
 * devices; and each context holds native memory. So the devices share two
 * rather than have one each; a context keeps no state of a device.
 */
function tlsContext(relaxed: boolean): SecureContext {
  const kind = relaxed ? 'relaxed' : 'strict';
  tlsContexts[kind] ??= createSecureContext(relaxed ? { minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' } : {});
  return tlsContexts[kind];
}

/**
 * One WiiM / LinkPlay device over its HTTP API: one connection for this
 * device only (it accepts the device's self-signed certificate, and nothing
 * else in the process is affected), an optional pinned certificate
 * fingerprint, protocol and port detection, and relaxed TLS for old firmware,
 * tried only when the strict handshake fails.
 */
export class WiimClient {
  readonly host: string;
  readonly timeoutMs: number;
  private readonly candidates: readonly WiimEndpoint[];
  private readonly pin: string | undefined;
  private readonly keepAliveMs: number | undefined;
  private readonly strict: DeviceConnection;
  private relaxedConnection: DeviceConnection | undefined;
  private relaxed = false;
  private found: WiimEndpoint | undefined;
  /** the origin of the endpoint last asked (a device settles on one: a Map per device for the others would cost more than the string) */
  private originEp: WiimEndpoint | undefined;
  private originStr = '';
  private closed = false;
  private eqListCache: string[] | undefined;
  private lastPlayer: PlayerReading | undefined;
  private presetCountCache: number | undefined;
  private facts: DeviceFacts | undefined;
  /** TLS contexts of this device alone, when it has a client certificate */
  private ownContexts: { strict?: SecureContext; relaxed?: SecureContext } | undefined;
  private readonly clientCert: { cert: string; key: string } | undefined;

  constructor(options: WiimClientOptions) {
    const host = options.host.trim();
    if (host === '') throw argumentError('the WiiM device has no host');
    if (/[/\s?#@]/.test(host)) throw argumentError(`the host must be an address or name without a scheme or path, got "${host}"`);
    this.host = host;
    this.timeoutMs = options.timeoutMs && options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_TIMEOUT_MS;
    this.pin = options.fingerprint && options.fingerprint.trim() !== '' ? normaliseFingerprint(options.fingerprint) : undefined;
    this.keepAliveMs = options.keepAliveMs;
    const cert = options.clientCert?.trim();
    const key = options.clientKey?.trim();
    if (!!cert !== !!key) throw argumentError('a client certificate needs its key, and a key its certificate (both PEM)');
    this.clientCert = cert && key ? { cert, key } : undefined;
    const protocol = options.protocol ?? 'auto';
    const port = options.port && options.port > 0 ? options.port : undefined;
    if (port !== undefined && (!Number.isInteger(port) || port > 65535)) throw argumentError(`port must be from 1 to 65535, got ${port}`);
    if (protocol === 'https')
      this.candidates = port
        ? [{ protocol, port }]
        : [
            { protocol, port: 443 },
            { protocol, port: 4443 },
          ];
    else if (protocol === 'http') this.candidates = [{ protocol, port: port ?? 80 }];
    else if (port)
      this.candidates = [
        { protocol: 'https', port },
        { protocol: 'http', port },
      ];
    else this.candidates = options.candidates && options.candidates.length > 0 ? options.candidates : AUTO_ENDPOINTS;
    if (this.candidates.length === 1) this.found = this.candidates[0];
    this.strict = this.connection(false);
  }

  /** The endpoint in use, once known. */
  get endpoint(): WiimEndpoint | undefined {
    return this.found;
  }

  /** How many preset slots the device has, once a status read told us. */
  get presetCount(): number | undefined {
    return this.presetCountCache;
  }

  /** True when this device needed relaxed TLS settings. */
  get relaxedTls(): boolean {
    return this.relaxed;
  }

  private connection(relaxed: boolean): DeviceConnection {
    const pin = this.pin;
    const host = this.host;
    const verify = pin
      ? (socket: TLSSocket): Error | undefined => {
          const cert = socket.getPeerCertificate();
          const got = cert && cert.fingerprint256 ? cert.fingerprint256.toUpperCase() : '(none)';
          if (got === pin) return undefined;
          return new DeviceError(
            'network',
            `the certificate of ${host} does not match the pinned fingerprint (device: ${got}, pinned: ${pin}); if the device's certificate changed, update the pinned fingerprint`,
            { code: 'CERT_FINGERPRINT_MISMATCH' },
          );
        }
      : undefined;
    return new DeviceConnection({
      secureContext: this.clientCert ? this.ownContext(relaxed) : tlsContext(relaxed),
      verify,
      // a resumed session shows no certificate to check
      resumeSessions: !pin,
      connectTimeoutMs: this.timeoutMs,
      keepAliveMs: this.keepAliveMs,
    });
  }

  /** A context with the client certificate: this device's own, never shared. */
  private ownContext(relaxed: boolean): SecureContext {
    const kind = relaxed ? 'relaxed' : 'strict';
    const { cert, key } = this.clientCert as { cert: string; key: string };
    const own = (this.ownContexts ??= {});
    try {
      own[kind] ??= createSecureContext({ cert, key, ...(relaxed ? { minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' } : {}) });
    } catch (err) {
      throw argumentError(`the client certificate or key is not usable PEM: ${(err as Error).message}`);
    }
    return own[kind];
  }

  private originOf(ep: WiimEndpoint): string {
    if (this.originEp !== ep) {
      this.originStr = `${ep.protocol}://${this.host.includes(':') ? `[${this.host}]` : this.host}:${ep.port}`;
      this.originEp = ep;
    }
    return this.originStr;
  }

  private async attempt(ep: WiimEndpoint, request: string, idempotent: boolean, timeoutMs: number): Promise<string> {
    const req = { origin: this.originOf(ep), path: `/httpapi.asp?command=${request}`, timeoutMs, idempotent };
    let reply;
    if (ep.protocol === 'https' && this.relaxed) {
      reply = await deviceRequest(this.relaxedTlsConnection(), req);
    } else {
      try {
        reply = await deviceRequest(this.strict, req);
      } catch (err) {
        if (!(ep.protocol === 'https' && err instanceof DeviceError && isHandshakeFailure(err))) throw err;
        reply = await deviceRequest(this.relaxedTlsConnection(), req);
        this.relaxed = true;
      }
    }
    if (reply.status < 200 || reply.status > 299) {
      // httpapi.asp answers 200 even to a command it refuses: another status is not an API reply
      throw new DeviceError('protocol', `${this.host} answered HTTP ${reply.status} to ${decodeSafe(request)}`, { code: reply.status });
    }
    return reply.body;
  }

  private relaxedTlsConnection(): DeviceConnection {
    // close() has already closed the connections it knew of
    if (this.closed) throw new DeviceError('closed', `the connection to ${this.host} is closed`);
    this.relaxedConnection ??= this.connection(true);
    return this.relaxedConnection;
  }

  /**
   * Sends one device command string (already percent-encoded) and returns
   * the reply body. The first request of an `auto` client finds the endpoint.
   * `idempotent`: whether sending it twice acts as once (BuiltCommand.idempotent).
   */
  async request(request: string, idempotent: boolean, timeoutMs = this.timeoutMs): Promise<string> {
    if (this.closed) throw new DeviceError('closed', `the connection to ${this.host} is closed`);
    if (this.found) return this.attempt(this.found, request, idempotent, timeoutMs);
    const failures: string[] = [];
    let first: DeviceError | undefined;
    for (const ep of this.candidates) {
      try {
        const body = await this.attempt(ep, request, idempotent, timeoutMs);
        this.found = ep;
        return body;
      } catch (err) {
        if (!(err instanceof DeviceError) || !err.isTransport || err.code === 'CERT_FINGERPRINT_MISMATCH') throw err;
        first ??= err;
        failures.push(`${ep.protocol}:${ep.port}`);
      }
    }
    const f = first as DeviceError;
    throw new DeviceError(f.kind, `no WiiM device answers at ${this.host} (tried ${failures.join(', ')}): ${f.message}`, { code: f.code, cause: f });
  }

  /** A read: safe to send again. */
  private query(request: string): Promise<string> {
    return this.request(request, true);
  }

  private ctx(request: string): ReplyContext {
    return { request, host: this.host, outputs: this.facts?.outputs };
  }

  /**
   * The player state. An idle device answers the same bytes poll after
   * poll; such a reply is not parsed again, and the reading it gives is the
   * last one, the same objects: the caller can tell nothing changed, and no
   * new copy outlives the poll into V8's old space.
   */
  async playerStatus(): Promise<PlayerReading> {
    const body = await this.query('getPlayerStatus');
    if (this.lastPlayer?.body !== body) {
      const { status, raw } = parsePlayerStatus(body, this.ctx('getPlayerStatus'), this.facts?.loopScheme);
      // a literal, not a spread: each spread copy got a hidden class of its own (168 bytes a device, bench/README.md)
      this.lastPlayer = { status, raw, body };
    }
    return this.lastPlayer;
  }

  async statusEx(): Promise<{ info: WiimInfo; raw: Record<string, unknown>; body: string }> {
    const body = await this.query('getStatusEx');
    const r = parseInfo(body, this.ctx('getStatusEx'));
    this.presetCountCache = r.info.presets || undefined;
    const scheme = loopSchemeOf(r.info.modelId, r.info.firmware);
    if (this.facts && this.facts.loopScheme !== scheme) this.lastPlayer = undefined;
    this.facts = { modelId: r.info.modelId, product: r.info.product, inputs: r.info.inputs, outputs: r.model.outputs, loopScheme: scheme };
    return { ...r, body };
  }

  /** The model's facts (read once from getStatusEx). */
  async deviceFacts(): Promise<DeviceFacts> {
    if (!this.facts) await this.statusEx();
    return this.facts as DeviceFacts;
  }

  /** EQGetBand: the EQ state, the loaded preset's name and the band values. */
  async eqBands(): Promise<WiimEqBands> {
    return parseEqBands(await this.query('EQGetBand'), this.ctx('EQGetBand'));
  }

  /** The output in use: getNewAudioOutputHardwareMode, or getActiveSoundCardOutputMode where only that is known. */
  async output(): Promise<string | undefined> {
    const { reading } = await this.run(prepareCommand({ command: 'output', arg: undefined }));
    return reading.reply === 'output' || reading.reply === 'active-output' ? reading.value : undefined;
  }

  async metaInfo(): Promise<WiimMeta | null> {
    return parseMeta(await this.query('getMetaInfo'), this.ctx('getMetaInfo'));
  }

  async presetInfo(): Promise<ReturnType<typeof parsePresets>> {
    return parsePresets(await this.query('getPresetInfo'), this.ctx('getPresetInfo'));
  }

  async slaveList(): Promise<ReturnType<typeof parseSlaveList>> {
    return parseSlaveList(await this.query('multiroom:getSlaveList'), this.ctx('multiroom:getSlaveList'));
  }

  async eqList(): Promise<string[]> {
    const list = parseEqList(await this.query('EQGetList'), this.ctx('EQGetList'));
    this.eqListCache = list;
    return list;
  }

  async eqStat(): Promise<'on' | 'off'> {
    return parseEqStat(await this.query('EQGetStat'), this.ctx('EQGetStat'));
  }

  /**
   * Runs a prepared command: fetches the facts it needs (the player state
   * and the group always fresh, the EQ list and preset count once), builds it (which may
   * still refuse the argument) and reads the reply.
   */
  async run(prepared: PreparedCommand, known: CommandContext = {}): Promise<CommandResult> {
    const ctx: CommandContext = { ...known };
    for (const need of prepared.needs) {
      if (need === 'player' && !ctx.player) ctx.player = (await this.playerStatus()).status;
      if (need === 'eqList' && !ctx.eqList) ctx.eqList = this.eqListCache ?? (await this.eqList());
      if (need === 'presetCount' && ctx.presetCount === undefined) ctx.presetCount = this.presetCountCache ?? (await this.statusEx()).info.presets;
      if (need === 'device' && !ctx.device) ctx.device = await this.deviceFacts();
      // the group as it is now, never a cached one: followers come and go
      if (need === 'followers' && !ctx.followers) ctx.followers = (await this.slaveList()).followers.flatMap((f) => (f.ip ? [f.ip] : []));
    }
    const built = prepared.build(ctx);
    let request = built.request;
    let reply = built.reply;
    let raw = await this.request(request, built.idempotent);
    if (built.fallback && classifyReply(raw).kind === 'unknown-command') {
      ({ request, reply } = built.fallback);
      raw = await this.request(request, built.idempotent);
    }
    const reading = this.read(built, reply, raw, request, ctx);
    if (reading.reply === 'eq-list') this.eqListCache = reading.value;
    let payload: unknown = isAck(reply) ? (built.applied ?? true) : reading.value;
    // the slots a model has: getStatusEx preset_key (pywiim and WiiM's library read it so)
    if (reading.reply === 'presets' && ctx.presetCount !== undefined) payload = { ...reading.value, slots: ctx.presetCount };
    for (const next of built.then ?? []) {
      const body = await this.request(next.request, built.idempotent);
      const value = this.read(built, next.reply, body, next.request, ctx).value;
      // a read after the first (the burn progress after the update status) joins the payload
      if (!isAck(next.reply)) payload = { ...(typeof payload === 'object' ? payload : {}), progress: value };
    }
    const result: CommandResult = { command: prepared.command, request, raw, payload, reading, applied: built.applied };
    if (built.effect) result.effect = built.effect;
    return result;
  }

  /** Reads one reply; a setting's `unknown command` says the model lacks the setting. */
  private read(built: BuiltCommand, reply: BuiltCommand['reply'], raw: string, request: string, ctx: CommandContext): Reading {
    if (built.setting && classifyReply(raw).kind === 'unknown-command') {
      throw new DeviceError('argument', lacksSettingMessage(built.setting, ctx.device?.product ?? this.host));
    }
    return parseReply(reply, raw, this.ctx(request));
  }

  /** Checks, encodes and runs a wiim-command command with its typed argument. */
  command<C extends WiimCommandName>(command: C, ...arg: WiimCommandArgList<C>): Promise<CommandResult> {
    return this.run(prepareCommand(wiimRequest(command, ...arg)));
  }

  /** Lets the idle connection go now, and its Client unless the device is read again soon (see DeviceConnection.release). */
  release(keepClient = false): void {
    this.strict.release(keepClient);
    this.relaxedConnection?.release(keepClient);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.strict.close(), this.relaxedConnection?.close()]);
  }
}

function isAck(reply: BuiltCommand['reply']): boolean {
  return reply === 'ack' || reply === 'ack-lenient' || reply === 'eq-off' || reply === 'reboot';
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
