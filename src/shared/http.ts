/**
 * The HTTP transport both device families share, on undici: one Client per
 * device, one request at a time on it, an overall deadline per request (a
 * slow-drip reply cannot outlive it), errors turned into DeviceErrors a
 * person can read, and one retry on a fresh connection when a kept-alive
 * connection turns out to be closed, for a request that is safe to repeat.
 * undici (llhttp) reads every reply; nothing here parses HTTP.
 */

import { Client, errors, type Dispatcher } from 'undici';
import net, { type Socket } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { DeviceError } from './errors';

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

/** A device's `Keep-Alive: timeout=N` is taken this much short, for the same reason (undici's keepAliveTimeoutThreshold). */
const KEEP_ALIVE_HINT_MARGIN_MS = 1000;

/** Replies larger than this are garbage, not a device answer. */
export const MAX_REPLY_BYTES = 1 << 20;

export interface DeviceRequest {
  origin: string;
  path: string;
  method?: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /**
   * Whether sending it twice leaves the device as sending it once: a read, or
   * a set to an absolute value (volume 30, switch on). Only such a request
   * goes again when a kept-alive connection closes under it; the device may
   * have read it before it closed, and `next` or `reboot` twice acts twice.
   */
  idempotent: boolean;
}

export interface DeviceReply {
  status: number;
  body: string;
}

/**
 * The reason given to undici when an idle connection or Client is let go. One
 * object for all: undici otherwise makes an error with its stack for each
 * (a socket closed, a Client destroyed), twice a poll for a device polled
 * idle (bench/README.md, part 7's allocations). A SocketError, so that undici
 * sends a request that came meanwhile on a new connection, as after any close.
 */
const LET_GO = new errors.SocketError('the idle connection was let go');

/** The code of a request that was not sent again (see DeviceRequest.idempotent). */
export const NOT_RESENT = 'NOT_RESENT';
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** True when the device closed or reset the connection before replying (the request may not have been read). */
export function isConnectionReset(err: unknown): boolean {
  return err instanceof DeviceError && err.kind === 'network' && typeof err.code === 'string' && RESET_CODES.has(err.code);
}

/** Sends one request on the device's connection; the reply, or a DeviceError. */
export function deviceRequest(connection: DeviceConnection, req: DeviceRequest): Promise<DeviceReply> {
  return connection.request(req);
}

/** A socket undici got from us, and what it has carried. */
interface Link {
  readonly socket: Socket;
  /** replies read whole on it */
  replies: number;
}

/** What undici asks the connector for. */
interface ConnectTarget {
  protocol: string;
  hostname: string;
  port: string | number;
}
type ConnectCallback = (err: Error | null, socket: Socket | null) => void;

