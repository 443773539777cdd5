/**
 * Serving one local file to one device, as sonoff-ota serves a firmware
 * image and wiim-command an announcement: a one-shot HTTP server on the
 * address the device can reach us on, at an unguessable path, for that
 * device's address only; and the loading of a file from a path that must
 * name a regular file, read up to a limit within a deadline.
 */

import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { DeviceError, argumentError } from './errors';
import { systemClock, type Clock, type ClockTimer } from './clock';

function plainAddress(a: string | undefined): string {
  if (!a) return '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;
}

/**
 * The local address the device can reach us on: 127.0.0.1 for a loopback
 * device, else the IPv4 interface on the device's subnet, else the first
 * external IPv4 address.
 */
export function localAddressFor(deviceAddress: string): string {
  if (deviceAddress.startsWith('127.') || deviceAddress === '::1' || deviceAddress === 'localhost') return '127.0.0.1';
  if (net.isIPv4(deviceAddress)) {
    const dev = ipv4ToInt(deviceAddress);
    let fallback: string | undefined;
    for (const list of Object.values(os.networkInterfaces())) {
      for (const i of list ?? []) {
        if (i.family !== 'IPv4' || i.internal) continue;
        fallback ??= i.address;
        const mask = ipv4ToInt(i.netmask);
        if ((ipv4ToInt(i.address) & mask) === (dev & mask)) return i.address;
      }
    }
    if (fallback) return fallback;
  }
  return '0.0.0.0';
}

/**
 * The local address this host uses to reach `deviceIp`: the address the
 * routing table picks for a connected UDP socket (connecting one sends
 * nothing), so a device on another subnet or behind a route gets the
 * address it can answer.
 */
export async function localAddressTowards(deviceIp: string): Promise<string> {
  const socket = dgram.createSocket(net.isIPv6(deviceIp) ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(9, deviceIp, () => resolve());
    });
    return socket.address().address;
  } catch {
    return localAddressFor(deviceIp);
  } finally {
    socket.close();
  }
}

export interface FileServerOptions {
  body: Buffer;
  /** the only client address that may download (the device's IP) */
  allow: string;
  /** the local address to listen on; default localAddressFor(allow) */
  bindAddress?: string;
  /** the server closes itself after this long; default 5 min */
  timeoutMs?: number;
  /** bytes sent so far (sum over all responses) and the body size */
  onProgress?: (bytesServed: number, total: number) => void;
  /** the last path segment of the URL (default file.bin) */
  fileName?: string;
  /** default application/octet-stream */
  contentType?: string;
}

/**
 * A one-shot HTTP server for one body: an ephemeral port, Range support
 * (206 with Content-Range, 416 for ranges outside the body), HEAD, only for
 * the device's address (everyone else gets 403), and only at the one
 * unguessable path of its `url` (any other path gets 404). It closes itself
 * after `timeoutMs`, or when the caller calls close().
 */
export class FileServer {
  readonly body: Buffer;
  readonly allow: string;
  private readonly server: http.Server;
  private readonly onProgress?: (bytesServed: number, total: number) => void;
  private readonly timeoutMs: number;
  private readonly contentType: string;
  private timer: NodeJS.Timeout | undefined;
  private served = 0;
  private hostForUrl = '127.0.0.1';
  private portNumber = 0;
  private closing: Promise<void> | undefined;
  /** a fresh random path per server: another program on the device's address cannot guess it */
  private readonly path: string;
  /** requests refused because they came from another address */
  refused = 0;
  /** GET requests answered with the body or a part of it */
  gets = 0;

  constructor(options: FileServerOptions) {
    this.body = options.body;
    this.allow = plainAddress(options.allow);
    this.onProgress = options.onProgress;
    this.timeoutMs = options.timeoutMs ?? 300_000;
    this.contentType = options.contentType ?? 'application/octet-stream';
    this.path = `/${randomBytes(16).toString('hex')}/${options.fileName ?? 'file.bin'}`;
    this.hostForUrl = options.bindAddress ?? localAddressFor(this.allow);
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
  }

