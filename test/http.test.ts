import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { createSelfSignedCertificate } from '../src/sim/cert';
import { DeviceConnection, deviceRequest, isConnectionReset, MAX_REPLY_BYTES, NOT_RESENT } from '../src/shared/http';
import { DeviceError } from '../src/shared/errors';
import { WiimClient } from '../src/wiim/client';
import { SonoffClient } from '../src/sonoff/client';
import { encodeSwitch } from '../src/sonoff/codec';
import { rejectsWith } from './helpers/assert';
import { until } from './helpers/wait';

// The shared transport is undici (src/shared/http.ts). These servers write
// their replies byte for byte, as servers other than our simulators send
// them, and read the requests as they arrive on the wire.

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
      idempotent: false,
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
      await rejectsWith(
        deviceRequest(connection, { origin: server.origin, timeoutMs: 2000, idempotent: true, ...b }),
        'argument',
        /cannot go into an HTTP request/,
      );
    assert.equal(server.connections, 0);
  });

  it('reads an HTTP/1.0 reply that ends at the close, and opens a new connection for the next', async () => {
    server = await rawServer((s) => s.end('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"ok":1}'));
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true };
    assert.equal((await deviceRequest(connection, req)).body, '{"ok":1}');
    assert.equal((await deviceRequest(connection, req)).body, '{"ok":1}');
    assert.equal(server.connections, 2);
  });

  it('keeps a kept-alive connection for the next request, in order', async () => {
    server = await rawServer((s, _r, i) => s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n${i}\r\n0\r\n\r\n`));
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true };
    const replies = await Promise.all([0, 1, 2].map(() => deviceRequest(connection, req)));
    assert.deepEqual(
      replies.map((r) => r.body),
      ['0', '1', '2'],
    );
    assert.equal(server.connections, 1);
  });

  it('keeps nothing of a connection once it closed: released, or closed by the device', async () => {
    server = await rawServer((s, _r, i) =>
      i === 0 ? s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n') : s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    );
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true };
    await deviceRequest(connection, req);
    assert.ok(connection.link, 'the kept-alive connection is in use');
    assert.ok(connection.holdsClient, 'and its Client with it');
    connection.release();
    await until(() => connection.link === undefined, 'the released socket let go');
    await until(() => !connection.holdsClient, 'the Client of the released connection let go');
    await deviceRequest(connection, req);
    await until(() => connection.link === undefined, 'the socket the device closed let go');
    await until(() => !connection.holdsClient, 'the Client of the closed connection let go');
    assert.equal(server.connections, 2);
  });

  it('keeps the Client, not the connection, when released for a device read again soon; a plain release lets both go', async () => {
    server = await rawServer((s, _r, i) =>
      i < 2 ? s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n') : s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    );
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true };
    await deviceRequest(connection, req);
    connection.release(true);
    // undici's disconnect comes in the same close event as ours, which lets the link go
    await until(() => connection.link === undefined, 'the released socket let go');
    assert.ok(connection.holdsClient, 'the Client stays for the next read');
    await deviceRequest(connection, req);
    assert.equal(server.connections, 2, 'the next read opens a new connection on it');
    connection.release(true);
    await until(() => connection.link === undefined, 'the second socket let go');
    assert.ok(connection.holdsClient, 'and the Client stays again');
    connection.release();
    await until(() => !connection.holdsClient, 'a plain release to let the kept Client go');
    // a connection that closes by itself after the next request takes its Client with it, whatever an earlier release said
    connection.release(true);
    await deviceRequest(connection, req);
    await until(() => !connection.holdsClient, 'the Client of the connection the device closed let go');
  });

  it('honours a Keep-Alive timeout hint, a second short: "timeout=1" means a new connection each time', async () => {
    server = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n'));
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true };
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
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true };
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
      deviceRequest(connection, { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true }),
      'network',
      /closed the connection before replying/,
    );
    assert.ok(isConnectionReset(err));
    assert.equal(server.requests.length, 1);
    // a connection lost under a request that fails lets its Client go, as an idle one does
    await until(() => !connection.holdsClient, 'the Client of the lost connection let go');
  });

  it('never sends again a request that is not idempotent: a device that read `next` and dropped the socket gets it once, and the error says so', async () => {
    server = await rawServer((s, _r, i) => {
      if (i === 1)
        s.destroy(); // read, then the connection dropped without a reply
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nOK');
    });
    const origin = server.origin;
    await deviceRequest(connection, { origin, path: '/httpapi.asp?command=getPlayerStatus', timeoutMs: 2000, idempotent: true });
    const err = await rejectsWith(
      deviceRequest(connection, { origin, path: '/httpapi.asp?command=setPlayerCmd:next', timeoutMs: 2000, idempotent: false }),
      'network',
      /closed the connection before replying; the request was not sent again/,
      NOT_RESENT,
    );
    assert.ok(!isConnectionReset(err), 'not a reset a caller may retry');
    assert.deepEqual(
      server.requests.map((r) => r.split(' ')[1]),
      ['/httpapi.asp?command=getPlayerStatus', '/httpapi.asp?command=setPlayerCmd:next'],
    );
    assert.equal(server.connections, 1, 'no new connection for it');
    await until(() => !connection.holdsClient, 'the Client of the dropped connection let go');
  });

  it('does not send again a request whose reply was begun on a kept-alive connection', async () => {
    server = await rawServer((s, _r, i) => {
      if (i === 0) return void s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhal');
      s.destroy();
    });
    const req = { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true };
    await deviceRequest(connection, req);
    await rejectsWith(deviceRequest(connection, req), 'network', /closed the connection before replying/);
    assert.equal(server.requests.length, 2);
    await until(() => !connection.holdsClient, 'the Client of the dropped connection let go');
  });

  it('refuses a reply whose Content-Length is over a megabyte, and one that streams past it, stopping there', async () => {
    server = await rawServer((s, _r, i) => {
      if (i === 0) return void s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${MAX_REPLY_BYTES + 1}\r\n\r\n`);
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      // an endless body: the transport must stop reading it at the cap, not at the deadline
      const chunk = `10000\r\n${'a'.repeat(0x10000)}\r\n`;
      const more = () => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', more);
      };
      s.on('error', () => undefined);
      more();
    });
    const req = { origin: server.origin, path: '/a', timeoutMs: 60_000, idempotent: true };
    await rejectsWith(deviceRequest(connection, req), 'protocol', /sent a reply larger than 1048576 bytes/);
    await rejectsWith(deviceRequest(connection, req), 'protocol', /sent a reply larger than 1048576 bytes/);
    await until(() => server?.open === 0, 'the sockets to close');
    await until(() => !connection.holdsClient, 'its Client let go');
  });

  it('refuses a reply that is not HTTP with a protocol error, and lets that connection go', async () => {
    server = await rawServer((s) => s.write('<html>busy</html>\r\n\r\n'));
    await rejectsWith(
      deviceRequest(connection, { origin: server.origin, path: '/a', timeoutMs: 2000, idempotent: true }),
      'protocol',
      /sent a reply that is not valid HTTP\/1\.x/,
    );
    await until(() => server?.open === 0, 'the socket to close');
    await until(() => !connection.holdsClient, 'its Client let go');
  });

  it('gives up at the deadline on a reply that never ends, and closes that socket', async () => {
    server = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome'));
    await rejectsWith(deviceRequest(connection, { origin: server.origin, path: '/a', timeoutMs: 200, idempotent: true }), 'timeout', /within 200 ms/);
    await until(() => server?.open === 0, 'the socket to close');
    await until(() => !connection.holdsClient, 'its Client let go');
  });

  it('refuses, without sending, what waits when the connection closes', async () => {
    server = await rawServer(() => undefined); // never answers
    const first = deviceRequest(connection, { origin: server.origin, path: '/a', timeoutMs: 60_000, idempotent: true });
    const second = deviceRequest(connection, { origin: server.origin, path: '/b', timeoutMs: 60_000, idempotent: true });
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
          assert.equal((await deviceRequest(connection, { origin, path: '/a', timeoutMs: 2000, idempotent: true })).body, 'ok');
          connection.release(); // each request on a new connection, as an idle device's polls
        }
        await connection.close();
        assert.deepEqual(resumed, resumeSessions ? [false, true, true] : [false, false, false]);
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('an idle connection holds no Client: the next request makes one and still resumes the session, whoever closed the last', async () => {
    const { key, cert } = createSelfSignedCertificate('idle client test');
    const resumed: boolean[] = [];
    // the device closes the connection after its second reply, as a device that drops an idle one
    let replies = 0;
    const server = tls.createServer({ key, cert }, (socket) => {
      resumed.push(socket.isSessionReused());
      socket.on('data', () => {
        const last = ++replies === 2;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n${last ? 'Connection: close\r\n' : ''}\r\nok`);
        if (last) socket.end();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const req = { origin: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`, path: '/a', timeoutMs: 2000, idempotent: true };
    const connection = new DeviceConnection({ secureContext: tls.createSecureContext({}), keepAliveMs: 60_000 });
    try {
      assert.equal((await deviceRequest(connection, req)).body, 'ok');
      assert.ok(connection.holdsClient, 'a kept-alive connection keeps its Client');
      connection.release();
      await until(() => !connection.holdsClient, 'the released connection to let its Client go');
      // a new Client, on a new connection that resumes the session; the device closes this one
      assert.equal((await deviceRequest(connection, req)).body, 'ok');
      await until(() => !connection.holdsClient, 'the connection the device closed to let its Client go');
      assert.equal((await deviceRequest(connection, req)).body, 'ok');
      assert.deepEqual(resumed, [false, true, true]);
    } finally {
      await connection.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('http transport: which commands the clients may send twice', () => {
  /** A device that answers `reply`, except the second request, which it reads and drops without a reply. */
  async function dropsSecond(reply: string) {
    return rawServer((s, _r, i) => {
      if (i === 1) s.destroy();
      else s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${reply.length}\r\n\r\n${reply}`);
    });
  }
  const pathsOf = (requests: string[]) => requests.map((r) => decodeURIComponent(r.split(' ')[1]));

  it('WiiM: `next` is sent once and fails clearly; `volume 30` goes again and succeeds', async () => {
    for (const [command, arg, resent] of [
      ['next', undefined, false],
      ['volume', 30, true],
    ] as const) {
      const server = await dropsSecond('OK');
      const client = new WiimClient({ host: '127.0.0.1', port: Number(new URL(server.origin).port), protocol: 'http', keepAliveMs: 60_000 });
      try {
        await client.command('volume', 20);
        const sent = command === 'next' ? client.command('next') : client.command('volume', arg as number);
        if (resent) assert.equal((await sent).payload, 30);
        else await rejectsWith(sent, 'network', /was not sent again/, NOT_RESENT);
        const request = command === 'next' ? '/httpapi.asp?command=setPlayerCmd:next' : '/httpapi.asp?command=setPlayerCmd:vol:30';
        assert.equal(pathsOf(server.requests).filter((p) => p === request).length, resent ? 2 : 1, `${command}: times sent`);
      } finally {
        await client.close();
        await server.close();
      }
    }
  });

  it('SONOFF: a toggle (a switch computed from the known state) and ota_unlock are sent once; a plain switch goes again', async () => {
    const cases = [
      { name: 'switch on', send: (c: SonoffClient) => c.switch(true), times: 2 },
      { name: 'toggle', send: (c: SonoffClient) => c.request({ ...encodeSwitch(true), idempotent: false }), times: 1 },
      { name: 'ota_unlock', send: (c: SonoffClient) => c.otaUnlock(), times: 1 },
    ];
    for (const c of cases) {
      const server = await dropsSecond('{"seq":1,"error":0}');
      const client = new SonoffClient({ host: '127.0.0.1', port: Number(new URL(server.origin).port), deviceid: '1000abcdef' });
      try {
        await client.signalStrength().catch(() => undefined); // opens the connection the second request finds closed
        if (c.times === 2) await c.send(client);
        else await rejectsWith(c.send(client), 'network', /was not sent again/);
        assert.equal(server.requests.length, 1 + c.times, `${c.name}: times sent`);
      } finally {
        await client.close();
        await server.close();
      }
    }
  });
});
