import type { NodeDef } from 'node-red';
import type { DeviceUpdate, SonoffDeviceState } from './device';
import type { History } from './history';
import { isOnline, wholeIn, type Checked, type WidgetConfig } from './widget';

/** The SONOFF state as the handle gives it (outlets, kind, readings, encrypted); any field may be missing. */
export type TileState = Partial<SonoffDeviceState>;

export interface TileConfig extends NodeDef, WidgetConfig {
  outlet?: number | string;
}

const READINGS = ['power', 'voltage', 'current', 'energyToday', 'energyMonth', 'temperature', 'humidity'] as const;
/** the readings drawn as 24 h sparklines */
export const SERIES = ['power', 'temperature', 'humidity'] as const;

export function outletOf(config: TileConfig): number {
  // the editor saves numbers as text
  return wholeIn(typeof config.outlet === 'string' && /^\d+$/.test(config.outlet) ? Number(config.outlet) : (config.outlet ?? 0), 0, 3) ?? 0;
}

/** Whether the device has a switch: everything but a TH sensor without a relay. */
function hasSwitch(s: TileState): boolean {
  return s.kind !== 'th' || (s.outlets ?? []).some((o) => o.on !== undefined);
}

export function checkTileAction(outlet: number) {
  return (action: string, value: unknown, u: DeviceUpdate<TileState> | undefined): Checked | undefined => {
    if (!isOnline(u) || !u?.state) return undefined;
    switch (action) {
      case 'switch':
        return typeof value === 'boolean' && hasSwitch(u.state) ? { command: 'switch', value, outlet } : undefined;
      case 'brightness': {
        const v = wholeIn(value, 1, 100);
        return v !== undefined && u.state.kind === 'dimmer' ? { command: 'brightness', value: v } : undefined;
      }
      default:
        return undefined;
    }
  };
}

/**
 * The history as `msg.series`, only when a bucket was added or dropped: the
 * browser draws the live reading as the last point itself, so the curve is
 * sent once per bucket, not with every reading.
 */
export function seriesAttachment(history: History): () => Record<string, unknown> | undefined {
  let sent = '';
  return () => {
    const series: Record<string, Array<[number, number]>> = {};
    for (const name of SERIES) {
      const points = history.points(name);
      if (points.length) series[name] = points;
    }
    const key = Object.entries(series)
      .map(([name, points]) => `${name}:${points.length}:${points[0][0]}:${points[points.length - 1][0]}`)
      .join();
    if (key === sent) return undefined;
    sent = key;
    return { series };
  };
}

export function tileView(outlet: number, lanMode: () => 'diy' | 'encrypted') {
  // when the outlet last went on with inching enabled: the browser counts down from it
  let onSince: number | undefined;
  return (u: DeviceUpdate<TileState> | undefined): Record<string, unknown> => {
    const online = isOnline(u);
    const s = u?.state;
    const o = s?.outlets?.find((x) => x.outlet === outlet);
    if (o?.on && o.pulse) onSince ??= Date.now();
    else onSince = undefined;
    const readings: Record<string, number> = {};
    if (online && s) for (const r of READINGS) if (typeof s[r] === 'number') readings[r] = s[r];
    return {
      health: u?.health ?? 'connecting',
      reason: online ? null : (u?.error?.message ?? null),
      // a key problem ("enter its devicekey", "check the devicekey") comes only from a device whose records or replies are encrypted
      lan: s?.encrypted === true || /devicekey/.test(u?.error?.message ?? '') ? 'encrypted' : lanMode(),
      kind: s?.kind ?? null,
      outlet,
      // offline: the last state is not shown as if it were current
      on: online ? (o?.on ?? null) : null,
      hasSwitch: s ? hasSwitch(s) : true,
      brightness: online && s?.kind === 'dimmer' ? (o?.brightness ?? null) : null,
      inching: online && o?.pulse ? { width: o.pulseWidth ?? null, onSince: onSince ?? null } : null,
      readings,
    };
  };
}
