/**
 * SONOFF mDNS TXT records (`_ewelink._tcp`): the state a record carries
 * (data1..data4 joined in key order, decrypted with the device's key in
 * encrypted LAN mode) and what its `seq` means (SeqTracker).
 */

import { DeviceError } from '../shared/errors';
import { parseDeviceJson } from '../shared/json';
import { NEEDS_KEY_MESSAGE, openJson, type DeviceKey } from './crypto';
import { meterUnitsOfType, normaliseState, type MeterHint, type SonoffState } from './state';

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
  const hint: MeterHint = { ...meter, known: meter.known ?? meterUnitsOfType(out.type) };
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
