import { argumentError } from '../shared/errors';
import { checkStartup } from '../sonoff/codec';
import { type StartupValue } from '../sonoff/state';
import { quoted } from '../shared/text';
import { numberOf, onOffWord } from './values';

/**
 * The SONOFF nodes' message values as typed values: booleans from
 * true/false, 1/0 and words, numbers from numeric strings. A value that
 * cannot be read is refused here; the device's limits (outlet count, pulse
 * steps, SSID length, http:// only) are checked by the protocol
 * (src/sonoff/codec.ts).
 */

/** true/false, 1/0, "on"/"off", "true"/"false", "1"/"0" (any case, spaces around). */
export function onOffOf(value: unknown, what = 'switch'): boolean {
  const on = onOffWord(value);
  if (on === undefined) throw argumentError(`${what} must be true/false, 1/0 or "on"/"off", not ${quoted(value)}`);
  return on;
}

/** "on", "off" or "stay", in any case, spaces around. */
export function startupOf(value: unknown): StartupValue {
  return checkStartup(typeof value === 'string' ? value.trim().toLowerCase() : value);
}

/** An outlet number; the protocol checks that the device has it. */
export function outletOf(value: unknown): number {
  const n = numberOf(value);
  if (n === undefined) throw argumentError(`outlet must be a number, not ${quoted(value)}`);
  return n;
}

/** A pulse width in ms; the protocol checks range and step. */
export function widthOf(value: unknown): number {
  const n = numberOf(value);
  if (n === undefined) throw argumentError(`pulse width must be a number of ms, not ${quoted(value)}`);
  return n;
}

/** {ssid, password}; no password is an open network. */
export function wifiOf(value: unknown): { ssid: string; password: string } {
  const p = (value && typeof value === 'object' ? value : {}) as { ssid?: unknown; password?: unknown };
  const password = p.password ?? '';
  if (typeof password !== 'string') throw argumentError('wifi password must be a string (empty for an open network)');
  // an ssid that is not a string is no ssid: the protocol refuses the missing one
  return { ssid: typeof p.ssid === 'string' ? p.ssid : '', password };
}

/** {url, sha256} of a firmware image on the user's own HTTP server. */
export function otaUrlOf(value: { url?: unknown; sha256?: unknown }): { url: string; sha256: string } {
  if (typeof value.url !== 'string') throw argumentError('ota_flash needs a downloadUrl string');
  // a digest that is not a string is no digest: the protocol refuses its form
  return { url: value.url, sha256: typeof value.sha256 === 'string' ? value.sha256 : '' };
}

/** A dimmer's brightness: 0 (off) or 1–100, from a number or a numeric string; the protocol checks the range. */
export function brightnessOf(value: unknown): number {
  const n = numberOf(value);
  if (n === undefined || !Number.isInteger(n) || n < 0)
    throw argumentError(`brightness must be 0 (off) or an integer from 1 to 100, not ${JSON.stringify(value)}`);
  return n;
}
