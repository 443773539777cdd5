import { randomUUID } from 'node:crypto';
import readline from 'node:readline';
import { createSelfSignedCertificate } from '../src/sim/cert';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator } from '../src/sim/sonoff-sim';

/**
 * The devices of the scale benchmark, in their own process so that their
 * CPU does not count against Node-RED: N WiiM and N SONOFF simulators on
 * ephemeral loopback ports, and with `encrypted=K` and `meters=M` also K
 * stock relays and M POWR3 meters, all in encrypted LAN mode (each with its
 * own devicekey: POWR3s are stock devices). `diy=D` makes D DIY relays
 * instead of N; `mdns` has every relay advertise itself and push its state
 * over mDNS (only inside a private network namespace: bench/scale1000.ts).
 * Prints one JSON line with the ports; answers "stats" on stdin with the
 * request counts; exits when stdin closes.
 */
async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100);
  // "wiim-only" (the events rows): no relays; "playing": every WiiM plays
  const wiimOnly = process.argv.includes('wiim-only');
  const playing = process.argv.includes('playing');
  const count = (name: string, otherwise = 0) => Number(process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? otherwise);
  const diy = count('diy', n);
  const mdns = process.argv.includes('mdns');
  const cert = createSelfSignedCertificate('WiiM bench');
  const wiims: WiimSimulator[] = [];
  const relays: SonoffSimulator[] = [];
  for (let i = 0; i < n; i++) {
    const w = new WiimSimulator({ name: `WiiM ${i}` });
    w.setCertificate(cert);
    await w.start({ port: 0 });
    if (playing) w.playTrack(0);
    wiims.push(w);
  }
  for (let i = 0; i < (wiimOnly ? 0 : diy); i++) {
    const s = new SonoffSimulator({ deviceid: `1000${i.toString(16).padStart(6, '0')}`, mdns });
    await s.start({ port: 0 });
    relays.push(s);
  }
  const extra: Array<{ devicekey?: string; model?: 'powr3' }> = [
    ...Array.from({ length: count('encrypted') }, () => ({ devicekey: randomUUID() })),
    ...Array.from({ length: count('meters') }, () => ({ model: 'powr3' as const, devicekey: randomUUID() })),
  ];
  for (const [i, options] of extra.entries()) {
    // meters report changing readings, as a load on them would
    const s = new SonoffSimulator({ deviceid: `2000${i.toString(16).padStart(6, '0')}`, readingsEveryMs: options.model ? 5000 : 0, mdns, ...options });
    await s.start({ port: 0 });
    relays.push(s);
  }
  console.log(
    JSON.stringify({
      wiim: wiims.map((w) => w.port),
      upnp: wiims.map((w) => w.upnp.port),
      sonoff: relays.map((s) => ({ port: s.address.port, deviceid: s.deviceid, devicekey: s.devicekey, meter: s.model === 'powr3' })),
    }),
  );
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'stats') {
      // UPnP requests (SUBSCRIBE, renewals, UNSUBSCRIBE; not the NOTIFYs the device sends) count as requests too
      const wiimRequests = wiims.reduce((a, w) => a + w.requests.length + w.upnp.log.filter((l) => !l.startsWith('NOTIFY')).length, 0);
      const sonoffRequests = relays.reduce((a, s) => a + s.requests.length, 0);
      const wiimPolled = wiims.filter((w) => w.count('getPlayerStatus') > 0).length;
      // a relay in encrypted LAN mode is read with getState, a DIY one with info
      const sonoffPolled = relays.filter((s) => s.requestsTo('info').length + s.requestsTo('getState').length > 0).length;
      const upnpLive = wiims.filter((w) => w.upnp.subscriptions >= 3).length;
      // where the requests go: by httpapi command (without its argument) and zeroconf endpoint
      const byKind: Record<string, number> = {};
      for (const w of wiims) for (const r of w.requests) byKind[r.split(':')[0]] = (byKind[r.split(':')[0]] ?? 0) + 1;
      for (const s of relays) for (const r of s.requests) byKind[r.endpoint] = (byKind[r.endpoint] ?? 0) + 1;
      console.log(JSON.stringify({ wiimRequests, sonoffRequests, wiimPolled, sonoffPolled, upnpLive, byKind }));
    }
  });
  lines.on('close', () => {
    void Promise.all([...wiims.map((w) => w.stop()), ...relays.map((s) => s.stop())]).then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
