/**
 * SONOFF DIY protocol, the state: the words for what a device is and what it
 * reports (outlets, their power-on state and inching, the D1's brightness,
 * meter and sensor readings), read from the data of an `info` reply or a TXT
 * record into one SonoffState, merged, and compared field by field.
 */

export type OnOff = 'on' | 'off';
export type StartupValue = 'on' | 'off' | 'stay';
/** The channel layout: `switch`/`startup`/`pulse` or the `switches`/`configure`/`pulses` arrays. */
export type Family = 'single' | 'multi';
/** What a device is beyond its channels: a relay, the D1 dimmer, an energy meter, a TH sensor. */
export type DeviceKind = 'relay' | 'dimmer' | 'meter' | 'th';

export const MAX_OUTLET = 3;
/** D1 (DIY API for D1, SonoffLAN light.py): brightness 1..100 with `switch` "on" and `mode` 0; off goes through `switch`. */
export const BRIGHTNESS_MIN = 1;
export const BRIGHTNESS_MAX = 100;

export const STARTUP_VALUES: readonly StartupValue[] = ['on', 'off', 'stay'];

export function isStartupValue(value: unknown): value is StartupValue {
  return STARTUP_VALUES.includes(value as StartupValue);
}

export interface OutletState {
  outlet: number;
  on?: boolean;
  startup?: StartupValue;
  /** inching enabled */
  pulse?: boolean;
  pulseWidth?: number;
  /** multi-channel: the state the outlet returns to after the pulse */
  pulseSwitch?: OnOff;
  /** D1: 1..100 */
  brightness?: number;
}

/** The readings of meters and sensors, in W, V, A, kWh, °C and %RH. */
export interface Readings {
  power?: number;
  voltage?: number;
  current?: number;
  energyToday?: number;
  energyMonth?: number;
  temperature?: number;
  humidity?: number;
}

export const READING_NAMES: ReadonlyArray<keyof Readings> = ['power', 'voltage', 'current', 'energyToday', 'energyMonth', 'temperature', 'humidity'];

/** What we know of a device; every field is optional because pushes and replies carry parts. */
export interface SonoffState extends Readings {
  family?: Family;
  kind?: DeviceKind;
  /** how its meter readings are sent (MeterUnits), once known */
  meterUnits?: MeterUnits;
  /** the network LED (`sledOnline`) */
  led?: boolean;
  outlets: OutletState[];
  fwVersion?: string;
  deviceid?: string;
  ssid?: string;
  bssid?: string;
  rssi?: number;
  otaUnlock?: boolean;
}

function readOnOff(v: unknown): OnOff | undefined {
  return v === 'on' || v === 'off' ? v : undefined;
}

function readStartup(v: unknown): StartupValue | undefined {
  return isStartupValue(v) ? v : undefined;
}

function outletIndex(v: unknown): number | undefined {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_OUTLET ? n : undefined;
}

/** The device family, from the data's shape: multi-channel data carries arrays. */
export function familyOf(data: Record<string, unknown>): Family | undefined {
  if (Array.isArray(data.switches) || Array.isArray(data.configure) || Array.isArray(data.pulses)) return 'multi';
  if (typeof data.switch === 'string' || typeof data.startup === 'string' || typeof data.pulse === 'string') return 'single';
  return undefined;
}

/**
 * What the device is, from its data: D1 and MINIR3 both say `diylight`, so
 * `brightness` against `switches` tells them apart; TH by its temperature or
 * `mainSwitch`; meters by power, voltage or current.
 */
export function kindOf(data: Record<string, unknown>): DeviceKind | undefined {
  const meter = METER_KEYS.some((k) => data[k] !== undefined);
  // a plain relay's data says nothing more (and a push with the switch alone must not unmake a meter);
  // the POWR3 family sends its readings beside `switches` (SonoffLAN issue 1114, tests/test_entity.py test_powr3)
  if (Array.isArray(data.switches)) return meter ? 'meter' : undefined;
  if (data.brightness !== undefined) return 'dimmer';
  if (['currentTemperature', 'temperature', 'currentHumidity', 'humidity', 'mainSwitch'].some((k) => data[k] !== undefined)) return 'th';
  return meter ? 'meter' : undefined;
}