/**
 * One request: its deadline (over both attempts), its reply as undici reads
 * it, its outcome (once). It is the undici dispatch handler of each attempt:
 * one object per request, not a closure per callback.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private status = 0;
  private link: Link | undefined;
  private reused = false;
  private bytesAtStart = 0;
  retried = false;
  /** its promise is resolved or rejected */
  settled = false;
  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly connection: DeviceConnection,
    readonly req: DeviceRequest,
    private readonly resolve: (reply: DeviceReply) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    // the whole request, waiting, connecting and a retry included, so that a reply dripping in byte by byte cannot outlive it
    this.deadline = setTimeout(() => this.fail(new DeviceError('timeout', `no answer from ${hostOf(req.origin)} within ${req.timeoutMs} ms`)), req.timeoutMs);
  }

  /** Fails it now (the deadline, close(), the size cap), and takes it off the wire: its socket cannot carry another. */
  fail(err: DeviceError): void {
    if (this.settled) return;
    this.connection.giveUp(this, err);
    this.settle(err);
  }

  settle(err: unknown, reply?: DeviceReply): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.deadline);
    if (reply) this.resolve(reply);
    else this.reject(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // given up between its dispatch and now (close() only: the deadline closes the socket under it)
    if (this.settled) return controller.abort(new DeviceError('closed', 'the request was given up before it was sent'));
    // undici writes the request on the Client's one socket, which our connector made
    this.link = this.connection.link;
    this.reused = (this.link?.replies ?? 0) > 0;
    this.bytesAtStart = this.link?.socket.bytesRead ?? 0;
    this.chunks.length = 0;
    this.size = 0;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    if (Number(headers['content-length']) > MAX_REPLY_BYTES) this.tooLarge();
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.size += chunk.length;
    // read as it streams in, and stopped at the cap: nothing beyond it is kept or waited for
    if (this.size > MAX_REPLY_BYTES) this.tooLarge();
    else this.chunks.push(chunk);
  }

  private tooLarge(): void {
    this.fail(new DeviceError('protocol', `${hostOf(this.req.origin)} sent a reply larger than ${MAX_REPLY_BYTES} bytes`));
  }

  onResponseEnd(): void {
    if (this.link) this.link.replies++;
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.settle(undefined, { status: this.status, body: body.toString('utf8') });
    this.connection.finished(this);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.connection.finished(this);
    if (this.settled) return;
    const failure = describe(err, this.req);
    // a kept-alive connection that closed before a byte of this reply came: the device may not have read the request
    const unanswered = this.reused && isConnectionReset(failure) && this.link !== undefined && this.link.socket.bytesRead === this.bytesAtStart;
    if (!unanswered || this.retried) return this.settle(failure);
    if (!this.req.idempotent) {
      return this.settle(
        new DeviceError(
          'network',
          `${hostOf(this.req.origin)} closed the connection before replying; the request was not sent again, since the device may have carried it out and doing it twice would act twice`,
          { code: NOT_RESENT, cause: err },
        ),
      );
    }
    this.retried = true;
    this.link = undefined;
    this.reused = false;
    this.connection.again(this);
  }
}

/**
 * One device's connection: one undici Client for the origin in use, while a
 * connection is open or a request runs or waits (an idle device holds none,
 * only the TLS session to offer next time), and one
 * request at a time on it (devices misbehave under concurrent requests). The
 * others wait here, not in undici's queue, so that one whose deadline passes
 * while it waits just leaves. A request to another origin (a relay that
 * moved, WiiM's port detection) closes the Client of the old one.
 *
 * Its sockets come from the Client's `connect` hook (documented undici API),
 * so that each device has its own TLS settings: the shared context, the
 * device's self-signed certificate accepted, its pinned fingerprint checked
 * before the first request, and the last TLS session offered through
 * tls.connect's `session` option.
 *
 * Its timers (the connect and request deadlines, undici's keep-alive) run on
 * real time, not on a session's Clock: they bound real sockets. What decides
 * when a connection may go early (a session's idle release) runs on the
 * session's clock.
 */
export class DeviceConnection {
  private readonly secureContext: SecureContext | undefined;
  private readonly verify: DeviceConnectionOptions['verify'];
  private readonly resumeSessions: boolean;
  private readonly connectTimeoutMs: number;
  private readonly keepAliveMs: number;
  /** the Client of `origin` while a connection is open or a request runs or waits; an idle device holds none */
  private client: Client | undefined;
  private origin = '';
  /** the socket undici uses now, once connected; undefined once it closed */
  link: Link | undefined;
  /** the socket the connector made last (connecting, or the link's), until it closes */
  private socket: Socket | undefined;
  /** the request handed to undici, until undici is done with it */
  private current: Exchange | undefined;
  private readonly waiting: Exchange[] = [];
  /** the TLS session of the last connection, offered to the next: the device skips its signature */
  private session: Buffer | undefined;
  /** the last release() asked to keep the Client: the device is read again soon */
  private keepClient = false;
  private closed = false;

  constructor(options: DeviceConnectionOptions = {}) {
    this.secureContext = options.secureContext;
    this.verify = options.verify;
    this.resumeSessions = options.resumeSessions ?? true;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  }

