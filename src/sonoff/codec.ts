/**
 * SONOFF DIY protocol, pure functions: request bodies for every endpoint of
 * both API documents (single-channel BASICR3/RFR3/MINI and multi-channel
 * MINIR3/4CH) from typed values, the checks of the device's limits made
 * before anything is sent, reply parsing, the state normaliser, and the mDNS
 * TXT record reader with its sequence number rules. Message values become
 * typed values at the node edge (src/contract/sonoff-values.ts).
 */

import { DeviceError, argumentError } from '../shared/errors';
import { parseDeviceJson } from '../shared/json';
import { CONTROL_CHARACTERS, quoted } from '../shared/text';
import { NEEDS_KEY_MESSAGE, WRONG_KEY_MESSAGE, openJson, type DeviceKey } from './crypto';

export type OnOff = 'on' | 'off';
export type StartupValue = 'on' | 'off' | 'stay';
export type Family = 'single' | 'multi';
/** What a device is beyond its channels: a relay, the D1 dimmer, an energy meter, a TH sensor. */
export type DeviceKind = 'relay' | 'dimmer' | 'meter' | 'th';

export type Endpoint =
  | 'switch'
  | 'startup'
  | 'pulse'
  | 'switches'
  | 'startups'
  | 'pulses'
  | 'signal_strength'
  | 'wifi'
  | 'ota_unlock'
  | 'ota_flash'
  | 'info'
  // encrypted LAN mode's liveness ping, the D1 dimmer, the LED (SonoffLAN local.py, light.py)
  | 'getState'
  | 'dimmable'
  | 'sledonline';

export interface SonoffRequest {
  endpoint: Endpoint;
  data: Record<string, unknown>;
  /** false for a request that acts again each time even where its endpoint does not (a toggle); see isIdempotent */
  idempotent?: false;
}

/**
 * Whether a request to the endpoint, sent twice, leaves the device as sent
 * once: reads and absolute values (on, off, a width, a brightness). Only
 * such a request goes again when the connection closes under it
 * (DeviceRequest.idempotent); the OTA steps never do.
 */
const IDEMPOTENT_ENDPOINTS: Readonly<Record<Endpoint, boolean>> = {
  switch: true,
  startup: true,
  pulse: true,
  switches: true,
  startups: true,
  pulses: true,
  signal_strength: true,
  wifi: true,
  ota_unlock: false,
  ota_flash: false,
  info: true,
  getState: true,
  dimmable: true,
  sledonline: true,
};

/** Whether the request may be sent again (see IDEMPOTENT_ENDPOINTS). */
export function isIdempotent(request: SonoffRequest): boolean {
  return request.idempotent !== false && IDEMPOTENT_ENDPOINTS[request.endpoint];
}

/** The body sent to `POST /zeroconf/<endpoint>`. */
export function requestBody(deviceid: string, request: SonoffRequest): string {
  return JSON.stringify({ deviceid, data: request.data });
}

export const PULSE_STEP_MS = 500;
export const PULSE_MIN_MS = 500;
export const SINGLE_PULSE_MAX_MS = 3_600_000;
export const MULTI_PULSE_MAX_MS = 3_599_500;
export const MAX_OUTLET = 3;

/** The meaning of every error code the API documents list (docs/architecture.md). */
export const ERROR_MEANINGS: Readonly<Record<number, string>> = {
  400: 'bad request: the device could not read the request',
  401: NEEDS_KEY_MESSAGE,
  403: 'OTA is not unlocked: ota_unlock must succeed before ota_flash',
  404: 'bad deviceid: the device does not accept the deviceid sent (firmware 3.7.6 and later needs the right one)',
  408: 'firmware download timed out: the device could not fetch the image in time',
  413: 'firmware too large: the image exceeds the device limit of 508 KB',
  422: 'bad parameters: the device refused the request data',
  424: 'firmware download failed: the URL is unreachable or the server does not support Range requests',
  471: 'firmware integrity check failed: the SHA-256 of the downloaded image does not match',
  500: 'vendor OTA unlock service refused the device (device ID or API key not authenticated)',
  503: 'vendor OTA unlock service unreachable (no Wi-Fi, no Internet, or the service is down)',
};