const METER_KEYS = ['power', 'voltage', 'current', 'dayKwh', 'monthKwh'];

function numeric(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/**
 * The meter's unit rule, decided by its family and never by the JSON type
 * (SonoffLAN core/devices.py):
 * - `powr2`: uiid 32 (POWR2, S31), 5 (POW) and 182 (S40) are read as sent,
 *   in W, V and A; a number or a string alike (a POWR2 in LAN mode sends
 *   `"voltage": 247.1`, SonoffLAN issue 941; the cloud sends `"234.20"`);
 * - `powr3`: uiid 190 (POWR3, POWR316, POWR320D, S60) is `XSensor100`,
 *   hundredths, and so are `dayKwh` and `monthKwh`.
 */
export type MeterUnits = 'powr2' | 'powr3';

/**
 * The family the data itself shows: the POWR2 family reports its alarm
 * limits `alarmVValue`, `alarmCValue` and `alarmPValue` (SonoffLAN issues 125
 * and 941, tests/test_entity.py test_sonoff_pow), the POWR3 family its
 * day's and month's energy and no alarm limits (issue 1114, test_powr3).
 */
export function meterUnitsOf(data: Record<string, unknown>): MeterUnits | undefined {
  if (['alarmVValue', 'alarmCValue', 'alarmPValue'].some((k) => data[k] !== undefined)) return 'powr2';
  if (data.dayKwh !== undefined || data.monthKwh !== undefined) return 'powr3';
  return undefined;
}

/**
 * TXT `type` `enhanced_plug` is the POWR2 family (SonoffLAN core/devices.py
 * DIY table; S31s announce it: mattsaxon/sonoff-lan-mode-homeassistant issue
 * 13, SonoffLAN issue 1200). No source names the POWR3 family's type.
 */
export function meterUnitsOfType(type: string | undefined): MeterUnits | undefined {
  return type === 'enhanced_plug' ? 'powr2' : undefined;
}

/** What else tells the family: the model setting (wins over all) and what the device showed before (data, TXT type). */
export interface MeterHint {
  set?: MeterUnits;
  known?: MeterUnits;
}

/** The units to read a meter's data with: the setting, else the data's own keys, else what was known. */
export function meterUnitsFor(data: Record<string, unknown>, hint: MeterHint = {}): MeterUnits | undefined {
  return hint.set ?? meterUnitsOf(data) ?? hint.known;
}

/** Mains voltages anywhere: 100 V to 240 V nominal, with room for sags and swells. */
export const MAINS_VOLTS_MIN = 80;
export const MAINS_VOLTS_MAX = 280;

function inMains(volts: number): boolean {
  return volts >= MAINS_VOLTS_MIN && volts <= MAINS_VOLTS_MAX;
}

/**
 * The scale of an unknown family's readings, told by its voltage: a number
 * with a fraction is never hundredths; a whole number is volts when it lies
 * in a mains range, hundredths when a hundredth of it does (the two ranges
 * do not overlap); otherwise nothing tells.
 */
function unknownScale(voltage: number | undefined): number | undefined {
  if (voltage === undefined) return undefined;
  if (!Number.isInteger(voltage) || inMains(voltage)) return 1;
  return inMains(voltage / 100) ? 0.01 : undefined;
}

/** A power, voltage or current in W, V or A; `scale` undefined: an unknown family whose voltage told nothing. */
function meterValue(v: unknown, units: MeterUnits | undefined, scale: number | undefined): number | undefined {
  const n = numeric(v);
  if (n === undefined || n < 0) return undefined;
  if (units === 'powr2') return n;
  if (units === 'powr3') return Math.round(n) / 100;
  if (!Number.isInteger(n)) return n;
  // 0 is 0 in either unit
  if (n === 0) return 0;
  return scale === undefined ? undefined : scale === 1 ? n : Math.round(n) / 100;
}

/** Plausible sensor values only: 0 and absurd ones are a sensor that is missing or broken (SonoffLAN sensor.py). */
function sensorValue(v: unknown, min: number, max: number): number | undefined {
  const n = numeric(v);
  return n === undefined || n === 0 || n < min || n > max ? undefined : n;
}

/**
 * The readings the data carries, in plain units, read by the meter units
 * (MeterUnits). Units unknown: a number with a fraction is taken as sent,
 * whole numbers by the scale the voltage tells, and a voltage outside any
 * mains range is not shown.
 */
export function readingsOf(data: Record<string, unknown>, units: MeterUnits | undefined = meterUnitsOf(data)): Readings {
  const r: Readings = {};
  const set = (k: keyof Readings, v: number | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  const scale = units ? 1 : unknownScale(numeric(data.voltage));
  set('power', meterValue(data.power, units, scale));
  const voltage = meterValue(data.voltage, units, scale);
  set('voltage', units || voltage === undefined || inMains(voltage) ? voltage : undefined);
  set('current', meterValue(data.current, units, scale));
  // always hundredths of a kWh: only the POWR3 units sends them
  set('energyToday', numeric(data.dayKwh) === undefined ? undefined : Math.round(numeric(data.dayKwh) as number) / 100);
  set('energyMonth', numeric(data.monthKwh) === undefined ? undefined : Math.round(numeric(data.monthKwh) as number) / 100);
  set('temperature', sensorValue(data.currentTemperature ?? data.temperature, -40, 100));
  set('humidity', sensorValue(data.currentHumidity ?? data.humidity, 0, 100));
  return r;
}

/**
 * Turns `info` data, a TXT state or a command into the common shape.
 * Single vs multi is recognised by the data (MINIR3 reports diy_plug or
 * diylight as its type).
 */
export function normaliseState(data: Record<string, unknown>, meter?: MeterHint): SonoffState {
  const family = familyOf(data);
  const outlets = new Map<number, OutletState>();
  const at = (i: number): OutletState => {
    let o = outlets.get(i);
    if (!o) {
      o = { outlet: i };
      outlets.set(i, o);
    }
    return o;
  };
  if (family === 'multi') {
    for (const s of arrayOf(data.switches)) {
      const i = outletIndex(s.outlet);
      const v = readOnOff(s.switch);
      if (i !== undefined && v) at(i).on = v === 'on';
    }
    for (const s of arrayOf(data.configure)) {
      const i = outletIndex(s.outlet);
      const v = readStartup(s.startup);
      if (i !== undefined && v) at(i).startup = v;
    }
    for (const s of arrayOf(data.pulses)) {
      const i = outletIndex(s.outlet);
      if (i === undefined) continue;
      const p = readOnOff(s.pulse);
      if (p) at(i).pulse = p === 'on';
      if (typeof s.width === 'number') at(i).pulseWidth = s.width;
      const sw = readOnOff(s.switch);
      if (sw) at(i).pulseSwitch = sw;
    }
  } else if (family === 'single') {
    const o = at(0);
    const sw = readOnOff(data.switch);
    if (sw) o.on = sw === 'on';
    const st = readStartup(data.startup);
    if (st) o.startup = st;
    const p = readOnOff(data.pulse);
    if (p) o.pulse = p === 'on';
    if (typeof data.pulseWidth === 'number') o.pulseWidth = data.pulseWidth;
    const b = numeric(data.brightness);
    if (b !== undefined && b >= BRIGHTNESS_MIN && b <= BRIGHTNESS_MAX) o.brightness = b;
  }
  const meterUnits = meterUnitsFor(data, meter);
  const state: SonoffState = { outlets: [...outlets.values()].sort((a, b) => a.outlet - b.outlet), ...readingsOf(data, meterUnits) };
  if (family) state.family = family;
  if (meterUnits) state.meterUnits = meterUnits;
  const kind = kindOf(data);
  if (kind) state.kind = kind;
  const led = readOnOff(data.sledOnline);
  if (led) state.led = led === 'on';
  if (typeof data.fwVersion === 'string') state.fwVersion = data.fwVersion;
  if (typeof data.deviceid === 'string') state.deviceid = data.deviceid;
  if (typeof data.ssid === 'string') state.ssid = data.ssid;
  if (typeof data.bssid === 'string') state.bssid = data.bssid;
  const rssi = typeof data.signalStrength === 'number' ? data.signalStrength : data.rssi;
  if (typeof rssi === 'number') state.rssi = rssi;
  if (typeof data.otaUnlock === 'boolean') state.otaUnlock = data.otaUnlock;
  return state;
}

function arrayOf(v: unknown): Array<Record<string, unknown>> {
  return Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object') : [];
}

/**
 * Lays `next` over `prev`: known fields win, unknown ones keep their old
 * value. When `next` tells nothing new (most polls), `prev` itself is returned.
 */
export function mergeState(prev: SonoffState | undefined, next: SonoffState): SonoffState {
  if (!prev) return cloneState(next);
  if (changesNothing(prev, next)) return prev;
  const merged: SonoffState = { ...prev, ...stripUndefined(next), outlets: prev.outlets.map((o) => ({ ...o })) };
  for (const o of next.outlets) {
    const existing = merged.outlets.find((m) => m.outlet === o.outlet);
    if (existing) Object.assign(existing, stripUndefined(o));
    else merged.outlets.push({ ...o });
  }
  merged.outlets.sort((a, b) => a.outlet - b.outlet);
  return merged;
}

/** The readings a state holds, and nothing else. */
export function readingsOfState(s: SonoffState): Readings {
  const r: Readings = {};
  for (const k of READING_NAMES) if (s[k] !== undefined) r[k] = s[k];
  return r;
}

export function cloneState(s: SonoffState): SonoffState {
  return { ...s, outlets: s.outlets.map((o) => ({ ...o })) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined && k !== 'outlets') out[k] = o[k];
  return out as Partial<T>;
}

/** True when every field `next` knows has that value in `o` already. */
function agrees<T extends object>(o: T, next: T): boolean {
  for (const k in next) if (next[k] !== undefined && k !== 'outlets' && next[k] !== o[k]) return false;
  return true;
}

/** True when merging `next` into `prev` would change nothing. */
function changesNothing(prev: SonoffState, next: SonoffState): boolean {
  if (!agrees(prev, next)) return false;
  for (const o of next.outlets) {
    const p = prev.outlets.find((x) => x.outlet === o.outlet);
    if (!p || !agrees(p, o)) return false;
  }
  return true;
}

/**
 * The fields that differ between two states, by name: `outlets.<n>.<field>`
 * for an outlet's, the field's own name for the rest (`power`, `rssi`).
 */
export function changedFields(before: SonoffState | undefined, after: SonoffState): string[] {
  const changed: string[] = [];
  const top = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  for (const k of top) {
    if (k === 'outlets') continue;
    if ((before as Record<string, unknown> | undefined)?.[k] !== (after as unknown as Record<string, unknown>)[k]) changed.push(k);
  }
  const outlets = new Set([...(before?.outlets ?? []).map((o) => o.outlet), ...after.outlets.map((o) => o.outlet)]);
  for (const n of outlets) {
    const a: Partial<OutletState> = before?.outlets.find((o) => o.outlet === n) ?? {};
    const b: Partial<OutletState> = after.outlets.find((o) => o.outlet === n) ?? {};
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof OutletState>) {
      if (k !== 'outlet' && a[k] !== b[k]) changed.push(`outlets.${n}.${k}`);
    }
  }
  return changed;
}
