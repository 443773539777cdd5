/**
 * The HTTP server UPnP devices send their NOTIFY requests to: one per
 * runtime and place to listen, shared by every WiiM session (like the mDNS socket) and
 * closed when the last session lets go. It takes a NOTIFY only for a live
 * subscription, from that subscription's device address, within the size
 * cap; everything else gets the status UDA 1.1 section 4.3.1 prescribes
 * (400 for missing headers, 412 for an unknown SID or wrong NT/NTS) and
 * reaches no session. It listens on one address only (the one announced to
 * the devices), at a fixed port unless that is taken, and takes NOTIFYs only
 * at this runtime's own unguessable path.
 */

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SharedResource, type Lease } from '../shared/shared-resource';
import { MAX_BODY_BYTES } from '../wiim/upnp';

export interface NotifyTarget {
  /** the device's address as the socket sees it (IPv4-mapped forms are folded) */
  address: string;
  /** a NOTIFY that passed the checks: SEQ and the body, unparsed */
  deliver(seq: number, body: string): void;
}

/** Where the server may listen, in order of preference; the next is tried when one is taken or not local. */
export interface ListenAt {
  host: string;
  port: number;
}

/** Connection limits: a device makes one connection per NOTIFY or keeps one, so a few dozen are plenty. */
export interface CallbackLimits {
  maxConnections: number;
  /** a request head not complete by then is answered 408 and the connection closed */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** an idle kept-alive connection */
  keepAliveTimeoutMs: number;
  /** how often the two timeouts above are checked: a slow connection goes at most this much later */
  checkIntervalMs: number;
}

/** Every idle or slow connection is gone within 10 s: 8 s + the 1 s check, and 9 s for a whole request. */
export const CALLBACK_LIMITS: CallbackLimits = {
  maxConnections: 64,
  headersTimeoutMs: 8000,
  requestTimeoutMs: 9000,
  keepAliveTimeoutMs: 5000,
  checkIntervalMs: 1000,
};

/**
 * The port the callback server listens on when the `callback` setting names
 * none, so that one firewall rule keeps working across restarts; when it is
 * taken, the next of the nine after it, then a port the system picks (logged).
 */
export const DEFAULT_CALLBACK_PORT = 18491;
export const CALLBACK_PORT_FALLBACKS = 9;

/** The path NOTIFYs are taken at: new for each runtime, so that it cannot be guessed by a host that never saw a SUBSCRIBE. */
export const CALLBACK_PATH = `/upnp/${randomBytes(16).toString('hex')}`;

/** The ports tried for `port`: `port` itself, then (for the default port) the fallbacks and a system-chosen port. */
export function callbackPorts(port: number, fallback: boolean): number[] {
  if (!fallback || port === 0) return [port];
  return [...Array.from({ length: CALLBACK_PORT_FALLBACKS + 1 }, (_, i) => port + i).filter((p) => p <= 65535), 0];
}

