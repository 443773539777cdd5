import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SharedResource, type Lease } from '../shared/shared-resource';
import { MAX_BODY_BYTES } from '../wiim/upnp';

/**
 * The HTTP server UPnP devices send their NOTIFY requests to: one per
 * runtime and port, shared by every WiiM session (like the mDNS socket) and
 * closed when the last session lets go. It takes a NOTIFY only for a live
 * subscription, from that subscription's device address, within the size
 * cap; everything else gets the status UDA 1.1 section 4.3.1 prescribes
 * (400 for missing headers, 412 for an unknown SID or wrong NT/NTS) and
 * reaches no session.
 */
export interface NotifyTarget {
  /** the device's address as the socket sees it (IPv4-mapped forms are folded) */
  address: string;
  /** a NOTIFY that passed the checks: SEQ and the body, unparsed */
  deliver(seq: number, body: string): void;
}

export class CallbackServer {
  private readonly targets = new Map<string, NotifyTarget>();
  private readonly sockets = new Set<Socket>();
  private readonly server: http.Server;
  /** resolves once listening; rejects when the port cannot be had */
  readonly ready: Promise<void>;
  /** NOTIFY requests refused, by status (tests and logs read it) */
  readonly refused = new Map<number, number>();

  constructor(port: number) {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    // a device sends one NOTIFY per connection or keeps it; either way idle sockets go soon
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10000;
    this.server.requestTimeout = 10000;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.ready = new Promise((resolve, reject) => {
      this.server.once('error', reject);
      // every interface: the device reaches us on whichever card routes to it
      this.server.listen(port, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    this.ready.catch(() => undefined);
  }

  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
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
    this.targets.clear();
    this.server.close();
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
    const sid = req.headers.sid;
    const nt = req.headers.nt;
    const nts = req.headers.nts;
    const seq = Number(req.headers.seq);
    if (typeof sid !== 'string' || typeof nt !== 'string' || typeof nts !== 'string' || !Number.isInteger(seq) || seq < 0) return this.refuse(req, res, 400);
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

function sameAddress(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:/i, '');
}

const servers = new Map<number, SharedResource<CallbackServer>>();

/**
 * The callback server on `port` (0 = one ephemeral port for all sessions
 * that leave the port to us), made on first use and closed with its last lease.
 */
export function acquireCallbackServer(port: number): Lease<CallbackServer> {
  let shared = servers.get(port);
  if (!shared) {
    const made = new SharedResource<CallbackServer>(
      () => new CallbackServer(port),
      (server) => {
        server.close();
        if (servers.get(port) === made && made.users === 0) servers.delete(port);
      },
    );
    shared = made;
    servers.set(port, made);
  }
  return shared.acquire();
}

/** Callback servers open now (tests prove that redeploys leave none behind). */
export function openCallbackServers(): number {
  let n = 0;
  for (const s of servers.values()) if (s.users > 0) n++;
  return n;
}
