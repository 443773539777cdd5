/** What sonoff-switch and sonoff-pulse put in msg.sonoff, and the normalised `info` payload. */

import type { OutletSnapshot, SonoffStateEvent, StateSource } from '../sessions/sonoff-session';
import type { SonoffState } from '../sonoff/state';

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
export function metaOfSnapshot(deviceid: string, snap: OutletSnapshot): SonoffMeta {
  const { state, device } = snap;
  const meta: SonoffMeta = { deviceid: device.deviceid ?? deviceid, outlet: snap.outlet, source: snap.source };
  if (state.startup !== undefined) meta.startup = state.startup;
  if (state.pulse !== undefined) meta.pulse = state.pulse;
  if (state.pulseWidth !== undefined) meta.pulseWidth = state.pulseWidth;
  if (device.rssi !== undefined) meta.rssi = device.rssi;
  if (device.fwVersion !== undefined) meta.fwVersion = device.fwVersion;
  if (snap.seq !== undefined) meta.seq = snap.seq;
  return meta;
}

/**
 * A device event as one outlet's change, for a node of that outlet:
 * undefined when none of the outlet's fields changed.
 */
export function outletChange(event: SonoffStateEvent, outlet: number, seq: number | undefined): OutletSnapshot | undefined {
  const prefix = `outlets.${outlet}.`;
  if (!event.changed.some((f) => f.startsWith(prefix))) return undefined;
  const state = event.state.outlets.find((o) => o.outlet === outlet);
  const snap: OutletSnapshot = { outlet, state: { ...(state ?? { outlet }) }, device: event.state, source: event.source };
  if (seq !== undefined) snap.seq = seq;
  return snap;
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
    led: s.led,
  };
}
