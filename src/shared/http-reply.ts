/**
 * Reads one HTTP/1.x reply off a device's connection, chunk by chunk as the
 * socket delivers it. Device web servers are small and old (LinkPlay's,
 * eWeLink's, a Python fake's HTTP/1.0), so it takes what they send: a body
 * by Content-Length, chunked, or up to the close; bare LF line ends; 1xx
 * interim replies. It refuses what no device sends: a head over 16 KB, a body
 * over a megabyte, a status line that is not HTTP.
 */

/** Replies larger than this are garbage, not a device answer. */
export const MAX_REPLY_BYTES = 1 << 20;
/** A status line and headers larger than this are not a device's. */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface ReplyHead {
  status: number;
  /** whether the connection may carry another request after this reply */
  keepAlive: boolean;
  /** the `Keep-Alive: timeout=N` hint in ms, where the device gives one */
  keepAliveHintMs?: number;
}

export interface Reply extends ReplyHead {
  body: Buffer;
  /** bytes after the end of the reply: the connection is not in a known state */
  trailing: boolean;
}

/** Why a reply cannot be read; the transport turns it into a DeviceError. */
export class ReplyError extends Error {}

type BodyMode = 'length' | 'chunked' | 'close' | 'none';
type ChunkState = 'size' | 'data' | 'data-end' | 'trailer';

const EMPTY = Buffer.alloc(0);
const STATUS_LINE = /^HTTP\/1\.([01])[ \t]+(\d{3})(?:[ \t]|$)/;
const TIMEOUT_HINT = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i;

export class ReplyReader {
  private head: ReplyHead | undefined;
  private headBuf: Buffer = EMPTY;
  private mode: BodyMode = 'none';
  private remaining = 0;
  private chunkState: ChunkState = 'size';
  private line: Buffer = EMPTY;
  private readonly parts: Buffer[] = [];
  private size = 0;
  private done: Reply | undefined;
  private seen = 0;

  /** Bytes of the reply received so far (a reply cut off at 0 was never begun). */
  get received(): number {
    return this.seen;
  }

  /** True while the body runs until the device closes the connection. */
  get endsAtClose(): boolean {
    return this.head !== undefined && this.mode === 'close' && !this.done;
  }

  /** Takes the next bytes; returns the whole reply once it is complete. Throws a ReplyError. */
  push(chunk: Buffer): Reply | undefined {
    if (this.done) {
      this.done.trailing = true;
      return this.done;
    }
    this.seen += chunk.length;
    let data = chunk;
    while (!this.head) {
      const rest = this.readHead(data);
      if (rest === undefined) return undefined;
      data = rest;
    }
    this.readBody(data);
    return this.done;
  }

  /** The device closed the connection: the reply, if the close was its end. */
  end(): Reply | undefined {
    if (this.done) return this.done;
    if (this.head && this.mode === 'close') return this.finish(EMPTY);
    return undefined;
  }

