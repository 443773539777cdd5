import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { DeviceError } from '../shared/errors';
import { encodeOtaFlash } from '../sonoff/codec';
import { FirmwareServer, checkImage, sha256 } from '../sonoff/ota';
import type { SonoffSession } from './sonoff-session';

/**
 * The OTA flash sequence of sonoff-ota: info → ota_unlock → ota_flash, each
 * request through the session's queue, and for a local image a firmware
 * server that lives as long as the flash (or the session, if it closes first).
 */

/** The one output of sonoff-ota. */
export interface FlashResult {
  status: 'done';
  /** null for {url, sha256}: the image never passes through us */
  bytes: number | null;
  sha256: string;
  fwVersion?: string;
}

export interface FlashImageOptions {
  /** the SHA-256 the image must have (the node's setting) */
  expectedSha256?: string;
  /** the percentage of the image served so far */
  onProgress?: (percent: number) => void;
}

/**
 * Flashes a local image: checks it (size, header, DOUT, the expected
 * SHA-256 if given), serves it once to the relay's address only, and runs
 * info → ota_unlock → ota_flash.
 */
export async function flashImage(session: SonoffSession, image: Buffer, options: FlashImageOptions = {}): Promise<FlashResult> {
  checkImage(image);
  const digest = sha256(image);
  const expected = options.expectedSha256?.toLowerCase();
  if (expected && expected !== digest) throw new DeviceError('argument', `the image's SHA-256 ${digest} does not match the sha256 setting ${expected}`);
  const address = await deviceAddress(session);
  let lastPercent = -1;
  const server = new FirmwareServer({
    image,
    allow: address,
    onProgress: (bytes, total) => {
      const percent = Math.min(100, Math.floor((bytes * 100) / total));
      if (percent === lastPercent) return;
      lastPercent = percent;
      options.onProgress?.(percent);
    },
  });
  // a session that closes mid-flash takes the server down with it
  const forget = session.onClose(() => server.close());
  try {
    const request = encodeOtaFlash(await server.start(), digest);
    await session.otaUnlock();
    await session.otaFlash(request);
  } finally {
    forget();
    await server.close();
  }
  return flashed(session, { status: 'done', bytes: image.length, sha256: digest });
}

/** Flashes an image from the user's own HTTP server: info → ota_unlock → ota_flash. */
export async function flashUrl(session: SonoffSession, url: string, digest: string): Promise<FlashResult> {
  // encoded once, here: a bad URL or hash is refused before the relay is unlocked for a flash that cannot happen
  const request = encodeOtaFlash(url, digest);
  await session.refresh();
  await session.otaUnlock();
  await session.otaFlash(request);
  return flashed(session, { status: 'done', bytes: null, sha256: digest.toLowerCase() });
}

/** The new firmware version, if the relay answers before it restarts. */
async function flashed(session: SonoffSession, result: FlashResult): Promise<FlashResult> {
  const fw = await session.refresh().then(
    (s) => s.fwVersion,
    () => undefined,
  );
  if (fw) result.fwVersion = fw;
  return result;
}

/** The relay's IPv4 address (the firmware server admits it alone); `info` first proves it answers. */
async function deviceAddress(session: SonoffSession): Promise<string> {
  await session.refresh();
  const host = session.address?.host;
  if (!host) throw new DeviceError('offline', 'the device address is not known');
  if (isIP(host)) return host;
  return (await lookup(host, { family: 4 })).address;
}
