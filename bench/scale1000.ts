import { log, measureFloor, measureNodeRed, scaleFlows, startSims, type NodeRedFigures } from './measure';

/**
 * Part 8, run by bench/run.ts inside `unshare -n` (a private network
 * namespace, loopback with multicast only: the relays push over mDNS): 1000
 * devices as a user with push would run them. 500 WiiM with UPnP events on
 * (the default), 500 SONOFF found and pushed by mDNS (250 DIY relays, 150
 * relays and 100 POWR3 meters in encrypted LAN mode), the simulators in a
 * second process. Node-RED's CPU over a judged window after a warm-up, then
 * plain undici reading the same devices the way a poller without push must
 * (every WiiM every 5 s, every relay every 10 s; bench/poll-floor.ts), in
 * the same run. Prints one JSON line.
 */
async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_1000_SECONDS ?? 60);
  const warm = Number(process.env.BENCH_1000_WARM ?? 60);
  const started = Date.now();
  const sims = await startSims(['500', 'diy=250', 'encrypted=150', 'meters=100', 'mdns']);
  log(`8: ${sims.ports.wiim.length + sims.ports.sonoff.length} simulators up in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  try {
    const { ports } = sims;
    // a relay without a host is found by its deviceid over mDNS and pushes its state (no polling; a liveness read once a minute)
    const { flows, credentials } = scaleFlows(
      ports,
      (i) => ({ events: 'auto', upnpPort: String(ports.upnp[i]) }),
      () => ({ host: '', port: '' }),
    );
    const tab = flows[0];
    log('8: Node-RED without devices (memory baseline, 30 s settle, 10 s read)...');
    // its RSS stays at its start-up size for about 15 s, then drops by some 30 MB and stays flat (bench/README.md): read after that, as the 1000-device one is
    const base: NodeRedFigures = await measureNodeRed([tab], { settleMs: 30_000, warmSeconds: 1, seconds: 10, loopSeconds: 1 });
    const counts: Array<Awaited<ReturnType<typeof sims.stats>>> = [];
    log(`8: Node-RED with 1000 devices (${warm} s warm-up, ${seconds} s judged, 10 s event-loop delay)...`);
    const full = await measureNodeRed(flows, { settleMs: 0, warmSeconds: warm, seconds, loopSeconds: 10 }, credentials, async () => {
      counts.push(await sims.stats());
    });
    const [before, after] = counts;
    // the floor's polls run like clockwork: 30 s hold three whole rounds of them
    const floorSeconds = Math.min(seconds, 30);
    log(`8: plain undici polling the same devices (${floorSeconds} s after 15 s)...`);
    const floor = await measureFloor(ports, 15000, floorSeconds);
    const byKind = Object.fromEntries(Object.keys(after.byKind).map((k) => [k, (after.byKind[k] ?? 0) - (before.byKind[k] ?? 0)]));
    console.log(
      JSON.stringify({
        seconds,
        warm,
        devices: ports.wiim.length + ports.sonoff.length,
        base,
        full,
        floorCpuPercent: floor,
        // in the judged window
        requests: { wiim: after.wiimRequests - before.wiimRequests, sonoff: after.sonoffRequests - before.sonoffRequests, byKind },
        upnpLive: after.upnpLive,
        durationS: (Date.now() - started) / 1000,
      }),
    );
  } finally {
    await sims.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
