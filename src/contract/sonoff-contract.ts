/**
 * The SONOFF nodes' message contract as commands: what a message asks of
 * the session, for sonoff-switch (switch and its topics), sonoff-dimmer,
 * sonoff-pulse and sonoff-sensor, and for the device handle. The result
 * carries the outlet's snapshot, from which a node builds msg.sonoff.
 */

import type { SonoffDeviceState } from '../api';
import { argumentError } from '../shared/errors';
import type { OutletSnapshot, PulseRequest, SonoffSession } from '../sessions/sonoff-session';
import { readingsOfState, type OnOff, type Readings, type StartupValue } from '../sonoff/state';
import { quoted } from '../shared/text';
import { Device, type FamilyContract, type RunOptions } from './handle';
import { infoPayload } from './sonoff-message';
import { brightnessOf, onOffOf, outletOf, startupOf, widthOf, wifiOf } from './sonoff-values';
import { numberOf } from './values';

export type SonoffResult =
  | { command: 'switch'; payload: boolean | undefined; snapshot: OutletSnapshot }
  | { command: 'dimmer'; payload: number | undefined; snapshot: OutletSnapshot }
  | { command: 'brightness'; payload: number | undefined; snapshot: OutletSnapshot }
  | { command: 'startup'; payload: StartupValue | undefined; snapshot: OutletSnapshot }
  | { command: 'signal'; payload: number; snapshot: OutletSnapshot }
  | { command: 'info'; payload: Record<string, unknown>; snapshot: OutletSnapshot }
  | { command: 'led'; payload: boolean | undefined; snapshot: OutletSnapshot }
  | { command: 'pulse'; payload: PulsePayload; snapshot: OutletSnapshot }
  | { command: 'wifi'; payload: true; snapshot?: undefined }
  | { command: 'readings'; payload: Readings; snapshot?: undefined };

/** The commands, each with its own result type. */
export type SonoffCommand = SonoffResult['command'];

/** sonoff-pulse's payload: the inching setting as confirmed. */
export interface PulsePayload {
  pulse: boolean;
  width: number | undefined;
  switch?: OnOff;
}

type Run<C extends SonoffCommand> = (
  session: SonoffSession,
  value: unknown,
  outlet: number,
  options: RunOptions,
) => Promise<Extract<SonoffResult, { command: C }>>;

/** What a dimmer's slider shows: the brightness while on, 0 while off. */
export function dimmerLevel(snap: OutletSnapshot): number | undefined {
  if (snap.state.on === undefined) return undefined;
  return snap.state.on ? (snap.state.brightness ?? 100) : 0;
}

/** A read on demand: nothing, an empty string or "status". */
function isRead(value: unknown, text: string | undefined): boolean {
  return value === undefined || value === null || text === '' || text === 'status';
}

/** A read on demand, answered with the outlet as the device reports it now. */
async function refreshed(session: SonoffSession, outlet: number, requester: object | undefined): Promise<OutletSnapshot> {
  await session.refresh(requester);
  return session.snapshot(outlet, 'refresh');
}

const textOf = (value: unknown): string | undefined => (typeof value === 'string' ? value.trim().toLowerCase() : undefined);

const isObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Buffer.isBuffer(value);

/** true/false, 1/0, "on"/"off", "toggle", {switch, outlet}, or nothing/"status" to read. */
const switchCommand: Run<'switch'> = async (session, payload, outlet, { requester }) => {
  let target = outlet;
  let wanted = payload;
  if (isObject(wanted)) {
    if (wanted.outlet !== undefined) target = outletOf(wanted.outlet);
    if (wanted.switch === undefined) throw argumentError('an object payload needs a "switch" property ("on"/"off" or a boolean)');
    wanted = wanted.switch;
  }
  const text = textOf(wanted);
  let snap: OutletSnapshot;
  if (isRead(wanted, text)) snap = await refreshed(session, target, requester);
  else if (text === 'toggle') snap = await session.toggle(target, requester);
  else snap = await session.setSwitch(target, onOffOf(wanted), requester);
  return { command: 'switch', payload: snap.state.on, snapshot: snap };
};

/** The D1: true/false/"on"/"off"/"toggle", a brightness 0–100, {switch, brightness}, or nothing/"status" to read. */
function dimmerRun(session: SonoffSession, payload: unknown, requester: object | undefined): Promise<OutletSnapshot> {
  if (isObject(payload)) {
    if (payload.switch === undefined && payload.brightness === undefined) throw argumentError('an object payload needs "switch" and/or "brightness"');
    const on = payload.switch === undefined ? true : onOffOf(payload.switch);
    if (!on) return session.setSwitch(0, false, requester);
    return payload.brightness === undefined ? session.setSwitch(0, true, requester) : session.setBrightness(brightnessOf(payload.brightness), requester);
  }
  const text = textOf(payload);
  if (isRead(payload, text)) return refreshed(session, 0, requester);
  if (text === 'toggle') return session.toggle(0, requester);
  if (typeof payload === 'number' || (text !== undefined && numberOf(text) !== undefined)) return session.setBrightness(brightnessOf(payload), requester);
  return session.setSwitch(0, onOffOf(payload), requester);
}

