import assert from 'node:assert/strict';
import { rejectsWith } from './helpers/assert';
import { DeviceError } from '../src/shared/errors';
import { parseTxt } from '../src/shared/mdns';
import { parseReply } from '../src/sonoff/codec';
import { parseTxtState } from '../src/sonoff/txt';
import { NEEDS_KEY_MESSAGE, WRONG_KEY_MESSAGE, aesKey, open, openJson, seal, sealedRequestBody } from '../src/sonoff/crypto';
import { SonoffClient } from '../src/sonoff/client';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

const ID = '1000abcdef';
const KEY = '64271b79-89f6-4d18-8318-7d751faacd13';

// SonoffLAN's test vectors (tests/test_local.py): key, iv, data -> plaintext
const VECTORS = [
  { key: KEY, iv: '3PgYPjEuE4qCoZOTsPE2xg==', data: 't9YKDAK3nnURqivGN0evtaS+Yj4M6b6NUV+ptJlMTOQ=', plain: '{"switch": "on"}' },
  {
    key: '9b0810bc-557a-406c-8266-614767890531',
    iv: 'MTA4MDc1MTQ5NzE5ODE2Ng==',
    data: 'D85ho6GLI5uFX2b1+vohUIb+Xt99f55wxsBsNhqpPQdQ/WNc3ZTlCi1UVFiFU5cnaCPjvXPG6pqfHqXdtCO2fA==',
    // the device left \x02\x02 after the padding (SonoffLAN #1160): dropped
    plain: '{"switches": [{"outlet": 0, "switch": "off"}]}',
  },
];

