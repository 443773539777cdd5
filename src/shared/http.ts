import net, { type Socket } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { DeviceError } from './errors';
import { ReplyError, ReplyReader, type Reply } from './http-reply';

/**
 * The HTTP transport both device families share: one connection per device,
 * one request at a time on it, an overall deadline per request (a slow-drip
 * reply cannot outlive it), errors turned into DeviceErrors a person can
 * read, and one retry on a fresh connection when a kept-alive connection
 * turns out to be closed.
 *
 * It speaks HTTP/1.1 itself (the reply is read by `http-reply.ts`) rather
 * than through undici: a device request is one small request and one small
 * reply, an idle device's every poll is a new connection (WiiM devices drop
 * idle ones within 3 s, a SONOFF relay serves one at a time), and undici's
 * per-connection and per-request machinery (parser instance, request object,
 * a SocketError with a stack trace for every closed socket) was a large part
 * of such a poll's CPU (bench/README.md, part 7).
 */
export interface DeviceConnectionOptions {
  /** for https origins: the TLS context (it holds no device state, so many devices share one) */
  secureContext?: SecureContext;
  /** checks a new TLS connection before its first request (certificate pinning); an Error refuses it */
  verify?: (socket: TLSSocket) => Error | undefined;
  /** resume the TLS session of the last connection (default true) */
  resumeSessions?: boolean;
  /** how long opening a connection may take; default 10 s */
  connectTimeoutMs?: number;
  /** how long an idle connection is kept; default KEEP_ALIVE_MS */
  keepAliveMs?: number;
}

/**
 * How long an idle connection is kept: long enough for the next request of a
 * device in use (a playing WiiM's 1 s poll, a burst of commands, a relay's
 * 200 ms pacing), short of the 2 to 3 s after which devices drop an idle
 * connection, so that we never write into one the device is closing. A
 * session that knows nothing will follow soon (an idle device's poll) lets
 * the connection go at once with `release()`.
 */
export const KEEP_ALIVE_MS = 1500;

/** A device's `Keep-Alive: timeout=N` is taken this much short, for the same reason. */
const KEEP_ALIVE_HINT_MARGIN_MS = 1000;

export interface DeviceRequest {
  origin: string;
  path: string;
  method?: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
}

export interface DeviceReply {
  status: number;
  body: string;
}

/** A path is visible ASCII (percent-encoded beyond it); a header name a token; a value has no control characters. */
const SAFE_PATH = /^\/[\x21-\x7e]*$/;
const SAFE_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SAFE_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** What tls.connect itself calls to offer a session; not in Node's typings, so looked up, with the option as the fallback. */
const setSession = (tls.TLSSocket.prototype as unknown as { setSession?: (this: TLSSocket, session: Buffer) => void }).setSession;

/** The code of a connection the device closed, without an error, before its reply was whole. */
const SOCKET_CLOSED = 'SOCKET_CLOSED';
const RESET_CODES = new Set([SOCKET_CLOSED, 'ECONNRESET', 'EPIPE']);

/** True when the device closed or reset the connection before replying (the request may not have been read). */
export function isConnectionReset(err: unknown): boolean {
  return err instanceof DeviceError && err.kind === 'network' && typeof err.code === 'string' && RESET_CODES.has(err.code);
}

/** Sends one request on the device's connection; the reply, or a DeviceError. */
export function deviceRequest(connection: DeviceConnection, req: DeviceRequest): Promise<DeviceReply> {
  return connection.request(req);
}

/** One request: its deadline, its reply as it arrives, its outcome (once). */
class Exchange {
  readonly reader: ReplyReader;
  /** sent on a connection that had carried replies before (it may be one the device is closing) */
  onReusedSocket = false;
  retried = false;
  settled = false;
  private readonly deadline: NodeJS.Timeout;
  /** set by the connection: what to do when the deadline passes while it is on the wire */
  onDeadline: (() => void) | undefined;

  constructor(
    readonly req: DeviceRequest,
    private readonly resolve: (reply: DeviceReply) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.reader = new ReplyReader();
    // the whole request, waiting and connecting included, so that a reply dripping in byte by byte cannot outlive it
    this.deadline = setTimeout(() => {
      this.onDeadline?.();
      this.fail(new DeviceError('timeout', `no answer from ${hostOf(req.origin)} within ${req.timeoutMs} ms`));
    }, req.timeoutMs);
  }

  succeed(reply: Reply): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.deadline);
    this.resolve({ status: reply.status, body: reply.body.toString('utf8') });
  }

  fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.deadline);
    this.reject(err);
  }
}

/**
 * One device's connection. Requests wait their turn (devices misbehave under
 * concurrent requests); a kept-alive socket carries the next one; a request
 * to another origin (a relay that moved, WiiM's port detection) closes the
 * socket of the old one.
 *
 * Its timers (the connect and request deadlines, the keep-alive) run on real
 * time, not on a session's Clock: they bound real sockets. What decides when
 * a connection may go early (a session's idle release) runs on the session's
 * clock.
 */
