import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { MdnsAdvertiser, type AdvertisedInstance } from './mdns-advertiser';

/**
 * What both simulators share: an HTTP(S) server on a host and port that can
 * go away and come back (a device that reboots or moves), the open sockets
 * and a connection count (tests prove connection reuse with them), the
 * request log, the fault switches every device family has, and the opt-in
 * mDNS advertiser. Each family adds its own API, state and extra faults.
 */

/** Faults common to both families; each family adds its own. */
export interface CommonFaults {
  /** delay before every answer */
  latencyMs: number;
  /** close the connection without an answer */
  drop: boolean;
  /** answer HTTP 500 with a text body */
  http500: boolean;
  /** answer 200 with a body that is not JSON */
  garbage: boolean;
  /** answer with the reply body cut in half */
  truncated: boolean;
  /** answer 200 with a body of 2 MB (more than any client should read) */
  oversize: boolean;
  /** answer 302 to another path */
  redirect: boolean;
  /** answer HTTP 400 with a text body */
  http400: boolean;
  /** answer 200 with JSON arrays nested 100000 deep (200 KB) */
  deepJson: boolean;
}

export function commonFaults(): CommonFaults {
  return { latencyMs: 0, drop: false, http500: false, garbage: false, truncated: false, oversize: false, redirect: false, http400: false, deepJson: false };
}

export interface Reply {
  /** default 200 */
  status?: number;
  body: string;
  /** Content-Type; default text/html, as LinkPlay firmware sends */
  type?: string;
}

export type TlsSettings = Pick<https.ServerOptions, 'key' | 'cert' | 'minVersion' | 'maxVersion' | 'ciphers' | 'requestCert' | 'rejectUnauthorized' | 'ca'>;

/** `host:port` for a URL, with an IPv6 literal in brackets. */
export function urlHost(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export abstract class SimServer<Request, Faults extends CommonFaults> {
  abstract faults: Faults;
  /** every request received, in order, in the family's own form */
  readonly requests: Request[] = [];
  /** connections accepted so far (a client that reuses its connection opens few) */
  connectionsAccepted = 0;
  /** connections reset because one was open already (see maxConnections) */
  connectionsRefused = 0;
  /** a device whose web server takes one connection at a time resets the others; 0 = no limit */
  maxConnections = 0;
  protected host: string;
  private boundPort = 0;
  private server: http.Server | https.Server | undefined;
  private readonly sockets = new Set<Socket>();
  protected readonly advertiser = new MdnsAdvertiser(() => this.advertisement());

  /** @param keepAliveMs how long the device keeps an idle connection */
  protected constructor(
    host: string | undefined,
    private readonly keepAliveMs: number,
  ) {
    this.host = host ?? '127.0.0.1';
  }

  abstract get protocol(): 'https' | 'http';

  /** The port listened on (the last one, while stopped). */
  get port(): number {
    return this.boundPort;
  }

  /** The URL prefix, e.g. https://127.0.0.1:8443. */
  get url(): string {
    return `${this.protocol}://${urlHost(this.host, this.boundPort)}`;
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.sockets.size;
  }

  protected get listening(): boolean {
    return this.server !== undefined;
  }

  /** The mDNS record the device would advertise. */
  protected abstract advertisement(): AdvertisedInstance;

  /** Answers one request whose body has been read. */
  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void;

  /** Listens on `this.host` (HTTPS when `tls` is given); 0 = an ephemeral port. */
  protected async listen(port: number, tls?: TlsSettings): Promise<void> {
    if (this.server) throw new Error('the simulator is already running');
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks).toString('utf8')));
    };
    const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
    server.keepAliveTimeout = this.keepAliveMs;
    // over TLS only a completed handshake counts as a connection
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      if (this.maxConnections > 0 && this.sockets.size >= this.maxConnections) {
        this.connectionsRefused++;
        socket.destroy();
        return;
      }
      this.connectionsAccepted++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.host, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.server = undefined;
      throw err;
    }
    this.boundPort = (server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every connection, as a device that loses power. */
  protected async unlisten(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    this.dropConnections();
    server.closeAllConnections();
    await closed;
  }

  /** Withdraws the mDNS record and stops listening. */
  protected async shutdown(): Promise<void> {
    await this.advertiser.stop();
    await this.unlisten();
  }

  protected dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** New TLS settings for the connections that follow. */
  protected setSecureContext(tls: TlsSettings): void {
    if (this.server instanceof https.Server) this.server.setSecureContext(tls);
  }

  private held: Array<() => void> | undefined;

  /**
   * From now on a request is executed when it arrives, but its reply waits
   * until the returned function is called, which sends every held reply: a
   * read that is out while the device changes.
   */
  holdReplies(): () => void {
    this.held ??= [];
    return () => this.sendHeld();
  }

  /** Sends every held reply, and holds no more (a reset does this too). */
  protected sendHeld(): void {
    const held = this.held;
    this.held = undefined;
    for (const send of held ?? []) send();
  }

  /**
   * Answers after the configured latency, unless a common fault answers
   * instead; `reply` runs only when the device would really execute.
   */
  protected answer(req: http.IncomingMessage, res: http.ServerResponse, reply: () => Reply | Promise<Reply>): void {
    const go = () => {
      const f = this.faults;
      if (f.drop) req.socket.destroy();
      else if (f.http500) this.write(res, { status: 500, body: 'Internal Server Error', type: 'text/plain' });
      else if (f.garbage) this.write(res, { body: '<html><body>garbage 0x%%</body></html>' });
      else if (f.http400) this.write(res, { status: 400, body: 'Bad Request', type: 'text/plain' });
      else if (f.oversize) this.write(res, { body: 'x'.repeat(2 << 20) });
      else if (f.deepJson) this.write(res, { body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, type: 'application/json' });
      else if (f.redirect) {
        if (!res.destroyed) res.writeHead(302, { Location: '/elsewhere', 'Content-Length': 0 }).end();
      } else
        Promise.resolve()
          .then(reply)
          .then(
            (r) => {
              const out = this.faults.truncated ? { ...r, body: r.body.slice(0, Math.max(1, Math.floor(r.body.length / 2))) } : r;
              if (this.held) this.held.push(() => this.send(res, out));
              else this.send(res, out);
            },
            () => this.write(res, { status: 500, body: 'Internal Server Error', type: 'text/plain' }),
          );
    };
    if (this.faults.latencyMs > 0) setTimeout(go, this.faults.latencyMs);
    else go();
  }

  /** Sends a reply the way the family does (a family may pace it). */
  protected send(res: http.ServerResponse, reply: Reply): void {
    this.write(res, reply);
  }

  protected write(res: http.ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    res.writeHead(reply.status ?? 200, { 'Content-Type': reply.type ?? 'text/html', 'Content-Length': Buffer.byteLength(reply.body) });
    res.end(reply.body);
  }
}
