import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createSelfSignedCertificate } from '../src/sim/cert';

describe('the simulator certificate', () => {
  it('is valid DER every time (the random serial once broke it about one time in 512)', () => {
    for (let i = 0; i < 2000; i++) {
      const c = createSelfSignedCertificate(`device ${i}`);
      const x = new X509Certificate(c.cert);
      assert.equal(x.fingerprint256, c.fingerprint256);
      assert.match(x.subject, new RegExp(`CN=device ${i}`));
      assert.ok(x.checkPrivateKey(createPrivateKey(c.key)));
    }
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
