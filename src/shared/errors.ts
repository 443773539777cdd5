/*
 * The one error type that protocol modules and sessions throw. `kind` lets a
 * node pick a status text and lets the session decide whether the failure
 * counts against the device's health (only transport failures do).
 */
export type DeviceErrorKind =
  /** the argument was refused before anything was sent */
  | 'argument'
  /** the device did not answer in time */
  | 'timeout'
  /** the connection failed: refused, reset, TLS, unreachable */
  | 'network'
  /** the device is marked offline; the command was not sent */
  | 'offline'
  /** the device answered, and the answer says it failed */
  | 'device'
  /** the device answered something we cannot read */
  | 'protocol'
  /** the session or node was closed while the request waited */
  | 'closed';

export class DeviceError extends Error {
  readonly kind: DeviceErrorKind;
  /** a device error code (SONOFF `error`, HTTP status), where there is one */
  readonly code?: number | string;

  constructor(kind: DeviceErrorKind, message: string, options?: { code?: number | string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeviceError';
    this.kind = kind;
    if (options?.code !== undefined) this.code = options.code;
  }

  /** True for failures that say something about the device's reachability. */
  get isTransport(): boolean {
    return this.kind === 'timeout' || this.kind === 'network';
  }
}

export function argumentError(message: string): DeviceError {
  return new DeviceError('argument', message);
}
