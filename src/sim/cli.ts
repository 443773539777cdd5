#!/usr/bin/env node
/**
 * Command-line entry of the device simulators. Both listen on 127.0.0.1
 * unless --host says otherwise, and advertise themselves over mDNS only with
 * --mdns, so that no fake device shows up on a real network unless asked for.
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { SonoffSimulator, type SimModel } from './sonoff-sim';
import { WiimSimulator } from './wiim-sim';
import type { UpnpFaults } from './wiim-upnp-sim';
import { isWiimProfile, WIIM_PROFILES, type WiimProfileName } from './wiim-profiles';

export const USAGE = `usage:
  wiim-sonoff-sim wiim   [--port N] [--host H] [--name NAME] [--http] [--model M] [--firmware V] [--mdns]
                         [--no-upnp] [--events-stop] [--renew-412] [--grant-timeout S] [--loop-mpde] [--didl-json]
  wiim-sonoff-sim sonoff [--port N] [--host H] [--deviceid ID] [--multi] [--model M] [--devicekey KEY]
                         [--drop-deviceid] [--one-connection] [--mdns]
  wiim-sonoff-sim --help

  --port N       TCP port, 0 for any free one (wiim: 0, sonoff: 8081)
  --host H       IP address to listen on (127.0.0.1)
  --name NAME    the WiiM device name ("WiiM Simulator")
  --http         WiiM over plain HTTP instead of HTTPS with a self-signed certificate
  --model M      the model to answer as: ${WIIM_PROFILES.join(', ')} (mini)
  --firmware V   the firmware version it reports (the model's own)
  UPnP events of the WiiM (faults, for trying a flow's fallback):
  --no-upnp         no UPnP at all: no description, no subscriptions (the device is polled)
  --events-stop     subscriptions are granted, but no event is ever sent
  --renew-412       every renewal is answered 412 Precondition Failed (as after a reboot)
  --grant-timeout S grant subscriptions for S seconds, whatever was asked for
  --loop-mpde       PlayQueue's loop mode spelled LoopMpde, as some firmware does
  --didl-json       track metadata as JSON instead of DIDL-Lite, as some firmware does
  --deviceid ID  the SONOFF device ID, 10 hex digits (1000abcdef)
  --multi        a 4-channel SONOFF relay (MINIR3 protocol) instead of a single channel
  --model M      relay (default), d1 (dimmer), powr2 or powr3 (meters), th (sensor); readings change every 5 s
  --devicekey K  stock firmware in LAN mode: replies and TXT records encrypted with this key
  --drop-deviceid   firmware that drops the connection when the deviceid is filled in
  --one-connection  a web server that takes one connection at a time
  --mdns         advertise the device over mDNS (it becomes visible on the network)`;

export type CliCommand =
  | { family: 'help' }
  | {
      family: 'wiim';
      port: number;
      host: string;
      name: string;
      protocol: 'https' | 'http';
      mdns: boolean;
      model: WiimProfileName;
      firmware?: string;
      /** false: no UPnP server at all */
      upnp?: false;
      /** the UPnP fault switches asked for */
      upnpFaults?: Partial<Omit<UpnpFaults, 'noUpnp'>>;
    }
  | {
      family: 'sonoff';
      port: number;
      host: string;
      deviceid: string;
      multi: boolean;
      mdns: boolean;
      model?: SimModel;
      devicekey?: string;
      dropDeviceid?: boolean;
      oneConnection?: boolean;
    };

/** A command line that cannot run; the message says why. */
export class UsageError extends Error {}

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  mdns: { type: 'boolean' },
  help: { type: 'boolean' },
  name: { type: 'string' },
  http: { type: 'boolean' },
  model: { type: 'string' },
  firmware: { type: 'string' },
  deviceid: { type: 'string' },
  multi: { type: 'boolean' },
  devicekey: { type: 'string' },
  'drop-deviceid': { type: 'boolean' },
  'one-connection': { type: 'boolean' },
  'no-upnp': { type: 'boolean' },
  'events-stop': { type: 'boolean' },
  'renew-412': { type: 'boolean' },
  'grant-timeout': { type: 'string' },
  'loop-mpde': { type: 'boolean' },
  'didl-json': { type: 'boolean' },
} as const;