export class DeviceConnection {
  private readonly secureContext: SecureContext | undefined;
  private readonly verify: DeviceConnectionOptions['verify'];
  private readonly resumeSessions: boolean;
  private readonly connectTimeoutMs: number;
  private readonly keepAliveMs: number;
  private socket: Socket | undefined;
  /** the origin the socket is connected to */
  private origin = '';
  private target: Target = { host: '', port: 0, secure: false, hostHeader: '' };
  /** the socket is open and may carry the next request */
  private ready = false;
  /** replies the socket has carried */
  private served = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private current: Exchange | undefined;
  private readonly waiting: Exchange[] = [];
  /** the TLS session of the last connection, offered to the next: the device skips its signature */
  private session: Buffer | undefined;
  private closed = false;

  constructor(options: DeviceConnectionOptions = {}) {
    this.secureContext = options.secureContext;
    this.verify = options.verify;
    this.resumeSessions = options.resumeSessions ?? true;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  }

  /** Sends one request when its turn comes; the reply, or a DeviceError (its deadline, a failure, close()). */
  request(req: DeviceRequest): Promise<DeviceReply> {
    return new Promise((resolve, reject) => {
      // what goes into the request line and headers as written: a line break there would be a request of its own
      if (!SAFE_PATH.test(req.path) || (req.headers && Object.entries(req.headers).some(([k, v]) => !SAFE_TOKEN.test(k) || !SAFE_VALUE.test(v)))) {
        return reject(new DeviceError('argument', 'the request has characters that cannot go into an HTTP request line or header'));
      }
      const exchange = new Exchange(req, resolve, reject);
      // a request cut off by close() may look like one on a stale socket, and its retry must not open a new connection
      if (this.closed) return exchange.fail(new DeviceError('closed', 'the connection to the device is closed'));
      exchange.onDeadline = () => this.drop(exchange);
      this.waiting.push(exchange);
      this.next();
    });
  }

  /**
   * Closes the connection now if no request is on it, instead of when the
   * keep-alive runs out: for a device that will not be asked again for a
   * while. The next request opens a new one.
   */
  release(): void {
    if (this.current || this.waiting.length > 0) return;
    this.discard();
  }

  /** Closes the connection for good; a request still running or waiting is refused. */
  close(): Promise<void> {
    this.closed = true;
    this.discard();
    const refused = new DeviceError('closed', 'the connection to the device is closed');
    this.current?.fail(refused);
    this.current = undefined;
    for (const exchange of this.waiting.splice(0)) exchange.fail(refused);
    return Promise.resolve();
  }

  /** An exchange whose deadline passed: out of the queue, or off the wire (its socket cannot carry another). */
  private drop(exchange: Exchange): void {
    if (this.current === exchange) {
      this.current = undefined;
      this.discard();
      this.next();
    } else {
      const i = this.waiting.indexOf(exchange);
      if (i >= 0) this.waiting.splice(i, 1);
    }
  }

