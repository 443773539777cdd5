import { Client, type Dispatcher } from 'undici';
import net, { type Socket } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { DeviceError } from './errors';

/**
 * The HTTP transport both device families share: one connection per device,
 * an overall deadline per request (a slow-drip reply cannot outlive it),
 * errors turned into DeviceErrors a person can read, and one retry on a
 * fresh connection when a kept-alive connection turns out to be closed.
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

/** What undici asks a connector for, and how it wants the answer. */
interface ConnectTarget {
  protocol: string;
  hostname: string;
  port: string | number;
}
type ConnectCallback = (err: Error | null, socket: Socket | null) => void;

/**
 * One device's connection: one undici Client, for the origin in use, that
 * reconnects by itself when a request finds its socket closed. undici's Agent
 * would throw its Client away each time the socket closes and build a new one
 * for the next request: for a device polled every few seconds, one per poll.
 * A request to another origin (a relay that moved, WiiM's port detection)
 * closes the Client of the old one.
 *
 * It opens its sockets itself rather than through undici's connector: an
 * idle WiiM's every poll is a new TLS connection (the device drops idle ones
 * within 3 s), and the connector's extras (TCP keep-alive probes for a
 * socket that lives a second, ALPN for a device without HTTP/2, a session
 * cache for one host) are a noticeable part of such a poll's cost (see
 * bench/README.md).
 *
 * Its timers (the connect and request deadlines, undici's keep-alive) run on
 * real time, not on a session's Clock: they bound real sockets. What decides
 * when a connection may go early (a session's idle release) runs on the
 * session's clock.
 */
export class DeviceConnection {
  private readonly options: Client.Options;
  private readonly secureContext: SecureContext | undefined;
  private readonly verify: DeviceConnectionOptions['verify'];
  private readonly resumeSessions: boolean;
  private readonly connectTimeoutMs: number;
  private client: Client | undefined;
  private origin = '';
  private socket: Socket | undefined;
  /** the TLS session of the last connection, offered to the next: the device skips its signature */
  private session: Buffer | undefined;
  private closed = false;

  constructor(options: DeviceConnectionOptions = {}) {
    this.secureContext = options.secureContext;
    this.verify = options.verify;
    this.resumeSessions = options.resumeSessions ?? true;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.options = {
      pipelining: 1,
      keepAliveTimeout: options.keepAliveMs ?? KEEP_ALIVE_MS,
      keepAliveMaxTimeout: options.keepAliveMs ?? KEEP_ALIVE_MS,
      // undici takes 2 s off a server's Keep-Alive hint; a relay that says
      // "timeout=2" would then get a new connection for every request
      keepAliveTimeoutThreshold: 1000,
      connect: (opts, callback) => this.connect(opts as ConnectTarget, callback as ConnectCallback),
    };
  }

