/**
 * Editor fields arrive as strings ("8081"), flows written by hand as numbers.
 * Both are accepted; anything else falls back to the default.
 */

import { isIP, isIPv6 } from 'node:net';
import { DeviceError } from '../shared/errors';

export function numberSetting(value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value.trim());
    if (Number.isFinite(n)) return n;
  }
  return fallback;
}

/** Like numberSetting, but undefined when the field is empty or not numeric. */
export function optionalNumberSetting(value: unknown): number | undefined {
  const n = numberSetting(value, Number.NaN);
  return Number.isNaN(n) ? undefined : n;
}

export function stringSetting(value: unknown): string {
  return typeof value === 'string' ? value.trim() : value === undefined || value === null ? '' : String(value).trim();
}

/** A host name: dot-separated labels of letters, digits, '-' and '_' (mDNS names such as WiiM-Mini.local included). */
const HOST_NAME = /^(?=.{1,253}\.?$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/**
 * A device's host as both config nodes take it: an IPv4 address, an IPv6
 * address (bare or in brackets, as in a URL; returned bare), or a host name;
 * '' when empty. Anything else (a URL, a path, a port, spaces) is refused
 * with a message the config node shows as its problem.
 */
export function hostSetting(value: unknown): string {
  const host = stringSetting(value);
  if (host === '') return '';
  const bracketed = /^\[(.+)\]$/.exec(host)?.[1];
  if (bracketed !== undefined ? isIPv6(bracketed) : isIP(host) !== 0 || HOST_NAME.test(host)) return bracketed ?? host;
  const shown = host.length > 60 ? `${host.slice(0, 59)}…` : host;
  throw new DeviceError('argument', `the host must be an IPv4 or IPv6 address or a host name, without a scheme, port or path; got "${shown}"`);
}