  /** Starts listening; resolves with the download URL to hand to the device. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, this.hostForUrl, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    this.portNumber = (this.server.address() as AddressInfo).port;
    this.timer = setTimeout(() => void this.close(), this.timeoutMs);
    return this.url;
  }

  get url(): string {
    const host = this.hostForUrl === '0.0.0.0' ? '127.0.0.1' : this.hostForUrl;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.portNumber}${this.path}`;
  }

  get bytesServed(): number {
    return this.served;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  close(): Promise<void> {
    if (!this.closing) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.closing = new Promise((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    }
    return this.closing;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (plainAddress(req.socket.remoteAddress) !== this.allow) {
      this.refused++;
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden\n');
      return;
    }
    if (req.url !== this.path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const size = this.body.length;
    let start = 0;
    let end = size - 1;
    let partial = false;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!m || (m[1] === '' && m[2] === '')) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      partial = true;
    }
    const body = this.body.subarray(start, end + 1);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': this.contentType,
      'content-length': body.length,
      'accept-ranges': 'bytes',
    };
    if (partial) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(partial ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.gets++;
    res.end(body, () => {
      this.served += body.length;
      this.onProgress?.(this.served, size);
    });
  }
}

/** The part of a FileHandle that loadFile uses (tests hand in a stalled one). */
export interface LoadableFile {
  stat(): Promise<{ isFile(): boolean }>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface LoadFileOptions {
  /** the largest file accepted, in bytes */
  maxBytes: number;
  /** how long reading may take */
  timeoutMs: number;
  /** what the file is, for messages ("the firmware image") */
  what: string;
  /** the refusal of a file over `maxBytes`; `bytes` undefined: more than the limit (reading stopped there) */
  tooLarge: (bytes: number | undefined) => DeviceError;
  clock?: Clock;
  /** opens the path; default: read-only and non-blocking, so that opening a FIFO does not wait for a writer */
  open?: (path: string) => Promise<LoadableFile>;
}

function openFile(path: string): Promise<LoadableFile> {
  return fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
}

/**
 * Reads a file named by a path, absolute or relative to Node-RED's working
 * directory. Anything but a regular file (a device such as /dev/zero, a
 * FIFO, a directory) is refused, checked on the open descriptor so that the
 * path cannot change in between. At most `maxBytes` + 1 bytes are read,
 * within a deadline. A path that cannot be opened gets one message whatever
 * the reason (missing, no permission, a directory): the flow's author needs
 * to know which path, not what else the file system holds.
 */
export async function loadFile(path: string, options: LoadFileOptions): Promise<Buffer> {
  const clock = options.clock ?? systemClock;
  const { timeoutMs, maxBytes } = options;
  const unreadable = () => argumentError(`cannot read ${options.what} at ${path}: give the path of a regular file that Node-RED can read`);
  let timer: ClockTimer | undefined;
  let timedOut = false;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = clock.setTimeout(() => {
      timedOut = true;
      // 'argument', not 'timeout': the path is at fault, not the device
      reject(argumentError(`cannot read ${options.what} at ${path} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    timer.unref?.();
  });
  const opening = (options.open ?? openFile)(path);
  const reading = opening.then(
    async (file) => {
      try {
        if (!(await file.stat()).isFile()) throw unreadable();
        const buffer = Buffer.alloc(maxBytes + 1);
        let length = 0;
        while (length < buffer.length && !timedOut) {
          const { bytesRead } = await file.read(buffer, length, buffer.length - length, length);
          if (bytesRead === 0) break;
          length += bytesRead;
        }
        if (length > maxBytes) throw options.tooLarge(undefined);
        return buffer.subarray(0, length);
      } finally {
        // after the deadline the read may still hang: the handle closes when it returns
        void file.close().catch(() => undefined);
      }
    },
    (err: unknown) => {
      throw err instanceof DeviceError ? err : unreadable();
    },
  );
  reading.catch(() => undefined); // after a timeout nobody awaits it
  try {
    return await Promise.race([reading, deadline]);
  } finally {
    clock.clearTimeout(timer);
  }
}