  /**
   * A Client for `origin`. It lives as long as its connection, or a request
   * on it: once the socket closes with nothing running or waiting, it goes
   * (see `idle`), and the next request makes another. Most devices sit idle
   * between reads a minute apart, and each would keep a Client of its own
   * (bench/README.md, part 8's memory).
   */
  private makeClient(origin: string): Client {
    const client = new Client(origin, {
      pipelining: 1,
      keepAliveTimeout: this.keepAliveMs,
      keepAliveMaxTimeout: this.keepAliveMs,
      // undici takes this off a device's Keep-Alive hint (its default of 2 s would give a relay that says "timeout=2" a new connection per request)
      keepAliveTimeoutThreshold: KEEP_ALIVE_HINT_MARGIN_MS,
      connect: (target, callback) => this.connect(target as ConnectTarget, callback as ConnectCallback),
    });
    // undici's documented events, after it is done with the socket (and has failed or retried the request on it)
    const idle = () => this.idle(client);
    client.on('disconnect', idle);
    client.on('connectionError', idle);
    return client;
  }

  /** The Client's connection closed or could not open: with nothing to send, the Client goes too, unless release() kept it. */
  private idle(client: Client): void {
    if (this.client !== client || this.current || this.waiting.length > 0 || this.keepClient) return;
    this.client = undefined;
    // an emptied array keeps the backing store it grew to; length 0 lets it go
    this.waiting.length = 0;
    void client.destroy(LET_GO).catch(() => undefined);
  }

  /** @internal whether it holds an undici Client now (tests: an idle connection holds none) */
  get holdsClient(): boolean {
    return this.client !== undefined;
  }

