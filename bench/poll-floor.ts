import { createSecureContext } from 'node:tls';
import { Agent, request } from 'undici';
import { KEEP_ALIVE_MS } from '../src/shared/http';
import { aesKey, openJson, sealedRequestBody } from '../src/sonoff/crypto';

/**
 * The scale benchmark's comparison: the polls a poller without push must
 * make (getPlayerStatus every 5 s with the follower list every sixth poll; a
 * relay's state every 10 s: `info` in DIY mode, a sealed `getState` in
 * encrypted LAN mode, its reply opened), made with plain undici in a plain
 * Node process, with what our transport has too (an agent per device, one
 * TLS context, the same keep-alive).
 * argv[2]: {"wiim": [port...], "sonoff": [{port, deviceid, devicekey?}...]}.
 * Runs until killed; the benchmark measures its CPU.
 */
const { wiim, sonoff } = JSON.parse(process.argv[2] ?? '{"wiim":[],"sonoff":[]}') as {
  wiim: number[];
  sonoff: Array<{ port: number; deviceid: string; devicekey?: string }>;
};
const secureContext = createSecureContext({});
// one agent per device, as we have one connection per device: an agent's TLS
// session cache is keyed by host, and every simulator is on 127.0.0.1 with a
// session of its own, so a shared one would resume none of them
const agentFor = () =>
  new Agent({
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
    keepAliveTimeoutThreshold: 1000,
    connect: { rejectUnauthorized: false, secureContext },
  });

async function get(agent: Agent, url: string): Promise<void> {
  const res = await request(url, { dispatcher: agent });
  JSON.parse(await res.body.text());
}

function every(ms: number, offset: number, poll: (n: number) => Promise<void>): void {
  let n = 0;
  const tick = () => {
    void poll(n++)
      .catch(() => undefined)
      .finally(() => setTimeout(tick, ms));
  };
  setTimeout(tick, offset);
}

wiim.forEach((port, i) => {
  const agent = agentFor();
  every(5000, (i * 5000) / wiim.length, async (n) => {
    const base = `https://127.0.0.1:${port}/httpapi.asp?command=`;
    await get(agent, `${base}getPlayerStatus`);
    if (n % 6 === 0) await get(agent, `${base}multiroom:getSlaveList`);
  });
});
sonoff.forEach(({ port, deviceid, devicekey }, i) => {
  const agent = agentFor();
  const key = devicekey ? aesKey(devicekey) : undefined;
  every(10000, (i * 10000) / sonoff.length, async () => {
    const res = await request(`http://127.0.0.1:${port}/zeroconf/${key ? 'getState' : 'info'}`, {
      dispatcher: agent,
      method: 'POST',
      body: key ? sealedRequestBody(deviceid, {}, key) : JSON.stringify({ deviceid, data: {} }),
      headers: { 'content-type': 'application/json' },
    });
    const reply = JSON.parse(await res.body.text()) as { iv?: string; data?: unknown };
    if (key && typeof reply.iv === 'string' && typeof reply.data === 'string') openJson({ iv: reply.iv, data: reply.data }, key);
  });
});
