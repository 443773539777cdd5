import assert from 'node:assert/strict';
import type { FakeClock } from './fake-clock';
import { coreNode, helper, outcome, type CaughtMsg, type Msg } from './runtime';
import wiimConfig from '../../src/nodes/wiim-config';
import wiimCommand from '../../src/nodes/wiim-command';
import wiimStatus from '../../src/nodes/wiim-status';
import sonoffConfig from '../../src/nodes/sonoff-config';
import sonoffSwitch from '../../src/nodes/sonoff-switch';
import sonoffPulse from '../../src/nodes/sonoff-pulse';
import sonoffOta from '../../src/nodes/sonoff-ota';
import sonoffDimmer from '../../src/nodes/sonoff-dimmer';
import sonoffSensor from '../../src/nodes/sonoff-sensor';
import { WiimSimulator } from '../../src/sim/wiim-sim';
import { SonoffSimulator } from '../../src/sim/sonoff-sim';

// What the reliability suites (bad-input.test.ts, faults.test.ts) share: every
// node type in a real Node-RED (test helper), simulators on 127.0.0.1, and a
// watch for unhandled rejections and uncaught exceptions.

const catchNode = coreNode('common/25-catch.js');
const statusNode = coreNode('common/25-status.js');
export const nodes = [
  wiimConfig,
  wiimCommand,
  wiimStatus,
  sonoffConfig,
  sonoffSwitch,
  sonoffPulse,
  sonoffOta,
  sonoffDimmer,
  sonoffSensor,
  catchNode,
  statusNode,
] as Array<(RED: unknown) => void>;

/** Sends `msg` into `target`: its output (at helper `outId`) or the error a Catch node got. */
export const send = (target: string, msg: Msg, outId = 'out') => outcome<Msg, CaughtMsg>(target, msg, 8000, outId);

/** The runtime's own settings object (RED.settings): helper.settings({...}) would replace it with a copy that loses its methods. */
export const settings = helper.settings();

/** Loads a flow of the node types above; its sessions run on `clock` (RED.settings.wiimSonoffClock) when one is given. */
export async function load(flow: object[], clock?: FakeClock): Promise<void> {
  if (clock) settings.wiimSonoffClock = clock;
  else delete settings.wiimSonoffClock;
  await helper.load(nodes, flow);
}

/** Open server-side connections of a simulator. */
export const openSockets = (sim: WiimSimulator | SonoffSimulator) => (sim instanceof WiimSimulator ? sim['sockets'] : sim['sockets']).size;

export function wiimCfg(id: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    type: 'wiim-config',
    name: `WiiM ${id}`,
    host: '127.0.0.1',
    port: String(port),
    protocol: 'https',
    timeout: '1000',
    pollPlaying: '3600',
    pollIdle: '3600',
    fingerprint: '',
    ...extra,
  };
}

export function sonoffCfg(id: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    type: 'sonoff-config',
    name: `Relay ${id}`,
    deviceid: '1000abcdef',
    host: '127.0.0.1',
    port: String(port),
    model: 'auto',
    pollInterval: '0',
    timeout: '1000',
    ...extra,
  };
}

export const catcher = [
  { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
  { id: 'out', type: 'helper' },
];

/** A WiiM and a SONOFF simulator for one describe block, on ephemeral ports. */
export function simulators(name: string): { wiim: WiimSimulator; relay: SonoffSimulator; ports: { wiim: number; sonoff: number } } {
  const sims = { wiim: new WiimSimulator({ name }), relay: new SonoffSimulator(), ports: { wiim: 0, sonoff: 0 } };
  before(async () => {
    sims.ports.wiim = (await sims.wiim.start({ port: 0 })).port;
    sims.ports.sonoff = (await sims.relay.start({ port: 0 })).port;
  });
  after(async () => {
    await sims.wiim.stop();
    await sims.relay.stop();
  });
  return sims;
}

/**
 * The hooks of a reliability suite: each test ends with the flow unloaded,
 * the real clock back, and no unhandled rejection or uncaught exception
 * anywhere in the process while it ran.
 */
export function guardProcess(): void {
  const problems: string[] = [];
  const onRejection = (reason: unknown) => problems.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
  const onException = (err: Error) => problems.push(`uncaughtException: ${err.stack ?? String(err)}`);
  before(() => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
  });
  after(() => {
    process.removeListener('unhandledRejection', onRejection);
    process.removeListener('uncaughtException', onException);
  });
  afterEach(async () => {
    await helper.unload();
    delete settings.wiimSonoffClock;
    assert.deepEqual(problems.splice(0), [], 'no unhandled rejection or uncaught exception');
  });
}