export function errorMeaning(code: number): string {
  return ERROR_MEANINGS[code] ?? 'unknown device error';
}

export function deviceErrorFor(code: number, endpoint?: string, keyed?: boolean): DeviceError {
  const where = endpoint ? ` on ${endpoint}` : '';
  // without a key, 401 is a stock-firmware device that wants encrypted requests; with one, a device that could not read them
  const meaning = code === 401 && keyed ? WRONG_KEY_MESSAGE : errorMeaning(code);
  return new DeviceError('device', `SONOFF error ${code}${where}: ${meaning}`, { code });
}

// ---------------------------------------------------------------- arguments

export const STARTUP_VALUES: readonly StartupValue[] = ['on', 'off', 'stay'];

export function checkOutlet(outlet: number, family: Family): number {
  const max = family === 'single' ? 0 : MAX_OUTLET;
  if (!Number.isInteger(outlet) || outlet < 0 || outlet > max) {
    throw argumentError(`outlet must be ${family === 'single' ? '0 on a single-channel device' : `an integer from 0 to ${MAX_OUTLET}`}, not ${quoted(outlet)}`);
  }
  return outlet;
}

export function isStartupValue(value: unknown): value is StartupValue {
  return STARTUP_VALUES.includes(value as StartupValue);
}

/** One of the device's power-on states; also refuses what an untyped caller passes. */
export function checkStartup(value: unknown): StartupValue {
  if (isStartupValue(value)) return value;
  throw argumentError(`startup must be "on", "off" or "stay", not ${quoted(value)}`);
}

export function pulseMaxMs(family: Family): number {
  return family === 'single' ? SINGLE_PULSE_MAX_MS : MULTI_PULSE_MAX_MS;
}

export function checkPulseWidth(width: number, family: Family): number {
  const max = pulseMaxMs(family);
  if (!Number.isInteger(width) || width < PULSE_MIN_MS || width > max || width % PULSE_STEP_MS !== 0) {
    throw argumentError(
      `pulse width must be a multiple of ${PULSE_STEP_MS} ms from ${PULSE_MIN_MS} to ${max} ms on a ${family}-channel device, not ${quoted(width)}`,
    );
  }
  return width;
}

function onOffWord(on: boolean): OnOff {
  return on ? 'on' : 'off';
}

/** The width of a pulse setting: needed to enable inching, checked whenever given. */
function pulseWidthOf(setting: PulseSetting, family: Family): number | undefined {
  if (setting.width === undefined) {
    if (setting.pulse) throw argumentError('enabling inching needs a width in ms');
    return undefined;
  }
  return checkPulseWidth(setting.width, family);
}

// ---------------------------------------------------------------- encoders

export function encodeSwitch(on: boolean): SonoffRequest {
  return { endpoint: 'switch', data: { switch: onOffWord(on) } };
}

export function encodeSwitches(items: ReadonlyArray<{ outlet: number; on: boolean }>): SonoffRequest {
  if (items.length === 0) throw argumentError('switches needs at least one outlet');
  return { endpoint: 'switches', data: { switches: items.map((i) => ({ switch: onOffWord(i.on), outlet: checkOutlet(i.outlet, 'multi') })) } };
}

export function encodeStartup(value: StartupValue): SonoffRequest {
  return { endpoint: 'startup', data: { startup: checkStartup(value) } };
}

/** Multi-channel power-on state: the data key is `configure`, not `startups`. */
export function encodeStartups(items: ReadonlyArray<{ outlet: number; startup: StartupValue }>): SonoffRequest {
  if (items.length === 0) throw argumentError('startups needs at least one outlet');
  return { endpoint: 'startups', data: { configure: items.map((i) => ({ startup: checkStartup(i.startup), outlet: checkOutlet(i.outlet, 'multi') })) } };
}

