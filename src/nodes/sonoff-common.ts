import type { Node } from 'node-red';
import { DeviceError } from '../shared/errors';
import type { Health } from '../sessions/device-session';
import type { SonoffSession, OutletChange, OutletSnapshot, StateSource } from '../sessions/sonoff-session';
import type { OutletState, SonoffState } from '../sonoff/codec';

/**
 * What sonoff-switch, sonoff-pulse and sonoff-ota share: the config node's
 * shape as the users see it, and the msg.sonoff builder.
 */

/** A node that uses a sonoff-config: the config pushes health and state to it. */
export interface SonoffUser {
  readonly node: Node;
  health(health: Health, err: DeviceError | undefined): void;
  state(change: OutletChange): void;
}

export interface SonoffConfigNode extends Node {
  readonly deviceid: string;
  readonly session: SonoffSession;
  register(user: SonoffUser): void;
  deregister(user: SonoffUser): void;
}

export interface SonoffMeta {
  deviceid: string;
  outlet: number;
  startup?: string;
  pulse?: boolean;
  pulseWidth?: number;
  rssi?: number;
  fwVersion?: string;
  seq?: number;
  source: StateSource;
}

/** msg.sonoff: deviceid, outlet, startup, pulse, pulseWidth, rssi, fwVersion, seq, source. */
export function sonoffMeta(deviceid: string, outlet: OutletState, device: SonoffState, source: StateSource, seq: number | undefined): SonoffMeta {
  const meta: SonoffMeta = { deviceid: device.deviceid ?? deviceid, outlet: outlet.outlet, source };
  if (outlet.startup !== undefined) meta.startup = outlet.startup;
  if (outlet.pulse !== undefined) meta.pulse = outlet.pulse;
  if (outlet.pulseWidth !== undefined) meta.pulseWidth = outlet.pulseWidth;
  if (device.rssi !== undefined) meta.rssi = device.rssi;
  if (device.fwVersion !== undefined) meta.fwVersion = device.fwVersion;
  if (seq !== undefined) meta.seq = seq;
  return meta;
}

export function metaOfSnapshot(deviceid: string, snap: OutletSnapshot): SonoffMeta {
  return sonoffMeta(deviceid, snap.state, snap.device, snap.source, snap.seq);
}

/** The normalised `info` object of the info topic. */
export function infoPayload(deviceid: string, s: SonoffState): Record<string, unknown> {
  const outlets = s.outlets.map((o) => ({ outlet: o.outlet, switch: o.on, startup: o.startup, pulse: o.pulse, pulseWidth: o.pulseWidth }));
  const first = s.outlets[0];
  return {
    deviceid: s.deviceid ?? deviceid,
    family: s.family,
    outlets,
    switch: first?.on,
    startup: first?.startup,
    pulse: first?.pulse,
    pulseWidth: first?.pulseWidth,
    fwVersion: s.fwVersion,
    ssid: s.ssid,
    bssid: s.bssid,
    rssi: s.rssi,
  };
}

/** Finds the config node; undefined when the node has none. */
export function configOf(RED: { nodes: { getNode(id: string): Node } }, id: unknown): SonoffConfigNode | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  const n = RED.nodes.getNode(id) as SonoffConfigNode | null;
  return n && 'session' in n ? n : undefined;
}