  private connect(target: ConnectTarget, callback: ConnectCallback): void {
    const host = target.hostname;
    let socket: Socket;
    if (target.protocol === 'https:') {
      const tlsSocket = tls.connect({
        host,
        port: Number(target.port) || 443,
        // no SNI for an address (devices are reached by address, and RFC 6066 forbids it)
        servername: net.isIP(host) === 0 ? host : undefined,
        secureContext: this.secureContext,
        // the device's own self-signed certificate; `verify` pins it where asked
        rejectUnauthorized: false,
        session: this.session,
      });
      if (this.resumeSessions) tlsSocket.on('session', (session: Buffer) => (this.session = session));
      socket = tlsSocket;
    } else {
      socket = net.connect({ host, port: Number(target.port) || 80 });
    }
    socket.setNoDelay(true);
    const ready = target.protocol === 'https:' ? 'secureConnect' : 'connect';
    const timer = setTimeout(
      () => socket.destroy(new DeviceError('timeout', `could not connect to ${host} within ${this.connectTimeoutMs} ms`, { code: 'CONNECT_TIMEOUT' })),
      this.connectTimeoutMs,
    );
    const settle = (err: Error | null) => {
      clearTimeout(timer);
      socket.removeListener(ready, onReady);
      socket.removeListener('error', settle);
      if (err) return callback(err, null);
      this.socket = socket;
      socket.once('close', () => {
        if (this.socket === socket) this.socket = undefined;
      });
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

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // a request cut off by close() may look like one on a stale socket, and
    // its retry must not open a new connection
    if (this.closed) throw new DeviceError('closed', 'the connection to the device is closed');
    const origin = String(options.origin);
    if (!this.client || origin !== this.origin) {
      void this.client?.close().catch(() => undefined);
      this.session = undefined; // it belongs to the old origin
      this.client = new Client(origin, this.options);
      this.origin = origin;
    }
    return this.client.dispatch(options, handler);
  }

  /**
   * Closes the connection now if no request is on it, instead of when the
   * keep-alive runs out: for a device that will not be asked again for a
   * while. The next request opens a new one. A plain destroy, not undici's
   * idle timeout, which destroys with an error and so formats a stack trace
   * for every connection.
   */
  release(): void {
    const socket = this.socket;
    if (!socket || socket.destroyed || !this.client) return;
    const { running, pending } = this.client.stats;
    if (running === 0 && pending === 0) socket.destroy();
  }

  /** Closes the connection for good; a request still running is cut off. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.socket = undefined;
    await client?.destroy().catch(() => undefined);
  }
}

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

/** Replies larger than this are garbage, not a device answer. */
const MAX_REPLY_BYTES = 1 << 20;

const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export async function deviceRequest(connection: DeviceConnection, req: DeviceRequest): Promise<DeviceReply> {
  try {
    return await attempt(connection, req);
  } catch (err) {
    // A keep-alive connection the device had already closed fails before the
    // device could read the request: safe to send again, once, on a new socket.
    if (isUnreadRequestOnStaleSocket(err)) return attempt(connection, req).catch((e: unknown) => Promise.reject(describe(e, req)));
    throw describe(err, req);
  }
}

/**
 * One request through undici's dispatch API, with a handler that gathers the
 * body itself: device replies are a few hundred bytes, and a body stream per
 * reply (what `request()` builds) costs more than the round trip on loopback.
 */
function attempt(connection: DeviceConnection, req: DeviceRequest): Promise<DeviceReply> {
  return new Promise((resolve, reject) => {
    const exchange = new Exchange(req, resolve, reject);
    try {
      connection.dispatch(
        {
          origin: req.origin,
          path: req.path,
          method: req.method ?? 'GET',
          body: req.body,
          headers: req.headers,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        },
        exchange,
      );
    } catch (err) {
      exchange.settle(err); // a closed connection: the deadline must not outlive the refusal
    }
  });
}

/** The handler of one request: its reply, its deadline, its outcome (once). One object per request, not a closure per callback. */
class Exchange implements Dispatcher.DispatchHandler {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private status = 0;
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;
  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly req: DeviceRequest,
    private readonly resolve: (reply: DeviceReply) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    // the whole request, so that a reply dripping in byte by byte cannot outlive it
    this.deadline = setTimeout(() => this.fail(new DeviceError('timeout', `no answer from ${hostOf(req.origin)} within ${req.timeoutMs} ms`)), req.timeoutMs);
  }

  settle(err: unknown, reply?: DeviceReply): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.deadline);
    if (reply) this.resolve(reply);
    else this.reject(err);
  }

  private fail(err: Error): void {
    this.controller?.abort(err);
    this.settle(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new DeviceError('closed', 'the request was given up before it was sent'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > MAX_REPLY_BYTES) this.fail(new DeviceError('protocol', `reply from ${this.req.origin} is larger than ${MAX_REPLY_BYTES} bytes`));
    else this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.settle(undefined, { status: this.status, body: body.toString('utf8') });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.settle(err);
  }
}

function hostOf(origin: string): string {
  return origin.replace(/^[a-z]+:\/\//, '');
}

interface SocketInfo {
  bytesRead?: number;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e.code === 'string') return e.code;
  if (e.cause && typeof e.cause.code === 'string') return e.cause.code;
  return undefined;
}

function isUnreadRequestOnStaleSocket(err: unknown): boolean {
  const code = errorCode(err);
  if (!code || !STALE_CONNECTION_CODES.has(code)) return false;
  // undici reports the socket's counters: a socket that has read earlier
  // replies was a reused one; this request got nothing back on it.
  const socket = (err as { socket?: SocketInfo }).socket;
  return socket !== undefined && (socket.bytesRead ?? 0) > 0;
}

function describe(err: unknown, req: DeviceRequest): DeviceError {
  if (err instanceof DeviceError) return err;
  const where = hostOf(req.origin);
  const code = errorCode(err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new DeviceError('timeout', `no answer from ${where} within ${req.timeoutMs} ms`, { cause: err });
  }
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
    default:
      return new DeviceError('network', `request to ${where} failed: ${message}`, { code, cause: err });
  }
}