export interface PulseSetting {
  /** enable or disable inching */
  pulse: boolean;
  /** ms; required when enabling */
  width?: number;
}

export function encodePulse(setting: PulseSetting): SonoffRequest {
  const data: Record<string, unknown> = { pulse: onOffWord(setting.pulse) };
  const width = pulseWidthOf(setting, 'single');
  if (width !== undefined) data.pulseWidth = width;
  return { endpoint: 'pulse', data };
}

export interface MultiPulseSetting extends PulseSetting {
  outlet: number;
  /** the state the outlet returns to when the pulse ends; default "off" */
  switch?: OnOff;
}

export function encodePulses(items: ReadonlyArray<MultiPulseSetting>): SonoffRequest {
  if (items.length === 0) throw argumentError('pulses needs at least one outlet');
  return {
    endpoint: 'pulses',
    data: {
      pulses: items.map((i) => {
        // turning inching off sends no width: a width without pulse "on" is refused by some firmware (SonoffLAN number.py)
        const width = pulseWidthOf(i, 'multi');
        const item: Record<string, unknown> = { pulse: onOffWord(i.pulse), switch: i.switch ?? 'off' };
        if (width !== undefined) item.width = width;
        item.outlet = checkOutlet(i.outlet, 'multi');
        return item;
      }),
    },
  };
}

/** D1 (DIY API for D1, SonoffLAN light.py): brightness 1..100 with `switch` "on" and `mode` 0; off goes through `switch`. */
export const BRIGHTNESS_MIN = 1;
export const BRIGHTNESS_MAX = 100;

export function checkBrightness(value: number): number {
  if (!Number.isInteger(value) || value < BRIGHTNESS_MIN || value > BRIGHTNESS_MAX) {
    throw argumentError(`brightness must be an integer from ${BRIGHTNESS_MIN} to ${BRIGHTNESS_MAX}, not ${JSON.stringify(value)}`);
  }
  return value;
}

export function encodeDimmable(brightness: number): SonoffRequest {
  return { endpoint: 'dimmable', data: { switch: 'on', brightness: checkBrightness(brightness), mode: 0 } };
}

/** The TH's relay takes its switch only with `mainSwitch` and `deviceType` "normal" (SonoffLAN switch.py). */
export function encodeThSwitch(on: boolean): SonoffRequest {
  const word = onOffWord(on);
  return { endpoint: 'switch', data: { switch: word, mainSwitch: word, deviceType: 'normal' } };
}

/** The network LED (`sledOnline`); resending it also keeps a meter reporting (SonoffLAN `update_local`). */
export function encodeLed(on: boolean): SonoffRequest {
  return { endpoint: 'sledonline', data: { sledOnline: onOffWord(on) } };
}

export function encodeGetState(): SonoffRequest {
  return { endpoint: 'getState', data: {} };
}

export function encodeSignalStrength(): SonoffRequest {
  return { endpoint: 'signal_strength', data: {} };
}

export function encodeInfo(): SonoffRequest {
  return { endpoint: 'info', data: {} };
}

export function encodeOtaUnlock(): SonoffRequest {
  return { endpoint: 'ota_unlock', data: {} };
}

/** The device's limit for an SSID, in UTF-8 bytes. */
export const MAX_SSID_BYTES = 32;

export function encodeWifi(ssid: string, password: string): SonoffRequest {
  // `!ssid` also stops an untyped caller's missing one
  if (!ssid) throw argumentError('wifi needs a non-empty ssid string');
  if (Buffer.byteLength(ssid) > MAX_SSID_BYTES) throw argumentError(`wifi ssid is longer than ${MAX_SSID_BYTES} bytes`);
  if (CONTROL_CHARACTERS.test(ssid)) throw argumentError('wifi ssid contains control characters');
  // the password itself never appears in a message
  if (CONTROL_CHARACTERS.test(password)) throw argumentError('wifi password contains control characters');
  return { endpoint: 'wifi', data: { ssid, password } };
}