  /** Sends one request when its turn comes; the reply, or a DeviceError (its deadline, a failure, close()). */
  request(req: DeviceRequest): Promise<DeviceReply> {
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(this, req, resolve, reject);
      // a request cut off by close() may look like one on a stale socket, and its retry must not open a new connection
      if (this.closed) return exchange.settle(new DeviceError('closed', 'the connection to the device is closed'));
      this.waiting.push(exchange);
      this.next();
    });
  }

  /** The exchange goes again, before the others, as its retry. */
  again(exchange: Exchange): void {
    this.waiting.unshift(exchange);
    this.next();
  }

  /** undici is done with `exchange`: the next may go. */
  finished(exchange: Exchange): void {
    if (this.current !== exchange) return;
    this.current = undefined;
    this.next();
  }

  /** `exchange` is given up: out of the queue, or off the wire with its socket (undici then fails it with `err`, and opens no other). */
  giveUp(exchange: Exchange, err: DeviceError): void {
    if (this.current === exchange) this.socket?.destroy(err);
    else {
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
    // a connection that closes after this request without a release() takes its Client with it
    this.keepClient = false;
    const { req } = exchange;
    if (req.origin !== this.origin) {
      void this.client?.close().catch(() => undefined);
      this.client = undefined;
      this.session = undefined; // it belongs to the old origin
      this.link = undefined;
      this.socket = undefined;
      this.origin = req.origin;
    }
    this.client ??= this.makeClient(req.origin);
    this.client.dispatch(
      {
        origin: req.origin,
        path: req.path,
        method: req.method ?? 'GET',
        body: req.body,
        headers: req.headers,
        // the Exchange's deadline bounds the whole request
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      exchange,
    );
  }

  /**
   * Closes the connection now if no request is on it or waiting, instead of
   * when the keep-alive runs out: for a device that will not be asked again
   * for a while. The next request opens a new one. `keepClient`: the device
   * is read again within seconds (KEEP_CLIENT_MS), and that request goes on
   * the same undici Client rather than a new one per poll (bench/README.md).
   */
  release(keepClient = false): void {
    if (this.current || this.waiting.length > 0) return;
    this.keepClient = keepClient;
    if (this.socket) this.socket.destroy(LET_GO);
    else if (this.client) this.idle(this.client);
  }

  /** Closes the connection for good; a request still running or waiting is refused. */
  async close(): Promise<void> {
    this.closed = true;
    const refused = new DeviceError('closed', 'the connection to the device is closed');
    for (const exchange of this.waiting.splice(0)) exchange.settle(refused);
    this.current?.settle(refused);
    const client = this.client;
    this.client = undefined;
    this.link = undefined;
    this.socket = undefined;
    await client?.destroy().catch(() => undefined);
  }

  private connect(target: ConnectTarget, callback: ConnectCallback): void {
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
    const secure = target.protocol === 'https:';
    let socket: Socket;
    if (secure) {
      const tlsSocket = tls.connect({
        host,
        port: Number(target.port) || 443,
        // no SNI for an address (devices are reached by address, and RFC 6066 forbids it)
        servername: net.isIP(host) === 0 ? host : undefined,
        secureContext: this.secureContext,
        // the device's own self-signed certificate; `verify` pins it where asked
        rejectUnauthorized: false,
        session: this.resumeSessions ? this.session : undefined,
      });
      if (this.resumeSessions) tlsSocket.on('session', (session: Buffer) => (this.session = session));
      socket = tlsSocket;
    } else {
      socket = net.connect({ host, port: Number(target.port) || 80 });
    }
    this.socket = socket;
    // a closed socket is let go at once: kept until the next connection, every idle device held one (its buffers, TLS state and undici's error for the close; bench/README.md)
    socket.once('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.link = undefined;
    });
    socket.setNoDelay(true);
    const ready = secure ? 'secureConnect' : 'connect';
    const timer = setTimeout(
      () => socket.destroy(new DeviceError('timeout', `could not connect to ${host} within ${this.connectTimeoutMs} ms`, { code: 'CONNECT_TIMEOUT' })),
      this.connectTimeoutMs,
    );
    const settle = (err: Error | null) => {
      clearTimeout(timer);
      socket.removeListener(ready, onReady);
      socket.removeListener('error', settle);
      if (err) return callback(err, null);
      if (this.socket === socket) this.link = { socket, replies: 0 };
      callback(null, socket);
    };
    const onReady = () => {
      const refused = this.verify?.(socket as TLSSocket);
      if (refused) socket.destroy();
      settle(refused ?? null);
    };
    socket.once(ready, onReady);
    socket.once('error', settle);
  }
}

function hostOf(origin: string): string {
  return origin.replace(/^[a-z]+:\/\//, '');
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e.code === 'string') return e.code;
  if (e.cause && typeof e.cause.code === 'string') return e.cause.code;
  return undefined;
}

function describe(err: unknown, req: DeviceRequest): DeviceError {
  if (err instanceof DeviceError) return err;
  const where = hostOf(req.origin);
  const code = errorCode(err);
  const message = (err as { message?: string } | null)?.message ?? String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return new DeviceError('network', `connection refused by ${where}`, { code, cause: err });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DeviceError('network', `cannot reach ${where} (${code})`, { code, cause: err });
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return new DeviceError('network', `${where} closed the connection before replying`, { code, cause: err });
    case 'UND_ERR_INVALID_ARG':
      // undici refuses a path or header that would break the request line (a line break there would be a request of its own)
      return new DeviceError('argument', 'the request has characters that cannot go into an HTTP request line or header', { cause: err });
    case 'UND_ERR_DESTROYED':
    case 'UND_ERR_CLOSED':
      return new DeviceError('closed', 'the connection to the device is closed', { cause: err });
    default:
      // llhttp's refusals (HPE_*): a reply that is not HTTP/1.x, or not one it may read safely
      if (code?.startsWith('HPE_') || (err as { name?: string } | null)?.name === 'HTTPParserError')
        return new DeviceError('protocol', `${where} sent a reply that is not valid HTTP/1.x (${message})`, { code, cause: err });
      return new DeviceError('network', `request to ${where} failed: ${message}`, { code, cause: err });
  }
}
