import type { NodeDef } from 'node-red';
import type { DeviceHandle, DeviceUpdate, WiimDeviceState } from './device';
import { isOnline, wholeIn, type Checked, type WidgetConfig } from './widget';

/** The player's state as the handle gives it (wiim-status's fields); any field may be missing. */
export type PlayerState = Partial<WiimDeviceState>;

interface Preset {
  number: number;
  name: string | null;
  artwork: string | null;
}
interface Follower {
  name: string | null;
  ip: string | null;
  volume: number | null;
}
/** What the card shows beyond the player's state, read once it is online: the inputs, presets and followers. */
export interface PlayerExtra {
  inputs: string[];
  product: string | null;
  presets: Preset[];
  followers: Follower[];
}

export interface PlayerConfig extends NodeDef, WidgetConfig {
  showArtwork?: boolean | string;
  showSource?: boolean | string;
  showPresets?: boolean | string;
  showGroup?: boolean | string;
}

/** The state fields the card shows; each is null where the device has not reported it. */
const PLAYER_FIELDS = [
  'state',
  'volume',
  'muted',
  'source',
  'repeat',
  'shuffle',
  'position',
  'duration',
  'title',
  'artist',
  'album',
  'artwork',
  'group',
] as const;
type PlayerField = (typeof PLAYER_FIELDS)[number];
type PlayerView = { [K in PlayerField]: PlayerState[K] | null };

function pick(s: PlayerState): PlayerView {
  const view = {} as Record<PlayerField, unknown>;
  for (const k of PLAYER_FIELDS) view[k] = s[k] ?? null;
  return view as PlayerView;
}

const REPEATS = new Set(['all', 'one', 'off']);

/** A flag that defaults to true: a flow saved before it existed shows the part. */
function shown(v: unknown): boolean {
  return v !== false && v !== 'false';
}

export function checkPlayerAction(
  action: string,
  value: unknown,
  u: DeviceUpdate<PlayerState> | undefined,
  extra: PlayerExtra | undefined,
): Checked | undefined {
  if (!isOnline(u)) return undefined;
  const s = u?.state ?? {};
  switch (action) {
    case 'play':
      return value === undefined ? { command: 'resume' } : undefined;
    case 'pause':
    case 'next':
    case 'prev':
      return value === undefined ? { command: action } : undefined;
    case 'volume': {
      const v = wholeIn(value, 0, 100);
      return v === undefined ? undefined : { command: 'volume', value: v };
    }
    case 'mute':
      return typeof value === 'boolean' ? { command: 'mute', value } : undefined;
    case 'source':
      return typeof value === 'string' && extra?.inputs.includes(value) ? { command: 'source', value } : undefined;
    case 'shuffle':
      return typeof value === 'boolean' ? { command: 'repeat', value: { repeat: s.repeat ?? 'off', shuffle: value }, shown: value } : undefined;
    case 'repeat':
      return typeof value === 'string' && REPEATS.has(value)
        ? { command: 'repeat', value: { repeat: value, shuffle: s.shuffle ?? false }, shown: value }
        : undefined;
    case 'seek': {
      const max = typeof s.duration === 'number' && s.duration > 0 ? Math.floor(s.duration) : undefined;
      const v = max === undefined ? undefined : wholeIn(value, 0, max);
      return v === undefined ? undefined : { command: 'seek', value: v };
    }
    case 'preset': {
      const n = wholeIn(value, 1, 99);
      return n !== undefined && extra?.presets.some((p) => p.number === n) ? { command: 'preset', value: n } : undefined;
    }
    case 'member-volume': {
      const o = value as { ip?: unknown; volume?: unknown } | null;
      if (!o || typeof o !== 'object' || Object.keys(o).some((k) => k !== 'ip' && k !== 'volume')) return undefined;
      const v = wholeIn(o.volume, 0, 100);
      // only a follower the leader itself listed: a browser never names another device
      const known = extra?.followers.some((f) => f.ip !== null && f.ip === o.ip);
      return v !== undefined && known ? { command: 'member-volume', value: { ip: o.ip, volume: v } } : undefined;
    }
    default:
      return undefined;
  }
}

export function playerView(config: PlayerConfig) {
  const show = { artwork: shown(config.showArtwork), source: shown(config.showSource), presets: shown(config.showPresets), group: shown(config.showGroup) };
  return (u: DeviceUpdate<PlayerState> | undefined, extra: PlayerExtra | undefined): Record<string, unknown> => {
    const online = isOnline(u);
    const s = online ? (u?.state ?? {}) : {};
    return {
      health: u?.health ?? 'connecting',
      reason: online ? null : (u?.error?.message ?? null),
      show,
      // offline: nothing of the last state, so that the card never shows a stale "playing"
      player: online ? pick(s) : null,
      inputs: online ? (extra?.inputs ?? []) : [],
      presets: online ? (extra?.presets ?? []) : [],
      followers: online && s.group === 'leader' ? (extra?.followers ?? []) : [],
    };
  };
}

/** The read-outs the card needs beyond the state: once per online episode, the group again when it changes. */
export function playerExtra(
  handle: DeviceHandle<PlayerState>,
  u: DeviceUpdate<PlayerState>,
  previous: PlayerExtra | undefined,
  previousUpdate: DeviceUpdate<PlayerState> | undefined,
): Promise<PlayerExtra> | undefined {
  if (!isOnline(u)) return undefined;
  const cameOnline = !isOnline(previousUpdate);
  const leader = u.state?.group === 'leader';
  const groupChanged = u.changed.includes('group') || (leader && u.source === 'command' && u.changed.length === 0);
  if (!cameOnline && previous && !groupChanged) return undefined;
  return (async () => {
    const next: PlayerExtra = previous ? { ...previous } : { inputs: [], product: null, presets: [], followers: [] };
    if (cameOnline || !previous) {
      const info = (await handle.send('info').catch(() => undefined))?.payload as { inputs?: string[] | null; product?: string } | undefined;
      next.inputs = Array.isArray(info?.inputs) ? info.inputs : [];
      next.product = info?.product ?? null;
      const presets = (await handle.send('presets').catch(() => undefined))?.payload as { presets?: Array<Record<string, unknown>> } | undefined;
      next.presets = (presets?.presets ?? [])
        .filter((p) => typeof p.number === 'number' && p.number > 0 && (p.name || p.url))
        .map((p) => ({ number: p.number as number, name: (p.name as string | null) ?? null, artwork: (p.artwork as string | null) ?? null }));
    }
    if (leader) {
      const group = (await handle.send('group').catch(() => undefined))?.payload as { followers?: Follower[] } | undefined;
      next.followers = (group?.followers ?? []).map((f) => ({ name: f.name ?? f.ip, ip: f.ip, volume: f.volume }));
    } else next.followers = [];
    return next;
  })();
}