const MODELS: readonly SimModel[] = ['relay', 'd1', 'powr2', 'powr3', 'th'];
/** How often a meter's or sensor's readings change when run from the command line. */
const CLI_READINGS_EVERY_MS = 5000;

const FAMILY_FLAGS = {
  wiim: ['name', 'http', 'model', 'firmware', 'no-upnp', 'events-stop', 'renew-412', 'grant-timeout', 'loop-mpde', 'didl-json'],
  sonoff: ['deviceid', 'multi', 'model', 'devicekey', 'drop-deviceid', 'one-connection'],
} as const;

/** The one flag parser: unknown flags, missing values and stray arguments are refused. */
function readFlags(args: string[]) {
  try {
    return parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const FAULT_FLAGS = {
  eventsStop: 'events-stop',
  renew412: 'renew-412',
  grantedTimeoutS: 'grant-timeout',
  loopMpde: 'loop-mpde',
  didlJson: 'didl-json',
} as const;
const flagOf = (fault: string) => FAULT_FLAGS[fault as keyof typeof FAULT_FLAGS];

/** The UPnP fault switches of a WiiM command line; undefined when none is set. */
function upnpFaultsOf(values: ReturnType<typeof readFlags>): Partial<Omit<UpnpFaults, 'noUpnp'>> | undefined {
  const faults: Partial<Omit<UpnpFaults, 'noUpnp'>> = {};
  if (values['events-stop']) faults.eventsStop = true;
  if (values['renew-412']) faults.renew412 = true;
  if (values['loop-mpde']) faults.loopMpde = true;
  if (values['didl-json']) faults.didlJson = true;
  const grant = values['grant-timeout'];
  if (grant !== undefined) {
    // UDA 1.1: TIMEOUT is Second-<n>, n a positive number of seconds
    if (!/^\d{1,6}$/.test(grant) || Number(grant) < 1) throw new UsageError(`--grant-timeout must be a number of seconds (1-999999), got "${grant}"`);
    faults.grantedTimeoutS = Number(grant);
  }
  return Object.keys(faults).length > 0 ? faults : undefined;
}

/** Reads a command line (without `node` and the script); throws UsageError. */
export function parseCli(argv: string[]): CliCommand {
  const [family, ...rest] = argv;
  if (family === '--help' || family === '-h') return { family: 'help' };
  if (family !== 'wiim' && family !== 'sonoff') throw new UsageError(family ? `unknown device family: ${family}` : 'which device: wiim or sonoff?');
  const values = readFlags(rest);
  if (values.help) return { family: 'help' };
  const own: readonly string[] = FAMILY_FLAGS[family];
  const other = family === 'wiim' ? FAMILY_FLAGS.sonoff : FAMILY_FLAGS.wiim;
  for (const f of other) if (!own.includes(f) && values[f] !== undefined) throw new UsageError(`--${f} is not an option of ${family}`);
  const port = values.port === undefined ? (family === 'wiim' ? 0 : 8081) : Number(values.port);
  if (!/^\d{1,5}$/.test(values.port ?? '0') || port > 65535) throw new UsageError(`--port must be a port number (0-65535), got "${values.port}"`);
  const host = values.host ?? '127.0.0.1';
  if (!isIP(host)) throw new UsageError(`--host must be an IP address, got "${host}"`);
  const mdns = !!values.mdns;
  if (family === 'wiim') {
    const name = values.name ?? 'WiiM Simulator';
    if (!name.trim()) throw new UsageError('--name must not be empty');
    const model = values.model ?? 'mini';
    if (!isWiimProfile(model)) throw new UsageError(`--model must be one of ${WIIM_PROFILES.join(', ')}, got "${model}"`);
    const firmware = values.firmware;
    if (firmware !== undefined && !/^[\w.-]+$/.test(firmware)) throw new UsageError(`--firmware must be a version like 4.8.618971, got "${firmware}"`);
    const out: CliCommand = { family, port, host, name, protocol: values.http ? 'http' : 'https', mdns, model, ...(firmware ? { firmware } : {}) };
    const faults = upnpFaultsOf(values);
    if (values['no-upnp']) {
      if (faults) throw new UsageError(`--${Object.keys(faults).map(flagOf).join(', --')} needs UPnP, which --no-upnp turns off`);
      out.upnp = false;
    } else if (faults) out.upnpFaults = faults;
    return out;
  }
  const deviceid = values.deviceid ?? '1000abcdef';
  // eWeLink device IDs are 10 hex digits, as in the TXT record's id
  if (!/^[0-9a-f]{10}$/i.test(deviceid)) throw new UsageError(`--deviceid must be 10 hex digits, got "${deviceid}"`);
  const model = (values.model ?? 'relay') as SimModel;
  if (!MODELS.includes(model)) throw new UsageError(`--model must be one of ${MODELS.join(', ')}, got "${values.model}"`);
  if (values.devicekey === '') throw new UsageError('--devicekey must not be empty');
  const out: CliCommand = { family, port, host, deviceid, multi: !!values.multi, mdns };
  if (model !== 'relay') out.model = model;
  if (values.devicekey !== undefined) out.devicekey = values.devicekey;
  if (values['drop-deviceid']) out.dropDeviceid = true;
  if (values['one-connection']) out.oneConnection = true;
  return out;
}

/** Starts the simulator a command line asks for; resolves to its stop function. */
export async function runCli(command: Exclude<CliCommand, { family: 'help' }>, log: (line: string) => void = console.log): Promise<() => Promise<void>> {
  if (command.family === 'wiim') {
    const { name, protocol, host, port, mdns, model, firmware } = command;
    const sim = new WiimSimulator({ name, protocol, host, port, mdns, model, firmware, ...(command.upnp === false ? { upnpPort: false as const } : {}) });
    Object.assign(sim.upnp.faults, command.upnpFaults);
    const { url } = await sim.start();
    log(
      `WiiM simulator "${command.name}" (${model}, firmware ${sim.state.firmware}) at ${url}/httpapi.asp?command=getStatusEx${command.mdns ? ', announced over mDNS' : ''}`,
    );
    if (sim.fingerprint) log(`certificate SHA-256: ${sim.fingerprint}`);
    if (sim.clientCertificate) log(`mutual TLS: give the client this certificate and key\n${sim.clientCertificate.cert}${sim.clientCertificate.key}`);
    if (command.upnp === false) log('no UPnP (--no-upnp): the device is polled');
    else log(`UPnP description (events) at ${sim.descriptionUrl}${command.upnpFaults ? `; faults: ${JSON.stringify(command.upnpFaults)}` : ''}`);
    return () => sim.stop();
  }
  const sim = new SonoffSimulator({
    deviceid: command.deviceid,
    multi: command.multi,
    host: command.host,
    mdns: command.mdns,
    model: command.model,
    devicekey: command.devicekey,
    dropOnDeviceid: command.dropDeviceid,
    oneConnection: command.oneConnection,
    readingsEveryMs: CLI_READINGS_EVERY_MS,
  });
  await sim.start({ port: command.port });
  const what = command.model ?? `${sim.multi ? 'multi' : 'single'}-channel`;
  const mode = command.devicekey ? 'LAN (encrypted)' : 'DIY';
  log(`SONOFF ${mode} simulator (${what}, deviceid ${sim.deviceid}) on ${sim.url}/zeroconf/${command.mdns ? ', announced over mDNS' : ''}`);
  return () => sim.stop();
}

async function main(argv: string[]): Promise<void> {
  let command: CliCommand;
  try {
    command = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (command.family === 'help') {
    console.log(USAGE);
    return;
  }
  const stop = await runCli(command);
  const exit = () => {
    void stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', exit);
  process.once('SIGTERM', exit);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
