/**
 * The message values of `announce` and `queue-play` as typed arguments:
 * a URL, a Buffer, or {url | file | buffer, volume, mode, timeout} with
 * numbers as numbers or numeric strings. What the request alone decides
 * (mode, volume, timeout, the URL's scheme) is checked here, before
 * anything is sent or served (src/wiim/announce.ts checkAnnounce).
 */

import { argumentError } from '../shared/errors';
import { DEFAULT_ANNOUNCE_TIMEOUT_S, checkAnnounce, type AnnounceMode, type AnnounceRequest } from '../wiim/announce';
import { describeValue } from '../wiim/commands';
import { numberOf } from './values';

const KEYS = ['url', 'file', 'buffer', 'volume', 'mode', 'timeout'];

function sourceOf(o: Record<string, unknown>): AnnounceRequest['source'] {
  const given = (['url', 'file', 'buffer'] as const).filter((k) => o[k] !== undefined && o[k] !== null && o[k] !== '');
  if (given.length === 0) throw argumentError('announce needs what to play: a URL, a Buffer, or {url}, {file} or {buffer} in msg.payload');
  if (given.length > 1) throw argumentError(`announce takes one of url, file and buffer, got ${given.join(' and ')}`);
  const key = given[0];
  const v = o[key];
  if (key === 'buffer') {
    if (!Buffer.isBuffer(v)) throw argumentError(`announce buffer must be a Buffer, got ${describeValue(v)}`);
    return { buffer: v };
  }
  if (typeof v !== 'string') throw argumentError(`announce ${key} must be a string, got ${describeValue(v)}`);
  return key === 'url' ? { url: v.trim() } : { file: v.trim() };
}

export function announceOf(value: unknown): AnnounceRequest {
  if (Buffer.isBuffer(value)) return checkAnnounce({ source: { buffer: value }, mode: 'auto', timeoutS: DEFAULT_ANNOUNCE_TIMEOUT_S });
  if (typeof value === 'string') return checkAnnounce({ source: sourceOf({ url: value }), mode: 'auto', timeoutS: DEFAULT_ANNOUNCE_TIMEOUT_S });
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw argumentError(`announce takes a URL, a Buffer or {url | file | buffer, volume, mode, timeout}, got ${describeValue(value)}`);
  const o = value as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !KEYS.includes(k) && k !== 'command' && k !== 'value');
  if (extra.length > 0) throw argumentError(`announce: unknown field ${extra.join(', ')}; the fields are ${KEYS.join(', ')}`);
  const request: AnnounceRequest = { source: sourceOf(o), mode: 'auto', timeoutS: DEFAULT_ANNOUNCE_TIMEOUT_S };
  if (o.mode !== undefined && o.mode !== '') {
    if (typeof o.mode !== 'string') throw argumentError(`announce mode must be "prompt", "interrupt" or "auto", got ${describeValue(o.mode)}`);
    request.mode = o.mode.trim() as AnnounceMode;
  }
  if (o.volume !== undefined && o.volume !== '') {
    const v = numberOf(o.volume);
    if (v === undefined) throw argumentError(`announce volume must be a whole number from 0 to 100, got ${describeValue(o.volume)}`);
    request.volume = v;
  }
  if (o.timeout !== undefined && o.timeout !== '') {
    const t = numberOf(o.timeout);
    if (t === undefined) throw argumentError(`announce timeout must be a number of seconds from 1 to 3600, got ${describeValue(o.timeout)}`);
    request.timeoutS = t;
  }
  return checkAnnounce(request);
}

export function queueIndexOf(value: unknown): number {
  const o = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const n = numberOf(o ? o.index : value);
  if (n === undefined) throw argumentError(`queue-play takes the index of a track in the queue (1 or more), got ${describeValue(value)}`);
  return n;
}
