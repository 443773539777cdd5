import type { SonoffDeviceState } from '../api';
import { argumentError } from '../shared/errors';
import type { OutletChange, OutletSnapshot, PulseRequest, SonoffSession } from '../sessions/sonoff-session';
import { readingsOfState } from '../sonoff/codec';
import { quoted } from '../shared/text';
import { Device, type FamilyContract, type RunOptions } from './handle';
import { infoPayload } from './sonoff-message';
import { brightnessOf, onOffOf, outletOf, startupOf, widthOf, wifiOf } from './sonoff-values';
import { numberOf } from './values';

/**
 * The SONOFF nodes' message contract as commands: what a message asks of
 * the session, for sonoff-switch (switch and its topics), sonoff-dimmer,
 * sonoff-pulse and sonoff-sensor, and for the device handle. The result
 * carries the outlet's snapshot, from which a node builds msg.sonoff.
 */
export interface SonoffResult {
  payload: unknown;
  /** the outlet as the device confirmed it; none for wifi and readings */
  snapshot?: OutletSnapshot;
}

type Run = (session: SonoffSession, value: unknown, outlet: number, options: RunOptions) => Promise<SonoffResult>;

/** What a dimmer's slider shows: the brightness while on, 0 while off. */
export function dimmerLevel(snap: OutletSnapshot): number | undefined {
  if (snap.state.on === undefined) return undefined;
  return snap.state.on ? (snap.state.brightness ?? 100) : 0;
}

/** A read on demand: nothing, an empty string or "status". */
function isRead(value: unknown, text: string | undefined): boolean {
  return value === undefined || value === null || text === '' || text === 'status';
}

const textOf = (value: unknown): string | undefined => (typeof value === 'string' ? value.trim().toLowerCase() : undefined);

const isObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Buffer.isBuffer(value);

/** true/false, 1/0, "on"/"off", "toggle", {switch, outlet}, or nothing/"status" to read. */
const switchCommand: Run = async (session, payload, outlet) => {
  let target = outlet;
  let wanted = payload;
  if (isObject(wanted)) {
    if (wanted.outlet !== undefined) target = outletOf(wanted.outlet);
    if (wanted.switch === undefined) throw argumentError('an object payload needs a "switch" property ("on"/"off" or a boolean)');
    wanted = wanted.switch;
  }
  const text = textOf(wanted);
  let snap: OutletSnapshot;
  if (isRead(wanted, text)) snap = await session.read(target);
  else if (text === 'toggle') snap = await session.toggle(target);
  else snap = await session.setSwitch(target, onOffOf(wanted));
  return { payload: snap.state.on, snapshot: snap };
};

/** The D1: true/false/"on"/"off"/"toggle", a brightness 0–100, {switch, brightness}, or nothing/"status" to read. */
function dimmerRun(session: SonoffSession, payload: unknown): Promise<OutletSnapshot> {
  if (isObject(payload)) {
    if (payload.switch === undefined && payload.brightness === undefined) throw argumentError('an object payload needs "switch" and/or "brightness"');
    const on = payload.switch === undefined ? true : onOffOf(payload.switch);
    if (!on) return session.setSwitch(0, false);
    return payload.brightness === undefined ? session.setSwitch(0, true) : session.setBrightness(brightnessOf(payload.brightness));
  }
  const text = textOf(payload);
  if (isRead(payload, text)) return session.read(0);
  if (text === 'toggle') return session.toggle(0);
  if (typeof payload === 'number' || (text !== undefined && numberOf(text) !== undefined)) return session.setBrightness(brightnessOf(payload));
  return session.setSwitch(0, onOffOf(payload));
}

const dimmed = (snap: OutletSnapshot): SonoffResult => ({ payload: dimmerLevel(snap), snapshot: snap });

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

const COMMANDS: Record<string, Run> = {
  switch: switchCommand,
  dimmer: async (session, value) => dimmed(await dimmerRun(session, value)),
  brightness: async (session, value) => dimmed(await session.setBrightness(brightnessOf(value))),
  async startup(session, value, outlet) {
    const snap = await session.setStartup(outlet, startupOf(value));
    return { payload: snap.state.startup, snapshot: snap };
  },
  async signal(session, _value, outlet) {
    const rssi = await session.signalStrength();
    return { payload: rssi, snapshot: session.snapshot(outlet, 'command') };
  },
  async info(session, _value, outlet) {
    const payload = infoPayload(session.deviceid, await session.readState('refresh'));
    return { payload, snapshot: session.snapshot(outlet, 'refresh') };
  },
  async led(session, value) {
    const snap = await session.setLed(onOffOf(value, 'led'));
    return { payload: snap.device.led, snapshot: snap };
  },
  async wifi(session, value) {
    const wifi = wifiOf(value);
    return { payload: await session.setWifi(wifi.ssid, wifi.password) };
  },
  async pulse(session, value, outlet, options) {
    const request = pulseRequest(value, outlet, options.width);
    const snap = await session.setPulse(request.outlet, request.setting);
    const payload: Record<string, unknown> = { pulse: snap.state.pulse === true, width: snap.state.pulseWidth };
    if (snap.state.pulseSwitch !== undefined) payload.switch = snap.state.pulseSwitch;
    return { payload, snapshot: snap };
  },
  readings: async (session) => ({ payload: readingsOfState(await session.readState('refresh')) }),
};

/** The SONOFF commands, for the unknown-command refusal. */
export const SONOFF_COMMANDS = Object.keys(COMMANDS);

/** The handle's state: the session's, with what the device is and whether it is encrypted. */
function stateOf(session: SonoffSession): SonoffDeviceState | undefined {
  const s = session.state;
  if (!s) return undefined;
  return { ...s, deviceid: s.deviceid ?? session.deviceid, family: session.family, kind: session.kind, encrypted: session.encrypted };
}

/** A state's fields by name: `outlets.<n>.<field>` for an outlet's, the name itself for the rest. */
function fieldsOf(state: SonoffDeviceState | undefined): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  if (!state) return fields;
  for (const [k, v] of Object.entries(state)) {
    if (k !== 'outlets') fields.set(k, v);
  }
  for (const o of state.outlets) {
    for (const [k, v] of Object.entries(o)) if (k !== 'outlet') fields.set(`outlets.${o.outlet}.${k}`, v);
  }
  return fields;
}

/** The fields that differ between two states. */
export function changedFields(before: SonoffDeviceState | undefined, after: SonoffDeviceState | undefined): string[] {
  const a = fieldsOf(before);
  const b = fieldsOf(after);
  const changed: string[] = [];
  for (const [k, v] of b) if (a.get(k) !== v) changed.push(k);
  for (const k of a.keys()) if (!b.has(k)) changed.push(k);
  return changed;
}

export const sonoffContract: FamilyContract<SonoffSession, SonoffDeviceState, SonoffResult, OutletChange> = {
  family: 'sonoff',
  stateOf,
  // one event per outlet that changed, each with the whole device: the first names every field, the rest nothing new
  changeOf: (event, before, after) => ({ changed: changedFields(before, after), source: event.source }),
  run(session, command, value, options) {
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw argumentError(`unknown command ${quoted(command)}; the commands are ${SONOFF_COMMANDS.join(', ')}`);
    return run(session, value, options.outlet === undefined ? 0 : outletOf(options.outlet), options);
  },
  payloadOf: (result) => result.payload,
};

export type SonoffHandle = Device<SonoffSession, SonoffDeviceState, SonoffResult, OutletChange>;
