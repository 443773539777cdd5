import { createHash } from 'node:crypto';
import { argumentError, type DeviceError } from '../shared/errors';
import type { Clock } from '../shared/clock';
import { FileServer, loadFile, type LoadableFile } from '../shared/file-server';

export { localAddressFor } from '../shared/file-server';

/** The largest image a DIY relay accepts: 508 KB. */
export const MAX_IMAGE_BYTES = 508 * 1024;
export const ESP_IMAGE_MAGIC = 0xe9;
/** SPI flash mode byte (offset 2): 0 QIO, 1 QOUT, 2 DIO, 3 DOUT. */
export const FLASH_MODE_DOUT = 3;
const FLASH_MODES = ['QIO', 'QOUT', 'DIO', 'DOUT'];

/** `bytes` undefined: more than the limit (reading stopped there). */
function tooLarge(bytes: number | undefined): DeviceError {
  const size = bytes === undefined ? `more than ${MAX_IMAGE_BYTES}` : String(bytes);
  return argumentError(`the firmware image is ${size} bytes; SONOFF DIY devices accept at most ${MAX_IMAGE_BYTES} bytes (${MAX_IMAGE_BYTES / 1024} KB)`);
}

/** Checks size, ESP8266 header magic and DOUT flash mode; throws DeviceError 'argument'. */
export function checkImage(image: Buffer): void {
  if (image.length === 0) throw argumentError('the firmware image is empty');
  if (image.length > MAX_IMAGE_BYTES) throw tooLarge(image.length);
  if (image.length < 4 || image[0] !== ESP_IMAGE_MAGIC) {
    throw argumentError('the file is not an ESP8266 firmware image (header magic 0xE9 missing)');
  }
  if (image[2] !== FLASH_MODE_DOUT) {
    const mode = FLASH_MODES[image[2]] ?? `unknown (${image[2]})`;
    throw argumentError(`the firmware image uses SPI flash mode ${mode}; SONOFF DIY devices need DOUT`);
  }
}

export function sha256(image: Buffer): string {
  return createHash('sha256').update(image).digest('hex');
}

export interface FirmwareServerOptions {
  image: Buffer;
  /** the only client address that may download (the device's IP) */
  allow: string;
  /** the local address to listen on; default localAddressFor(allow) */
  bindAddress?: string;
  /** the server closes itself after this long; default 5 min */
  timeoutMs?: number;
  /** bytes sent so far (sum over all responses) and the image size */
  onProgress?: (bytesServed: number, total: number) => void;
}

/**
 * The one-shot server of one firmware image (src/shared/file-server.ts):
 * only for the device's address, only at the unguessable path that the
 * flash request names, and only while the flash runs.
 */
export class FirmwareServer extends FileServer {
  constructor(options: FirmwareServerOptions) {
    super({ ...options, body: options.image, fileName: 'firmware.bin' });
  }

  get image(): Buffer {
    return this.body;
  }
}

/** How long reading a firmware file may take: a stalled network mount must not hold the node. */
export const IMAGE_READ_TIMEOUT_MS = 10_000;

/** The part of a FileHandle that loadImage uses (tests hand in a stalled one). */
export type ImageFile = LoadableFile;

export interface LoadImageOptions {
  /** default IMAGE_READ_TIMEOUT_MS */
  timeoutMs?: number;
  clock?: Clock;
  /** opens the path; default: read-only and non-blocking, so that opening a FIFO does not wait for a writer */
  open?: (path: string) => Promise<ImageFile>;
}

/**
 * Reads an image for OTA from a path or Buffer input: a regular file of at
 * most MAX_IMAGE_BYTES, read within a deadline (loadFile).
 */
export async function loadImage(source: string | Buffer, options: LoadImageOptions = {}): Promise<Buffer> {
  if (Buffer.isBuffer(source)) return source;
  return loadFile(source, {
    maxBytes: MAX_IMAGE_BYTES,
    timeoutMs: options.timeoutMs ?? IMAGE_READ_TIMEOUT_MS,
    what: 'the firmware image',
    tooLarge,
    clock: options.clock,
    open: options.open,
  });
}
