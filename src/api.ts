/**
 * The package's public types: the device handle that each config node
 * (`wiim-config`, `sonoff-config`) offers as its read-only `device`, for flow
 * nodes, dashboard widgets and other packages.
 *
 * Import them with `import type` only, and read an error by `err.kind`, never
 * by `instanceof`: npm may install a second copy of this package beside yours,
 * whose classes are not this copy's.
 *
 * ```ts
 * import type { WiimDevice } from 'node-red-contrib-wiim-sonoff';
 * const device = (RED.nodes.getNode(config.device) as { device?: WiimDevice } | null)?.device;
 * const stop = device?.subscribe((u) => node.status({ text: `${u.health} ${u.state?.volume ?? ''}` }), { meta: true });
 * await device?.send('volume', '+5');
 * ```
 */
import type { WiimState } from './wiim/state';
import type { DeviceKind, Family, OutletState, Readings } from './sonoff/state';

/** `unconfigured`: the config node's settings are unusable (see `DeviceUpdate.error`); nothing is ever sent. */
export type Health = 'connecting' | 'online' | 'offline' | 'faulty' | 'unconfigured';

/** Where an update came from: the device told us, a scheduled read, our own command, a read on demand, or a change of health. */
export type UpdateSource = 'push' | 'poll' | 'command' | 'refresh' | 'health';

/** What went wrong, by kind (`argument`, `timeout`, `network`, `offline`, `device`, `protocol`, `closed`), in the runtime's language. */
export interface DeviceErrorInfo {
  kind: string;
  message: string;
}

export interface DeviceUpdate<S> {
  health: Health;
  /** the whole snapshot, never a delta */
  state: Readonly<S> | undefined;
  /** field names (`volume`, `outlets.2.on`, `power`); [] for a health-only update and for the replay */
  changed: readonly string[];
  source: UpdateSource;
  /** why the device is offline, faulty or unconfigured */
  error?: DeviceErrorInfo;
}

export interface SendOptions {
  /** SONOFF: the outlet a switch, startup or pulse command is for (default 0) */
  outlet?: number;
}

export interface SendResult<S> {
  /** what the node would put in `msg.payload` */
  payload: unknown;
  /** the state after the command */
  state: Readonly<S> | undefined;
}

/** An error `send` rejects with: an Error with a `kind` (see DeviceErrorInfo). */
export type DeviceFailure = Error & { kind: string };

export interface DeviceHandle<S> {
  readonly family: 'wiim' | 'sonoff';
  /** the config node's name, else the device's address or id */
  readonly name: string;
  readonly health: Health;
  readonly state: Readonly<S> | undefined;
  /**
   * Calls `listener` at once (before returning) with the health and state,
   * then on every change. While the subscription lives the device counts as
   * used: it is polled or listened to. `meta` (WiiM) reads the track's
   * metadata too (artwork, sample rate). Returns the unsubscribe function.
   */
  subscribe(listener: (update: DeviceUpdate<S>) => void, options?: { meta?: boolean }): () => void;
  /**
   * The nodes' message contract as a call (command = msg.topic, value =
   * msg.payload): the same coercion, checks, coalescing and error texts;
   * nothing is sent on a bad value. Rejects with a DeviceFailure.
   */
  send(command: string, value?: unknown, options?: SendOptions): Promise<SendResult<S>>;
}

/**
 * A WiiM's state: the fields of `wiim-status` (state, volume, muted, source,
 * repeat, shuffle, position, duration, title, artist, album, artwork, group,
 * output, eqPreset, sampleRate, ...), `online`, and `presets` (how many preset
 * slots the device has) once known.
 */
export type WiimDeviceState = WiimState & { presets?: number };

/** One SONOFF outlet: on, startup, pulse (inching) and its width, the D1's brightness. */
export type SonoffOutletState = OutletState;

/**
 * A SONOFF device's state: its outlets, what the device is (`family`,
 * `kind`), the meter's and TH sensor's readings (`power`, `voltage`,
 * `current`, `energyToday`, `energyMonth`, `temperature`, `humidity`),
 * network facts, and whether it speaks the encrypted LAN mode.
 */
export interface SonoffDeviceState extends Readings {
  deviceid: string;
  family?: Family;
  kind: DeviceKind;
  /** stock firmware in LAN mode (a devicekey is set), rather than DIY mode */
  encrypted: boolean;
  outlets: SonoffOutletState[];
  led?: boolean;
  fwVersion?: string;
  ssid?: string;
  bssid?: string;
  rssi?: number;
}

export type WiimDevice = DeviceHandle<WiimDeviceState>;
export type SonoffDevice = DeviceHandle<SonoffDeviceState>;