export function encodeOtaFlash(downloadUrl: string, sha256: string): SonoffRequest {
  // sent as given: the URL parser would drop a tab or newline that the relay then receives
  if (CONTROL_CHARACTERS.test(downloadUrl)) throw argumentError('ota_flash downloadUrl contains control characters');
  let url: URL;
  try {
    url = new URL(downloadUrl);
  } catch {
    throw argumentError(`ota_flash downloadUrl is not a URL: ${JSON.stringify(downloadUrl)}`);
  }
  if (url.protocol !== 'http:') throw argumentError('ota_flash downloadUrl must be plain http:// (the device supports no HTTPS)');
  if (!/^[0-9a-fA-F]{64}$/.test(sha256)) throw argumentError('ota_flash sha256 must be 64 hexadecimal digits');
  return { endpoint: 'ota_flash', data: { downloadUrl, sha256sum: sha256.toLowerCase() } };
}

// ---------------------------------------------------------------- replies

export interface SonoffReply {
  seq?: number;
  error: number;
  data?: Record<string, unknown>;
}

/**
 * Reads `{seq, error, data?}`. `data` may be a JSON string (old firmware).
 * A non-zero `error` becomes DeviceError 'device' with the code; anything
 * unreadable becomes 'protocol'.
 */
export function parseReply(status: number, body: string, endpoint?: string, devicekey?: DeviceKey): SonoffReply {
  let parsed: unknown;
  try {
    parsed = parseDeviceJson(body);
  } catch (err) {
    if (err instanceof DeviceError) throw err;
    const hint = status >= 400 ? `HTTP ${status}` : 'not JSON';
    throw new DeviceError('protocol', `unreadable reply to ${endpoint ?? 'request'} (${hint}): ${body.slice(0, 80)}`, {
      code: status >= 400 ? status : undefined,
    });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DeviceError('protocol', `reply to ${endpoint ?? 'request'} is not a JSON object`);
  }
  const obj = parsed as Record<string, unknown>;
  const error = typeof obj.error === 'number' ? obj.error : typeof obj.error === 'string' && /^\d+$/.test(obj.error) ? Number(obj.error) : undefined;
  if (error === undefined) {
    if (status >= 400) throw new DeviceError('protocol', `HTTP ${status} from ${endpoint ?? 'device'} without an error code`, { code: status });
    throw new DeviceError('protocol', `reply to ${endpoint ?? 'request'} has no error field`);
  }
  if (error !== 0) throw deviceErrorFor(error, endpoint, !!devicekey);
  if (status >= 400) throw new DeviceError('protocol', `HTTP ${status} from ${endpoint ?? 'device'}`, { code: status });
  let data = obj.data;
  if (typeof obj.iv === 'string' && typeof data === 'string' && data !== '') {
    if (!devicekey) throw new DeviceError('protocol', NEEDS_KEY_MESSAGE);
    data = openJson({ iv: obj.iv, data }, devicekey);
  } else if (typeof data === 'string') {
    // `data: ""` is an empty reply, in both modes
    if (data.trim() === '') data = undefined;
    else {
      try {
        data = parseDeviceJson(data);
      } catch (err) {
        if (err instanceof DeviceError) throw err;
        throw new DeviceError('protocol', `reply data of ${endpoint ?? 'request'} is a string that is not JSON`);
      }
    }
  }
  if (data !== undefined && data !== null && (typeof data !== 'object' || Array.isArray(data))) {
    throw new DeviceError('protocol', `reply data of ${endpoint ?? 'request'} is not an object`);
  }
  const reply: SonoffReply = { error };
  if (typeof obj.seq === 'number') reply.seq = obj.seq;
  if (data) reply.data = data as Record<string, unknown>;
  return reply;
}

