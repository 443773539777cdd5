import { createSecureContext } from 'node:tls';
import { Agent, request } from 'undici';
import { KEEP_ALIVE_MS } from '../src/shared/http';

/**
 * The scale benchmark's comparison: the same polls as the 200-device
 * Node-RED (getPlayerStatus every 5 s, the follower list every sixth poll,
 * a relay's info every 10 s), made with raw undici in a plain Node process,
 * with what our transport has too (an agent per device, one TLS context,
 * the same keep-alive).
 * argv[2]: {"wiim": [port...], "sonoff": [{port, deviceid}...]}. Runs until
 * killed; bench/run.ts measures its CPU.
 */
const { wiim, sonoff } = JSON.parse(process.argv[2] ?? '{"wiim":[],"sonoff":[]}') as { wiim: number[]; sonoff: Array<{ port: number; deviceid: string }> };
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
sonoff.forEach(({ port, deviceid }, i) => {
  const agent = agentFor();
  every(10000, (i * 10000) / sonoff.length, async () => {
    const res = await request(`http://127.0.0.1:${port}/zeroconf/info`, {
      dispatcher: agent,
      method: 'POST',
      body: JSON.stringify({ deviceid, data: {} }),
      headers: { 'content-type': 'application/json' },
    });
    JSON.parse(await res.body.text());
  });
});
