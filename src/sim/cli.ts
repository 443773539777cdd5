#!/usr/bin/env node
/**
 * Command-line entry of the device simulators:
 *
 *   wiim-sonoff-sim wiim   [--port 8443] [--name "Living Room"] [--http] [--mdns]
 *   wiim-sonoff-sim sonoff [--port 8081] [--deviceid 1000abcdef] [--multi] [--mdns]
 *
 * Both listen on 127.0.0.1 and advertise themselves over mDNS only with
 * --mdns, so that no fake device shows up on a real network unless asked for.
 */
import { runWiimSimCli } from './wiim-sim';
import { runSonoffSimCli } from './sonoff-sim';

const usage = `usage:
  wiim-sonoff-sim wiim   [--port N] [--name NAME] [--http] [--mdns]
  wiim-sonoff-sim sonoff [--port N] [--deviceid ID] [--multi] [--mdns]`;

async function main(argv: string[]): Promise<void> {
  const [family, ...rest] = argv;
  if (family === 'wiim') return runWiimSimCli(rest);
  if (family === 'sonoff') return runSonoffSimCli(rest);
  console.error(usage);
  process.exitCode = 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
