import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { createSelfSignedCertificate } from '../src/sim/cert';
import { ReplyReader, ReplyError, MAX_REPLY_BYTES } from '../src/shared/http-reply';
import { DeviceConnection, deviceRequest, isConnectionReset } from '../src/shared/http';
import { DeviceError } from '../src/shared/errors';
import { rejectsWith } from './helpers/assert';
import { until } from './helpers/wait';

// The shared transport reads replies itself (src/shared/http-reply.ts). These
// replies are written byte for byte here, as servers other than our
// simulators send them: Python's http.server (HTTP/1.0, body up to the close),
// chunked servers, a bare-LF embedded server, 100 Continue.

/** Feeds `raw` to a reader in pieces of `step` bytes; the reply once whole. */
function read(raw: string, step = raw.length) {
  const reader = new ReplyReader();
  const bytes = Buffer.from(raw, 'latin1');
  let reply;
  for (let i = 0; i < bytes.length && !reply; i += step) reply = reader.push(bytes.subarray(i, i + step));
  return { reply, reader };
}

describe('http reply reader', () => {
  const cases: Array<{ name: string; raw: string; body: string; keepAlive: boolean; status?: number }> = [
    { name: 'Content-Length, HTTP/1.1', raw: 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nOK', body: 'OK', keepAlive: true },
    {
      name: 'chunked, with an extension and a trailer',
      raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\n{"a"\r\n3\r\n:1}\r\n0\r\nX-T: 1\r\n\r\n',
      body: '{"a":1}',
      keepAlive: true,
    },
    { name: 'Connection: close', raw: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi', body: 'hi', keepAlive: false },
    { name: 'HTTP/1.0 with Content-Length and no keep-alive', raw: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi', body: 'hi', keepAlive: false },
    { name: 'HTTP/1.0 keep-alive', raw: 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi', body: 'hi', keepAlive: true },
    { name: 'bare LF line ends', raw: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nhi', body: 'hi', keepAlive: true },
    { name: '100 Continue before the reply', raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi', body: 'hi', keepAlive: true },
    { name: '204 with a Content-Length has no body', raw: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n', body: '', keepAlive: true, status: 204 },
    { name: 'a status line without a reason', raw: 'HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n', body: '', keepAlive: true, status: 500 },
  ];
  for (const c of cases) {
    it(`reads ${c.name}, whole and byte by byte`, () => {
      for (const step of [c.raw.length, 1, 7]) {
        const { reply } = read(c.raw, step);
        assert.ok(reply, `complete with steps of ${step}`);
        assert.equal(reply.status, c.status ?? 200);
        assert.equal(reply.body.toString(), c.body);
        assert.equal(reply.keepAlive, c.keepAlive);
        assert.equal(reply.trailing, false);
      }
    });
  }

  it('reads a body that runs to the close (HTTP/1.0, no length) only when the device closes', () => {
    const { reply, reader } = read('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"x":1}', 3);
    assert.equal(reply, undefined, 'not complete before the close');
    assert.ok(reader.endsAtClose);
    const ended = reader.end();
    assert.equal(ended?.body.toString(), '{"x":1}');
    assert.equal(ended?.keepAlive, false);
  });

  it('takes the Keep-Alive timeout hint in ms', () => {
    assert.equal(read('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n').reply?.keepAliveHintMs, 5000);
  });

  it('marks bytes after the reply as trailing', () => {
    assert.equal(read('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiXX').reply?.trailing, true);
  });

  it('a reply cut off is not complete, and counts the bytes it got', () => {
    const { reply, reader } = read('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf');
    assert.equal(reply, undefined);
    assert.equal(reader.end(), undefined, 'a close inside a length-delimited body is no end');
    assert.ok(reader.received > 0);
  });

  const refused: Array<{ name: string; raw: string; message: RegExp }> = [
    { name: 'a reply that is not HTTP', raw: '<html>hello</html>\r\n\r\n', message: /not HTTP\/1\.x: "<html>hello<\/html>"/ },
    { name: 'a bad Content-Length', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n', message: /bad Content-Length/ },
    { name: 'two different Content-Lengths', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', message: /bad Content-Length/ },
    { name: 'a bad chunk size', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', message: /bad chunk size/ },
    {
      name: 'a chunk longer than its size',
      raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n',
      message: /does not end where its size says/,
    },
    {
      name: 'a Content-Length over a megabyte',
      raw: `HTTP/1.1 200 OK\r\nContent-Length: ${MAX_REPLY_BYTES + 1}\r\n\r\n`,
      message: /larger than 1048576 bytes/,
    },
    { name: 'a head over 16 KB', raw: `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(17000)}\r\n\r\n`, message: /head larger than 16384 bytes/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      assert.throws(
        () => read(c.raw),
        (err: unknown) => err instanceof ReplyError && c.message.test(err.message),
      );
    });
  }

  it('refuses a chunked body that grows past a megabyte', () => {
    const reader = new ReplyReader();
    reader.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
    const chunk = Buffer.from(`80000\r\n${'a'.repeat(0x80000)}\r\n`);
    reader.push(chunk);
    reader.push(chunk);
    assert.throws(() => reader.push(chunk), /larger than 1048576 bytes/);
  });
});

/** A raw TCP server that answers each request with the next scripted action. */
async function rawServer(handle: (socket: net.Socket, request: string, index: number) => void) {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const request = buf.slice(0, end + 4 + length);
        buf = buf.slice(end + 4 + length);
        requests.push(request);
        handle(socket, request, requests.length - 1);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    origin,
    requests,
    get connections() {
      return connections;
    },
    get open() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('http transport against servers we did not write', () => {
  let connection: DeviceConnection;
  let server: Awaited<ReturnType<typeof rawServer>> | undefined;
  beforeEach(() => (connection = new DeviceConnection({ keepAliveMs: 60_000 })));
  afterEach(async () => {
    await connection.close();
    await server?.close();
    server = undefined;
  });

  it('sends one well-formed request: method, path, host, headers and the byte length of a UTF-8 body', async () => {
    server = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const body = JSON.stringify({ ssid: 'Küche' });
    await deviceRequest(connection, {
      origin: server.origin,
      path: '/zeroconf/wifi',
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      timeoutMs: 2000,
    });
    const [head, sent] = server.requests[0].split('\r\n\r\n');
    const lines = head.split('\r\n');
    assert.equal(lines[0], 'POST /zeroconf/wifi HTTP/1.1');
    assert.ok(lines.includes(`host: ${server.origin.slice('http://'.length)}`));
    assert.ok(lines.includes('content-type: application/json'));
    assert.ok(lines.includes(`content-length: ${Buffer.byteLength(body)}`));
    assert.equal(Buffer.from(sent, 'latin1').toString('utf8'), body);
  });

  it('refuses, before connecting, a path or header that would break the request line', async () => {
    server = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const bad: Array<{ path: string; headers?: Record<string, string> }> = [
      { path: '/a\r\nX-Injected: 1' },
      { path: '/a b' },
      { path: '/a', headers: { 'x-a': 'v\r\nX-Injected: 1' } },
      { path: '/a', headers: { 'x a': 'v' } },
    ];
    for (const b of bad)
      await rejectsWith(deviceRequest(connection, { origin: server.origin, timeoutMs: 2000, ...b }), 'argument', /cannot go into an HTTP request/);
    assert.equal(server.connections, 0);
  });

  it('reads an HTTP/1.0 reply that ends at the close, and opens a new connection for the next', async () => {
    server = await rawServer((s) => s.end('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"ok":1}'));
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000 };
    assert.equal((await deviceRequest(connection, req)).body, '{"ok":1}');
    assert.equal((await deviceRequest(connection, req)).body, '{"ok":1}');
    assert.equal(server.connections, 2);
  });

  it('keeps a kept-alive connection for the next request, in order', async () => {
    server = await rawServer((s, _r, i) => s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n${i}\r\n0\r\n\r\n`));
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000 };
    const replies = await Promise.all([0, 1, 2].map(() => deviceRequest(connection, req)));
    assert.deepEqual(
      replies.map((r) => r.body),
      ['0', '1', '2'],
    );
    assert.equal(server.connections, 1);
  });

  it('honours a Keep-Alive timeout hint, a second short: "timeout=1" means a new connection each time', async () => {
    server = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n'));
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000 };
    await deviceRequest(connection, req);
    await deviceRequest(connection, req);
    assert.equal(server.connections, 2);
  });

  it('sends a request again, once, when the device closed the kept-alive connection before reading it', async () => {
    server = await rawServer((s, _r, i) => {
      if (i === 1)
        s.destroy(); // the device dropped the idle connection as the request arrived
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000 };
    await deviceRequest(connection, req);
    assert.equal((await deviceRequest(connection, req)).body, 'ok');
    assert.equal(server.requests.length, 3, 'the request went twice');
    assert.equal(server.connections, 2);
  });

  it('does not send again a request whose reply was begun, nor one on a new connection', async () => {
    server = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhal');
      s.destroy();
    });
    const err = await rejectsWith(
      deviceRequest(connection, { origin: server.origin, path: '/a', timeoutMs: 2000 }),
      'network',
      /closed the connection before replying/,
    );
    assert.ok(isConnectionReset(err));
    assert.equal(server.requests.length, 1);
  });

  it('refuses a reply that is not HTTP with a protocol error, and lets that connection go', async () => {
    server = await rawServer((s) => s.write('<html>busy</html>\r\n\r\n'));
    await rejectsWith(deviceRequest(connection, { origin: server.origin, path: '/a', timeoutMs: 2000 }), 'protocol', /sent a reply that is not HTTP\/1\.x/);
    await until(() => server?.open === 0, 'the socket to close');
  });

  it('gives up at the deadline on a reply that never ends, and closes that socket', async () => {
    server = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome'));
    await rejectsWith(deviceRequest(connection, { origin: server.origin, path: '/a', timeoutMs: 200 }), 'timeout', /within 200 ms/);
    await until(() => server?.open === 0, 'the socket to close');
  });

  it('refuses, without sending, what waits when the connection closes', async () => {
    server = await rawServer(() => undefined); // never answers
    const first = deviceRequest(connection, { origin: server.origin, path: '/a', timeoutMs: 60_000 });
    const second = deviceRequest(connection, { origin: server.origin, path: '/b', timeoutMs: 60_000 });
    await until(() => server?.requests.length === 1, 'the first request');
    await connection.close();
    await rejectsWith(first, 'closed', /closed/);
    const err = await rejectsWith(second, 'closed', /closed/);
    assert.ok(err instanceof DeviceError);
    assert.deepEqual(
      server.requests.map((r) => r.split(' ')[1]),
      ['/a'],
    );
  });
});

describe('http transport: TLS session resumption', () => {
  it('offers the last session to the next connection, and the device resumes it; not when resumption is off', async () => {
    const { key, cert } = createSelfSignedCertificate('resumption test');
    const resumed: boolean[] = [];
    const server = tls.createServer({ key, cert }, (socket) => {
      resumed.push(socket.isSessionReused());
      socket.on('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const secureContext = tls.createSecureContext({});
    try {
      for (const resumeSessions of [true, false]) {
        resumed.length = 0;
        const connection = new DeviceConnection({ secureContext, resumeSessions });
        for (let i = 0; i < 3; i++) {
          assert.equal((await deviceRequest(connection, { origin, path: '/a', timeoutMs: 2000 })).body, 'ok');
          connection.release(); // each request on a new connection, as an idle device's polls
        }
        await connection.close();
        assert.deepEqual(resumed, resumeSessions ? [false, true, true] : [false, false, false]);
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