// ---------------------------------------------------------------- state

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
  /** how its meter readings are sent (MeterFamily), once known */
  meterFamily?: MeterFamily;
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
export type MeterFamily = 'powr2' | 'powr3';

/**
 * The family the data itself shows: the POWR2 family reports its alarm
 * limits `alarmVValue`, `alarmCValue` and `alarmPValue` (SonoffLAN issues 125
 * and 941, tests/test_entity.py test_sonoff_pow), the POWR3 family its
 * day's and month's energy and no alarm limits (issue 1114, test_powr3).
 */
export function meterFamilyOf(data: Record<string, unknown>): MeterFamily | undefined {
  if (['alarmVValue', 'alarmCValue', 'alarmPValue'].some((k) => data[k] !== undefined)) return 'powr2';
  if (data.dayKwh !== undefined || data.monthKwh !== undefined) return 'powr3';
  return undefined;
}

/**
 * TXT `type` `enhanced_plug` is the POWR2 family (SonoffLAN core/devices.py
 * DIY table; S31s announce it: mattsaxon/sonoff-lan-mode-homeassistant issue
 * 13, SonoffLAN issue 1200). No source names the POWR3 family's type.
 */
export function meterFamilyOfType(type: string | undefined): MeterFamily | undefined {
  return type === 'enhanced_plug' ? 'powr2' : undefined;
}

/** What else tells the family: the model setting (wins over all) and what the device showed before (data, TXT type). */
export interface MeterHint {
  set?: MeterFamily;
  known?: MeterFamily;
}

