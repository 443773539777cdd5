import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createSelfSignedCertificate, serialOf } from '../src/sim/cert';

describe('the simulator certificate', () => {
  // the serial's first byte decides whether DER reads it as negative (top bit set) or not minimal (zero);
  // a random serial broke about one certificate in 512 before: these are the bytes on each side of those edges
  const EDGES = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xbf, 0xc0, 0xfe, 0xff];

  it('is valid DER for every first byte of the serial on either side of its edges, and for all-zero and all-one serials', () => {
    const serials = [...EDGES.map((b) => Buffer.from([b, 0, 0, 0, 0, 0, 0, 1])), Buffer.alloc(8, 0), Buffer.alloc(8, 0xff)];
    for (const random of serials) {
      const c = createSelfSignedCertificate('edge', random);
      const x = new X509Certificate(c.cert);
      const serial = serialOf(random);
      assert.equal(x.serialNumber, serial.toString('hex').toUpperCase(), `serial from ${random.toString('hex')}`);
      assert.ok(serial[0] >= 0x40 && serial[0] <= 0x7f, 'positive, and minimal: the first byte is neither zero nor above 0x7f');
      assert.equal(x.fingerprint256, c.fingerprint256);
      assert.ok(x.checkPrivateKey(createPrivateKey(c.key)));
    }
  });

  it('keeps the serial’s other bytes as they came, and the name as given', () => {
    const random = Buffer.from([0xff, 0x00, 0x80, 0x7f, 0x01, 0xfe, 0x00, 0x00]);
    assert.deepEqual([...serialOf(random)], [0x7f, 0x00, 0x80, 0x7f, 0x01, 0xfe, 0x00, 0x00]);
    const x = new X509Certificate(createSelfSignedCertificate('device 1 – Küche', random).cert);
    assert.match(x.subject, /CN=device 1 – Küche/);
  });

  it('serves TLS on loopback with the fingerprint it reports', async () => {
    const c = createSelfSignedCertificate('WiiM test');
    const server = https.createServer({ key: c.key, cert: c.cert }, (_req, res) => res.end('OK'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = server.address() as AddressInfo;
      const seen = await new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false }, (res) => {
            resolve((res.socket as TLSSocket).getPeerCertificate().fingerprint256);
            res.resume();
          })
          .on('error', reject);
      });
      assert.equal(seen, c.fingerprint256);
    } finally {
      server.close();
    }
  });
});