const dimmed = <C extends 'dimmer' | 'brightness'>(command: C, snap: OutletSnapshot) => ({ command, payload: dimmerLevel(snap), snapshot: snap });

/** sonoff-pulse: a number enables inching with that width; true/false; {pulse, width, switch, outlet}. */
function pulseRequest(payload: unknown, outlet: number, width: number | undefined): { outlet: number; setting: PulseRequest } {
  const bare = numberOf(payload);
  // a bare width means "on for the width, then off", whatever a MINIR3 outlet returned to before
  if (bare !== undefined) return { outlet, setting: { pulse: true, width: bare, switch: 'off' } };
  if (isObject(payload)) {
    const target = payload.outlet === undefined ? outlet : outletOf(payload.outlet);
    const setting: PulseRequest = { pulse: payload.pulse === undefined ? true : onOffOf(payload.pulse, 'pulse') };
    const w = payload.width === undefined ? width : widthOf(payload.width);
    if (w !== undefined) setting.width = w;
    if (payload.switch !== undefined) setting.switch = onOffOf(payload.switch) ? 'on' : 'off';
    return { outlet: target, setting };
  }
  const setting: PulseRequest = { pulse: onOffOf(payload, 'pulse') };
  if (width !== undefined) setting.width = width;
  return { outlet, setting };
}

const COMMANDS: { [C in SonoffCommand]: Run<C> } = {
  switch: switchCommand,
  dimmer: async (session, value, _outlet, { requester }) => dimmed('dimmer', await dimmerRun(session, value, requester)),
  brightness: async (session, value, _outlet, { requester }) => dimmed('brightness', await session.setBrightness(brightnessOf(value), requester)),
  async startup(session, value, outlet, { requester }) {
    const snap = await session.setStartup(outlet, startupOf(value), requester);
    return { command: 'startup', payload: snap.state.startup, snapshot: snap };
  },
  async signal(session, _value, outlet, { requester }) {
    const rssi = await session.signalStrength(requester);
    return { command: 'signal', payload: rssi, snapshot: session.snapshot(outlet, 'command') };
  },
  async info(session, _value, outlet, { requester }) {
    const payload = infoPayload(session.deviceid, await session.refresh(requester));
    return { command: 'info', payload, snapshot: session.snapshot(outlet, 'refresh') };
  },
  async led(session, value, _outlet, { requester }) {
    const snap = await session.setLed(onOffOf(value, 'led'), requester);
    return { command: 'led', payload: snap.device.led, snapshot: snap };
  },
  async wifi(session, value) {
    const wifi = wifiOf(value);
    return { command: 'wifi', payload: await session.setWifi(wifi.ssid, wifi.password) };
  },
  async pulse(session, value, outlet, options) {
    const request = pulseRequest(value, outlet, options.width);
    const snap = await session.setPulse(request.outlet, request.setting, options.requester);
    const payload: PulsePayload = { pulse: snap.state.pulse === true, width: snap.state.pulseWidth };
    if (snap.state.pulseSwitch !== undefined) payload.switch = snap.state.pulseSwitch;
    return { command: 'pulse', payload, snapshot: snap };
  },
  readings: async (session, _value, _outlet, { requester }) => ({ command: 'readings', payload: readingsOfState(await session.refresh(requester)) }),
};

/** The SONOFF commands, for the unknown-command refusal. */
export const SONOFF_COMMANDS: readonly SonoffCommand[] = ['switch', 'dimmer', 'brightness', 'startup', 'signal', 'info', 'led', 'wifi', 'pulse', 'readings'];

const COMMAND_NAMES: ReadonlySet<string> = new Set(SONOFF_COMMANDS);
const isCommand = (command: string): command is SonoffCommand => COMMAND_NAMES.has(command);

/** The handle's state: the session's, with what the device is and whether it is encrypted. */
function stateOf(session: SonoffSession): SonoffDeviceState | undefined {
  const s = session.state;
  if (!s) return undefined;
  return { ...s, deviceid: s.deviceid ?? session.deviceid, family: session.family, kind: session.kind, encrypted: session.encrypted };
}

export const sonoffContract: FamilyContract<SonoffSession, SonoffDeviceState, SonoffResult> = {
  family: 'sonoff',
  stateOf,
  run(session, command, value, options) {
    const run = isCommand(command) ? COMMANDS[command] : undefined;
    if (!run) throw argumentError(`unknown command ${quoted(command)}; the commands are ${SONOFF_COMMANDS.join(', ')}`);
    return run(session, value, options.outlet === undefined ? 0 : outletOf(options.outlet), options);
  },
  payloadOf: (result) => result.payload,
};

export type SonoffHandle = Device<SonoffSession, SonoffDeviceState, SonoffResult>;