const MOVE_ON = new Set(['EADDRINUSE', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);

export class CallbackServer {
  private readonly targets = new Map<string, NotifyTarget>();
  private readonly sockets = new Set<Socket>();
  private closed = false;
  /** the HTTP server itself (tests read its limits) */
  readonly http: http.Server;
  /** resolves once listening; rejects when the port cannot be had */
  readonly ready: Promise<void>;
  /** NOTIFY requests refused, by status (tests and logs read it) */
  readonly refused = new Map<number, number>();

  constructor(
    candidates: ListenAt[],
    readonly limits: CallbackLimits = CALLBACK_LIMITS,
  ) {
    this.http = http.createServer(
      { headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: limits.checkIntervalMs },
      (req, res) => this.onRequest(req, res),
    );
    this.http.maxConnections = limits.maxConnections;
    this.http.keepAliveTimeout = limits.keepAliveTimeoutMs;
    this.http.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.ready = this.listen(candidates);
    this.ready.catch(() => undefined);
  }

  /** Listens at the first candidate that can be had: one taken, not an address of this host, or a name that does not resolve moves on. */
  private async listen(candidates: ListenAt[]): Promise<void> {
    let last: Error = new Error('nowhere to listen');
    for (const at of candidates) {
      if (this.closed) break;
      try {
        await new Promise<void>((resolve, reject) => {
          this.http.once('error', reject);
          this.http.listen(at.port, at.host, () => {
            this.http.removeListener('error', reject);
            resolve();
          });
        });
        // closed while it was trying: nobody holds it any more
        if (this.closed) this.http.close();
        return;
      } catch (err) {
        last = err as Error;
        const code = (err as NodeJS.ErrnoException).code;
        if (!MOVE_ON.has(code ?? '')) break;
      }
    }
    throw last;
  }

  get port(): number {
    return (this.http.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Subscriptions that NOTIFY requests are taken for. */
  get subscriptions(): number {
    return this.targets.size;
  }

  add(sid: string, target: NotifyTarget): void {
    this.targets.set(sid, target);
  }

  remove(sid: string): void {
    this.targets.delete(sid);
  }

  close(): void {
    this.closed = true;
    this.targets.clear();
    this.http.close();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number): void {
    this.refused.set(status, (this.refused.get(status) ?? 0) + 1);
    res.writeHead(status, { 'Content-Length': 0, Connection: 'close' });
    res.end();
    // the rest of a body nobody reads is not waited for
    req.socket.destroySoon?.();
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'NOTIFY') return this.refuse(req, res, 405);
    if (req.url !== CALLBACK_PATH) return this.refuse(req, res, 404);
    const sid = req.headers.sid;
    const nt = req.headers.nt;
    const nts = req.headers.nts;
    // SEQ is a decimal ui4 (UDA 1.1, 4.3.2): not "0x10" or "1e3", and never above 4294967295
    const seqHeader = req.headers.seq;
    const seq = typeof seqHeader === 'string' && /^\d{1,10}$/.test(seqHeader) ? Number(seqHeader) : Number.NaN;
    if (typeof sid !== 'string' || typeof nt !== 'string' || typeof nts !== 'string' || !(seq <= MAX_SEQ)) return this.refuse(req, res, 400);
    const target = this.targets.get(sid);
    if (nt !== 'upnp:event' || nts !== 'upnp:propchange' || !target || sameAddress(req.socket.remoteAddress) !== sameAddress(target.address)) {
      return this.refuse(req, res, 412);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) return this.refuse(req, res, 413);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        over = true;
        this.refuse(req, res, 413);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (over) return;
      res.writeHead(200, { 'Content-Length': 0 });
      res.end();
      // still live? (an UNSUBSCRIBE may have raced the body)
      if (this.targets.get(sid) === target) target.deliver(seq, Buffer.concat(chunks).toString('utf8'));
    });
  }
}

/** The largest SEQ: a ui4; after it comes 1 (UDA 1.1, 4.3.2). */
export const MAX_SEQ = 4294967295;

function sameAddress(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:/i, '');
}

const servers = new Map<string, SharedResource<CallbackServer>>();

/**
 * The callback server for `candidates` (one per set of places to listen,
 * shared by every session that asks for the same), made on first use and
 * closed with its last lease.
 */
export function acquireCallbackServer(candidates: ListenAt[]): Lease<CallbackServer> {
  const key = JSON.stringify(candidates);
  let shared = servers.get(key);
  if (!shared) {
    const made = new SharedResource<CallbackServer>(
      () => new CallbackServer(candidates),
      (server) => {
        server.close();
        if (servers.get(key) === made && made.users === 0) servers.delete(key);
      },
    );
    shared = made;
    servers.set(key, made);
  }
  return shared.acquire();
}

/** Callback servers open now (tests prove that redeploys leave none behind). */
export function openCallbackServers(): number {
  let n = 0;
  for (const s of servers.values()) if (s.users > 0) n++;
  return n;
}
