/**
 * SONOFF DIY protocol, the codec: request bodies for every endpoint of both
 * API documents (single-channel BASICR3/RFR3/MINI and multi-channel
 * MINIR3/4CH) from typed values, the checks of the device's limits made
 * before anything is sent, and reply parsing. The state a device reports is
 * read in state.ts, its mDNS TXT records in txt.ts. Message values become
 * typed values at the node edge (src/contract/sonoff-values.ts).
 */

import { DeviceError, argumentError } from '../shared/errors';
import { parseDeviceJson } from '../shared/json';
import { CONTROL_CHARACTERS, quoted } from '../shared/text';
import { NEEDS_KEY_MESSAGE, WRONG_KEY_MESSAGE, openJson, type DeviceKey } from './crypto';
import { BRIGHTNESS_MAX, BRIGHTNESS_MIN, MAX_OUTLET, isStartupValue, type Family, type OnOff, type StartupValue } from './state';

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

export function checkOutlet(outlet: number, family: Family): number {
  const max = family === 'single' ? 0 : MAX_OUTLET;
  if (!Number.isInteger(outlet) || outlet < 0 || outlet > max) {
    throw argumentError(`outlet must be ${family === 'single' ? '0 on a single-channel device' : `an integer from 0 to ${MAX_OUTLET}`}, not ${quoted(outlet)}`);
  }
  return outlet;
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