/** A pattern matching `text` as written (the messages hold parentheses). */
function literally(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

describe('sonoff encrypted LAN mode: the cipher', () => {
  it('decrypts both test vectors exactly, the trailing \\x02 bytes dropped', () => {
    for (const v of VECTORS) assert.equal(open({ iv: v.iv, data: v.data }, v.key), v.plain);
    assert.deepEqual(openJson(VECTORS[1], VECTORS[1].key), { switches: [{ outlet: 0, switch: 'off' }] });
  });

  it('encrypts to the vector with the vector iv, and with a fresh iv every time otherwise', () => {
    assert.deepEqual(seal(VECTORS[0].plain, KEY, Buffer.from(VECTORS[0].iv, 'base64')), { iv: VECTORS[0].iv, data: VECTORS[0].data });
    const a = seal('{}', KEY);
    const b = seal('{}', KEY);
    assert.notEqual(a.iv, b.iv);
    assert.equal(Buffer.from(a.iv, 'base64').length, 16);
    assert.equal(aesKey(KEY).length, 16);
  });

  it('builds the request body both public clients send', () => {
    const body = JSON.parse(sealedRequestBody(ID, { switch: 'on' }, KEY, 1700000000000)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['data', 'deviceid', 'encrypt', 'iv', 'selfApikey', 'sequence']);
    assert.equal(body.sequence, '1700000000000');
    assert.equal(body.selfApikey, '123');
    assert.equal(body.encrypt, true);
    assert.deepEqual(openJson({ iv: body.iv as string, data: body.data as string }, KEY), { switch: 'on' });
  });

  it('a wrong key is "cannot decrypt", never garbage state', () => {
    for (const v of VECTORS)
      assert.throws(
        () => openJson(v, 'not-the-key'),
        (e: unknown) => e instanceof DeviceError && e.message === WRONG_KEY_MESSAGE,
      );
    const reply = JSON.stringify({ seq: 3, error: 0, encrypt: true, ...VECTORS[0] });
    assert.throws(() => parseReply(200, reply, 'info', 'wrong'), literally(WRONG_KEY_MESSAGE));
    assert.throws(() => parseReply(200, reply, 'info'), literally(NEEDS_KEY_MESSAGE));
    assert.deepEqual(parseReply(200, reply, 'info', KEY), { seq: 3, error: 0, data: { switch: 'on' } });
    assert.deepEqual(parseReply(200, JSON.stringify({ seq: 4, error: 0, data: '' }), 'switch', KEY), { seq: 4, error: 0 });
  });

  it('reads an encrypted TXT record: data1..data4 joined in key order before decoding', () => {
    const d = VECTORS[1].data;
    const txt = parseTxt([
      `data2=${d.slice(20, 50)}`,
      'encrypt=true',
      `iv=${VECTORS[1].iv}`,
      `data3=${d.slice(50)}`,
      'seq=7',
      `data1=${d.slice(0, 20)}`,
      `id=${ID}`,
    ]);
    const t = parseTxtState(txt, VECTORS[1].key);
    assert.equal(t.encrypted, true);
    assert.equal(t.seq, 7);
    assert.deepEqual(t.state?.outlets, [{ outlet: 0, on: false }]);
    assert.match(parseTxtState(txt).keyProblem?.message ?? '', literally(NEEDS_KEY_MESSAGE));
    const wrong = parseTxtState(txt, KEY);
    assert.equal(wrong.state, undefined);
    assert.equal(wrong.keyProblem?.message, WRONG_KEY_MESSAGE);
  });
});

describe('sonoff encrypted LAN mode against the encrypting simulator', () => {
  let sim: SonoffSimulator;
  let client: SonoffClient;

  async function setup(options: ConstructorParameters<typeof SonoffSimulator>[0], devicekey: string | null = KEY): Promise<void> {
    sim = new SonoffSimulator({ deviceid: ID, devicekey: KEY, ...options });
    const { host, port } = await sim.start();
    client = new SonoffClient({ host, port, deviceid: ID, devicekey: devicekey ?? undefined, timeoutMs: 2000 });
  }

  afterEach(async () => {
    await client?.close();
    await sim?.stop();
  });

  it('single-channel: every endpoint round trips, the device sees the params decrypted', async () => {
    await setup({});
    await client.switch(true);
    await client.startup('stay');
    await client.pulse({ pulse: true, width: 1500 });
    assert.equal(await client.signalStrength(), -55);
    await client.wifi('home', 'secret');
    await client.otaUnlock();
    await client.request({ endpoint: 'sledonline', data: { sledOnline: 'off' } });
    const { state } = await client.info();
    assert.deepEqual(state.outlets, [{ outlet: 0, on: true, startup: 'stay', pulse: true, pulseWidth: 1500 }]);
    const ping = await client.request({ endpoint: 'getState', data: {} });
    assert.equal(ping.data?.sledOnline, 'off');
    assert.deepEqual(sim.requestsTo('switch')[0].body, { deviceid: ID, data: { switch: 'on' } });
    assert.equal(sim.ssid, 'home');
  });

  it('multi-channel: switches, startups and pulses round trip', async () => {
    await setup({ multi: true });
    await client.switches([{ outlet: 2, on: true }]);
    await client.startups([{ outlet: 1, startup: 'on' }]);
    await client.pulses([{ outlet: 3, pulse: true, width: 2000, switch: 'off' }]);
    const { state } = await client.info();
    assert.equal(state.family, 'multi');
    assert.equal(state.outlets[2].on, true);
    assert.equal(state.outlets[1].startup, 'on');
    assert.equal(state.outlets[3].pulseWidth, 2000);
  });

  it('the TXT record the simulator announces decrypts with the key only', async () => {
    await setup({});
    await client.switch(true);
    const txt = parseTxt(sim.txtEntries());
    assert.equal(txt.encrypt, 'true');
    assert.equal(parseTxtState(txt, KEY).state?.outlets[0].on, true);
    assert.equal(parseTxtState(txt, 'wrong').keyProblem?.message, WRONG_KEY_MESSAGE);
    assert.notEqual(parseTxt(sim.txtEntries()).iv, txt.iv);
  });

  it('a wrong key is "cannot decrypt: check the devicekey"', async () => {
    await setup({}, 'not-the-key');
    await rejectsWith(client.switch(true), 'device', literally(WRONG_KEY_MESSAGE), 401);
    assert.equal(sim.outlets[0].on, false);
  });

  it('no key on an encrypted device asks for the devicekey', async () => {
    await setup({}, null);
    await rejectsWith(client.info(), 'device', literally(NEEDS_KEY_MESSAGE), 401);
  });

  it('an HTML answer to getState means online', async () => {
    await setup({});
    sim.faults.garbage = true;
    assert.deepEqual(await client.request({ endpoint: 'getState', data: {} }), { error: 0 });
    await rejectsWith(client.info(), 'protocol');
  });
});
