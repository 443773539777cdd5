import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { helper, node, sessionOf, withTab } from '../test/helpers/runtime';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import type { SonoffSession } from '../src/sessions/sonoff-session';
import { SonoffSimulator } from '../src/sim/sonoff-sim';
import { loadPlain } from './plain-runtime';
import { sleep } from './stats';

/**
 * Push latency, run by bench/run.ts inside `unshare -n` (a private network
 * namespace, loopback multicast only): a simulated button press goes out as
 * an mDNS TXT record and comes back as a sonoff-switch output. Prints one
 * JSON line: {samples: [ms...], wrong}. argv[3] `encrypted`: a stock
 * relay in LAN mode (its TXT records sealed with the devicekey, which the
 * config node holds as its credential) instead of a DIY one.
 */
type Msg = { payload?: unknown; sonoff?: { source?: string } };

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 30);
  const encrypted = process.argv[3] === 'encrypted';
  const deviceid = encrypted ? '1000cccccc' : '1000bbbbbb';
  const devicekey = encrypted ? '5d1c2a3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d' : undefined;
  const relay = new SonoffSimulator({ deviceid, mdns: true, devicekey });
  await relay.start({ port: 0 });
  await loadPlain(
    [sonoffConfig, sonoffSwitch] as Array<(RED: unknown) => void>,
    withTab([
      { id: 'cfg', type: 'sonoff-config', name: 'Bench relay', deviceid, host: '', port: '8081', model: 'auto', pollInterval: '0' },
      { id: 'sw', type: 'sonoff-switch', device: 'cfg', outlet: '0', payloadType: 'boolean', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]),
    devicekey ? { cfg: { devicekey } } : {},
  );
  const session = sessionOf<SonoffSession>('cfg');
  const deadline = Date.now() + 10000;
  while (session.state === undefined || session.address === undefined) {
    if (Date.now() > deadline) throw new Error('the relay was not found over mDNS within 10 s');
    await sleep(20);
  }
  const out = node('out') as unknown as EventEmitter;
  const samples: number[] = [];
  let wrong = 0;
  for (let i = 0; i < rounds + 5; i++) {
    const got = new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no pushed output within 5 s')), 5000);
      out.once('input', (m: Msg) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    const t0 = performance.now();
    relay.pressButton(0);
    const m = await got;
    const dt = performance.now() - t0;
    const right = m.payload === relay.outlets[0].on && m.sonoff?.source === 'push';
    if (!right) wrong++;
    else if (i >= 5) samples.push(dt); // five warm-up presses
    await sleep(40);
  }
  await helper.unload();
  await relay.stop();
  console.log(JSON.stringify({ samples, wrong }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
