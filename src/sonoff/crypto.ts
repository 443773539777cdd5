/**
 * SONOFF encrypted LAN mode (stock eWeLink firmware): the same
 * `/zeroconf/<endpoint>` requests and `_ewelink._tcp` records as DIY mode,
 * with the params JSON encrypted by the device's own key. Facts from AlexxIT
 * SonoffLAN `core/ewelink/local.py` and homebridge-ewelink
 * `lib/connection/lan.js`, which agree: AES-128-CBC, PKCS7, key =
 * MD5(utf8(devicekey)), a random 16-byte IV per message, both in base64.
 */

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DeviceError } from '../shared/errors';

/** What an encrypted device needs and we cannot give without the key. */
export const NEEDS_KEY_MESSAGE = 'this device is in LAN (encrypted) mode: enter its devicekey';
export const WRONG_KEY_MESSAGE = 'cannot decrypt: check the devicekey';

/** The AES key: MD5 of the devicekey's UTF-8 bytes, 16 raw bytes. */
export function aesKey(devicekey: string): Buffer {
  return createHash('md5').update(devicekey, 'utf8').digest();
}

/**
 * A devicekey as the functions below take it: the key itself, or the AES key
 * already derived from it with aesKey (a client derives it once, not per
 * message).
 */
export type DeviceKey = string | Buffer;

function keyOf(devicekey: DeviceKey): Buffer {
  return typeof devicekey === 'string' ? aesKey(devicekey) : devicekey;
}

export interface Sealed {
  iv: string;
  data: string;
}

/** Encrypts `plaintext` with a fresh IV (or the one given, for tests and the simulator's determinism). */
export function seal(plaintext: string, devicekey: DeviceKey, iv: Buffer = randomBytes(16)): Sealed {
  const cipher = createCipheriv('aes-128-cbc', keyOf(devicekey), iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { iv: iv.toString('base64'), data: data.toString('base64') };
}

/**
 * Decrypts one `{iv, data}` to its text. A wrong key shows as bad padding
 * (almost always) or as text that is not JSON, so callers parse the result
 * and treat both the same way: never as state.
 */
export function open(sealed: Sealed, devicekey: DeviceKey): string {
  const iv = Buffer.from(sealed.iv, 'base64');
  const data = Buffer.from(sealed.data, 'base64');
  if (iv.length !== 16 || data.length === 0 || data.length % 16 !== 0) throw new DeviceError('protocol', WRONG_KEY_MESSAGE);
  try {
    const decipher = createDecipheriv('aes-128-cbc', keyOf(devicekey), iv);
    const plain = Buffer.concat([decipher.update(data), decipher.final()]);
    // some firmware leaves 0x02 bytes after the PKCS7 padding (SonoffLAN #1160)
    let end = plain.length;
    while (end > 0 && plain[end - 1] === 0x02) end--;
    return plain.subarray(0, end).toString('utf8');
  } catch {
    throw new DeviceError('protocol', WRONG_KEY_MESSAGE);
  }
}

/** Decrypts and parses one JSON object; anything else means a wrong key. */
export function openJson(sealed: Sealed, devicekey: DeviceKey): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(open(sealed, devicekey));
  } catch {
    throw new DeviceError('protocol', WRONG_KEY_MESSAGE);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DeviceError('protocol', WRONG_KEY_MESSAGE);
  return parsed as Record<string, unknown>;
}

/**
 * The body of an encrypted request. `selfApikey` "123" and a millisecond
 * `sequence` string are what both public clients send; the device checks
 * neither.
 */
export function sealedRequestBody(deviceid: string, params: Record<string, unknown>, devicekey: DeviceKey, now: number = Date.now()): string {
  const { iv, data } = seal(JSON.stringify(params), devicekey);
  return JSON.stringify({ sequence: String(now), deviceid, selfApikey: '123', encrypt: true, iv, data });
}