  private next(): void {
    if (this.current || this.closed) return;
    let exchange = this.waiting.shift();
    while (exchange?.settled) exchange = this.waiting.shift();
    if (!exchange) return;
    this.current = exchange;
    const origin = exchange.req.origin;
    const reuse = this.socket !== undefined && this.ready && this.origin === origin;
    exchange.onReusedSocket = reuse && this.served > 0;
    if (reuse) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
      this.write(exchange);
      return;
    }
    this.discard();
    if (this.origin !== origin) {
      this.session = undefined; // it belongs to the old origin
      this.origin = origin;
      this.target = targetOf(origin);
    }
    this.open(exchange);
  }

  /** Opens the socket for `exchange`'s origin and sends it once connected (and verified). */
  private open(exchange: Exchange): void {
    const { host, port, secure } = this.target;
    let socket: Socket;
    if (secure) {
      const tlsSocket = tls.connect({
        host,
        port,
        // no SNI for an address (devices are reached by address, and RFC 6066 forbids it)
        servername: net.isIP(host) === 0 ? host : undefined,
        secureContext: this.secureContext,
        // the device's own self-signed certificate; `verify` pins it where asked
        rejectUnauthorized: false,
        session: setSession ? undefined : this.session,
      });
      // given as an option, tls.connect decodes the session twice (as it builds the socket, and again after);
      // set here, before the TCP connection is up, it is decoded once and offered all the same
      if (this.session && setSession) setSession.call(tlsSocket, this.session);
      if (this.resumeSessions) tlsSocket.on('session', (session: Buffer) => (this.session = session));
      socket = tlsSocket;
    } else {
      socket = net.connect({ host, port });
    }
    this.socket = socket;
    this.ready = false;
    this.served = 0;
    socket.setNoDelay(true);
    const connectTimer = setTimeout(
      () => socket.destroy(new DeviceError('timeout', `could not connect to ${host} within ${this.connectTimeoutMs} ms`, { code: 'CONNECT_TIMEOUT' })),
      this.connectTimeoutMs,
    );
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      const refused = this.verify?.(socket as TLSSocket);
      if (refused) return socket.destroy(refused);
      this.ready = true;
      if (this.current === exchange) this.write(exchange);
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (err: Error) => this.onClose(socket, err));
    socket.on('close', () => {
      clearTimeout(connectTimer);
      this.onClose(socket, undefined);
    });
  }

  private write(exchange: Exchange): void {
    const { req } = exchange;
    const method = req.method ?? 'GET';
    let head = `${method} ${req.path} HTTP/1.1\r\nhost: ${this.target.hostHeader}\r\nconnection: keep-alive\r\n`;
    if (req.headers) for (const name of Object.keys(req.headers)) head += `${name}: ${req.headers[name]}\r\n`;
    if (req.body !== undefined) head += `content-length: ${Buffer.byteLength(req.body)}\r\n`;
    (this.socket as Socket).write(req.body !== undefined ? `${head}\r\n${req.body}` : `${head}\r\n`);
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    const exchange = this.current;
    if (!exchange) return void this.discard(); // nothing was asked: the connection is not in a known state
    let reply: Reply | undefined;
    try {
      reply = exchange.reader.push(chunk);
    } catch (err) {
      this.current = undefined;
      this.discard();
      exchange.fail(unreadable(err, exchange.req));
      return this.next();
    }
    if (reply) this.complete(exchange, reply);
  }

  private complete(exchange: Exchange, reply: Reply): void {
    this.current = undefined;
    this.served++;
    exchange.succeed(reply);
    const keepFor = reply.keepAliveHintMs === undefined ? this.keepAliveMs : Math.min(this.keepAliveMs, reply.keepAliveHintMs - KEEP_ALIVE_HINT_MARGIN_MS);
    if (!reply.keepAlive || reply.trailing || keepFor <= 0) this.discard();
    else if (this.waiting.length === 0) {
      const socket = this.socket;
      this.idleTimer = setTimeout(() => {
        if (this.socket === socket && !this.current) this.discard();
      }, keepFor);
    }
    this.next();
  }

  /** The socket closed (err: with an error): its request fails or, if the device closed a kept-alive one under it, goes again once. */
  private onClose(socket: Socket, err: Error | undefined): void {
    if (socket !== this.socket) return;
    const exchange = this.current;
    this.current = undefined;
    this.discard();
    if (!exchange) return;
    const ended = err ? undefined : exchange.reader.end();
    if (ended) {
      exchange.succeed(ended);
      return this.next();
    }
    const failure = err instanceof DeviceError ? err : describe(err, exchange.req);
    // a kept-alive connection the device had already closed fails before the device could read the request: safe to send again, once
    if (exchange.onReusedSocket && !exchange.retried && exchange.reader.received === 0 && isConnectionReset(failure)) {
      exchange.retried = true;
      this.waiting.unshift(exchange);
    } else exchange.fail(failure);
    this.next();
  }

  /** Lets the socket go (a plain destroy: nothing is waiting on it). */
  private discard(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.ready = false;
    socket?.destroy();
  }
}

interface Target {
  host: string;
  port: number;
  secure: boolean;
  hostHeader: string;
}

function targetOf(origin: string): Target {
  const url = new URL(origin);
  const secure = url.protocol === 'https:';
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) || (secure ? 443 : 80), secure, hostHeader: url.host };
}

function hostOf(origin: string): string {
  return origin.replace(/^[a-z]+:\/\//, '');
}

function unreadable(err: unknown, req: DeviceRequest): DeviceError {
  const where = hostOf(req.origin);
  if (err instanceof ReplyError) return new DeviceError('protocol', `${where} sent ${err.message}`);
  return describe(err instanceof Error ? err : new Error(String(err)), req);
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describe(err: Error | undefined, req: DeviceRequest): DeviceError {
  const where = hostOf(req.origin);
  const code = err ? errorCode(err) : SOCKET_CLOSED;
  switch (code) {
    case 'ECONNREFUSED':
      return new DeviceError('network', `connection refused by ${where}`, { code, cause: err });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DeviceError('network', `cannot reach ${where} (${code})`, { code, cause: err });
    case SOCKET_CLOSED:
    case 'ECONNRESET':
    case 'EPIPE':
      return new DeviceError('network', `${where} closed the connection before replying`, { code, cause: err });
    default:
      return new DeviceError('network', `request to ${where} failed: ${err?.message ?? 'the connection closed'}`, { code, cause: err });
  }
}