/** The family to read a meter's data with: the setting, else the data's own keys, else what was known. */
export function meterFamilyFor(data: Record<string, unknown>, hint: MeterHint = {}): MeterFamily | undefined {
  return hint.set ?? meterFamilyOf(data) ?? hint.known;
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
function meterValue(v: unknown, family: MeterFamily | undefined, scale: number | undefined): number | undefined {
  const n = numeric(v);
  if (n === undefined || n < 0) return undefined;
  if (family === 'powr2') return n;
  if (family === 'powr3') return Math.round(n) / 100;
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
 * The readings the data carries, in plain units, read by the meter family
 * (MeterFamily). Family unknown: a number with a fraction is taken as sent,
 * whole numbers by the scale the voltage tells, and a voltage outside any
 * mains range is not shown.
 */
export function readingsOf(data: Record<string, unknown>, family: MeterFamily | undefined = meterFamilyOf(data)): Readings {
  const r: Readings = {};
  const set = (k: keyof Readings, v: number | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  const scale = family ? 1 : unknownScale(numeric(data.voltage));
  set('power', meterValue(data.power, family, scale));
  const voltage = meterValue(data.voltage, family, scale);
  set('voltage', family || voltage === undefined || inMains(voltage) ? voltage : undefined);
  set('current', meterValue(data.current, family, scale));
  // always hundredths of a kWh: only the POWR3 family sends them
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
  const meterFamily = meterFamilyFor(data, meter);
  const state: SonoffState = { outlets: [...outlets.values()].sort((a, b) => a.outlet - b.outlet), ...readingsOf(data, meterFamily) };
  if (family) state.family = family;
  if (meterFamily) state.meterFamily = meterFamily;
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

export function sameOutlet(a: OutletState | undefined, b: OutletState | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.on === b.on &&
    a.startup === b.startup &&
    a.pulse === b.pulse &&
    a.pulseWidth === b.pulseWidth &&
    a.pulseSwitch === b.pulseSwitch &&
    a.brightness === b.brightness
  );
}

// ---------------------------------------------------------------- mDNS TXT

export interface TxtState {
  deviceid?: string;
  type?: string;
  apivers?: string;
  seq?: number;
  /** `encrypt=true`: data is ciphertext we cannot read without the device key */
  encrypted: boolean;
  /** the joined data1..data4 JSON, parsed (decrypted with the key); undefined when absent or unreadable */
  data?: Record<string, unknown>;
  state?: SonoffState;
  /** an encrypted record we could not read: no key given, or the key does not fit */
  keyProblem?: DeviceError;
}

/**
 * Reads a TXT record (already split at the first '=' by parseTxt): the
 * state JSON is data1+data2+data3+data4 joined in key order, whatever order
 * the entries came in and whatever the chunk sizes.
 */
export function parseTxtState(txt: Readonly<Record<string, string>>, devicekey?: DeviceKey, meter: MeterHint = {}): TxtState {
  const out: TxtState = { encrypted: txt.encrypt === 'true' || txt.encrypt === '1' };
  if (txt.id) out.deviceid = txt.id;
  if (txt.type) out.type = txt.type;
  if (txt.apivers) out.apivers = txt.apivers;
  if (txt.seq !== undefined && /^\d+$/.test(txt.seq)) out.seq = Number(txt.seq);
  const chunks = Object.keys(txt)
    .map((k) => /^data(\d+)$/.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => txt[m[0]]);
  if (chunks.length === 0) return out;
  const hint: MeterHint = { ...meter, known: meter.known ?? meterFamilyOfType(out.type) };
  if (out.encrypted) {
    // the ciphertext is joined like the plain JSON, then base64-decoded as one (SonoffLAN local.py)
    if (!devicekey) out.keyProblem = new DeviceError('protocol', NEEDS_KEY_MESSAGE);
    else {
      try {
        out.data = openJson({ iv: txt.iv ?? '', data: chunks.join('') }, devicekey);
        out.state = normaliseState(out.data, hint);
      } catch (err) {
        out.keyProblem = err as DeviceError;
      }
    }
    return out;
  }
  try {
    const parsed: unknown = parseDeviceJson(chunks.join(''));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      out.data = parsed as Record<string, unknown>;
      out.state = normaliseState(out.data, hint);
    }
  } catch {
    // a record we cannot read carries no state; the seq still counts
  }
  return out;
}

/** Splits a state JSON into data1..dataN chunks of at most `size` characters (the simulator uses it). */
export function splitTxtData(json: string, size: number): Record<string, string> {
  const out: Record<string, string> = {};
  const step = Math.max(1, size);
  for (let i = 0, n = 1; i < json.length; i += step, n++) out[`data${n}`] = json.slice(i, i + step);
  return out;
}

export type SeqVerdict = 'new' | 'same' | 'stale' | 'restart';

/** Below this a falling seq is a fresh start after a reboot. */
export const RESTART_SEQ_BELOW = 10;

/**
 * mDNS sequence numbers (docs/architecture.md): a record with a lower seq than the last
 * one seen is stale, unless the device restarted: its record was withdrawn,
 * it was offline, or the new seq is below 10 while the last one was higher.
 */
export class SeqTracker {
  private last: number | undefined;
  private restarted = false;

  get lastSeq(): number | undefined {
    return this.last;
  }

  /** The record was withdrawn (goodbye) or the device went offline: the next seq starts afresh. */
  markRestart(): void {
    this.restarted = true;
  }

  check(seq: number | undefined): SeqVerdict {
    if (seq === undefined) return 'new';
    if (this.last === undefined) {
      this.last = seq;
      this.restarted = false;
      return 'new';
    }
    if (this.restarted) {
      this.restarted = false;
      const verdict: SeqVerdict = seq < this.last ? 'restart' : seq === this.last ? 'same' : 'new';
      this.last = seq;
      return verdict;
    }
    if (seq === this.last) return 'same';
    if (seq > this.last) {
      this.last = seq;
      return 'new';
    }
    if (seq < RESTART_SEQ_BELOW && this.last >= RESTART_SEQ_BELOW) {
      this.last = seq;
      return 'restart';
    }
    return 'stale';
  }
}