  /** Gathers the head; returns the bytes after it once it is whole (a 1xx reply is skipped). */
  private readHead(data: Buffer): Buffer | undefined {
    const buf = this.headBuf.length > 0 ? Buffer.concat([this.headBuf, data]) : data;
    const end = headEnd(buf);
    if (end === undefined) {
      if (buf.length > MAX_HEAD_BYTES) throw new ReplyError(`a reply head larger than ${MAX_HEAD_BYTES} bytes`);
      this.headBuf = buf;
      return undefined;
    }
    if (end.at > MAX_HEAD_BYTES) throw new ReplyError(`a reply head larger than ${MAX_HEAD_BYTES} bytes`);
    this.headBuf = EMPTY;
    const lines = buf.toString('latin1', 0, end.at).split(/\r?\n/);
    const status = STATUS_LINE.exec(lines[0]);
    if (!status) throw new ReplyError(`a reply that is not HTTP/1.x: "${printable(lines[0])}"`);
    const code = Number(status[2]);
    const rest = buf.subarray(end.at + end.length);
    // an interim reply (100 Continue, 103 Early Hints) precedes the real one
    if (code >= 100 && code < 200 && code !== 101) return rest;
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    let hint: number | undefined;
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon <= 0) continue;
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value)))
          throw new ReplyError(`a reply with a bad Content-Length: "${printable(value)}"`);
        length = Number(value);
      } else if (name === 'transfer-encoding') chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'connection') connection += `,${value.toLowerCase()}`;
      else if (name === 'keep-alive') {
        const m = TIMEOUT_HINT.exec(value);
        if (m) hint = Number(m[1]) * 1000;
      }
    }
    const http11 = status[1] === '1';
    // no body whatever the headers say (the transport sends no HEAD)
    const noBody = code === 204 || code === 304 || code === 101;
    if (noBody) this.mode = 'none';
    else if (chunked) this.mode = 'chunked';
    else if (length !== undefined) {
      if (length > MAX_REPLY_BYTES) throw new ReplyError(`a reply larger than ${MAX_REPLY_BYTES} bytes`);
      this.mode = 'length';
      this.remaining = length;
    } else this.mode = 'close';
    const keepAlive =
      this.mode !== 'close' && code !== 101 && (http11 ? !/(^|,)\s*close\s*(,|$)/.test(connection) : /(^|,)\s*keep-alive\s*(,|$)/.test(connection));
    this.head = { status: code, keepAlive, ...(hint !== undefined ? { keepAliveHintMs: hint } : {}) };
    return rest;
  }

  private readBody(data: Buffer): void {
    switch (this.mode) {
      case 'none':
        this.finish(data);
        return;
      case 'close':
        this.take(data);
        return;
      case 'length': {
        const n = Math.min(this.remaining, data.length);
        this.take(data.subarray(0, n));
        this.remaining -= n;
        if (this.remaining === 0) this.finish(data.subarray(n));
        return;
      }
      case 'chunked':
        this.readChunks(data);
    }
  }

  private readChunks(data: Buffer): void {
    let at = 0;
    while (at < data.length && !this.done) {
      if (this.chunkState === 'data') {
        const n = Math.min(this.remaining, data.length - at);
        this.take(data.subarray(at, at + n));
        this.remaining -= n;
        at += n;
        if (this.remaining === 0) this.chunkState = 'data-end';
        continue;
      }
      const nl = data.indexOf(10, at);
      if (nl < 0) {
        this.line = Buffer.concat([this.line, data.subarray(at)]);
        if (this.line.length > MAX_HEAD_BYTES) throw new ReplyError('a chunked reply with a line longer than its limit');
        return;
      }
      const line = (this.line.length > 0 ? Buffer.concat([this.line, data.subarray(at, nl)]) : data.subarray(at, nl)).toString('latin1').replace(/\r$/, '');
      this.line = EMPTY;
      at = nl + 1;
      if (this.chunkState === 'data-end') {
        if (line !== '') throw new ReplyError('a chunked reply whose chunk does not end where its size says');
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const m = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line);
        if (!m) throw new ReplyError(`a chunked reply with a bad chunk size: "${printable(line)}"`);
        this.remaining = parseInt(m[1], 16);
        if (this.size + this.remaining > MAX_REPLY_BYTES) throw new ReplyError(`a reply larger than ${MAX_REPLY_BYTES} bytes`);
        this.chunkState = this.remaining === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        this.finish(data.subarray(at)); // the empty line after the trailers ends the reply
      }
    }
  }

  private take(part: Buffer): void {
    if (part.length === 0) return;
    this.size += part.length;
    if (this.size > MAX_REPLY_BYTES) throw new ReplyError(`a reply larger than ${MAX_REPLY_BYTES} bytes`);
    this.parts.push(part);
  }

  private finish(after: Buffer): Reply {
    const head = this.head as ReplyHead;
    const body = this.parts.length === 1 ? this.parts[0] : this.parts.length === 0 ? EMPTY : Buffer.concat(this.parts);
    this.done = { ...head, body, trailing: after.length > 0 };
    return this.done;
  }
}

/** Where the head ends (CRLF CRLF, or the bare LF LF of a sloppy server), and how long the separator is. */
function headEnd(buf: Buffer): { at: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', 0, 'latin1');
  const lf = buf.indexOf('\n\n', 0, 'latin1');
  if (crlf < 0 && lf < 0) return undefined;
  if (lf >= 0 && (crlf < 0 || lf < crlf)) return { at: lf, length: 2 };
  return { at: crlf, length: 4 };
}

function printable(text: string): string {
  const cut = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return cut.replace(/[^\x20-\x7e]/g, '?');
}
