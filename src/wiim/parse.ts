/**
 * Reading WiiM / LinkPlay replies. Every reply is first classified: the
 * firmware answers in several forms, and each is a distinct outcome. Then the
 * reader of the command's reply kind turns it into the normalised payload, or
 * into a DeviceError a person can act on.
 */

import { DeviceError } from '../shared/errors';
import { parseDeviceJson } from '../shared/json';
import { EQ_BANDS, loopToMode, type ReplyKind, type Repeat } from './vocabulary';
import type { GroupRole, PlayState, WiimPlayerStatus } from './state';
import { identifyModel, inputsOf, type LoopScheme, type ModelId, type ModelInfo, type OutputTable } from './models';

export type ReplyClass =
  | { kind: 'ok' } // plain `OK`
  | { kind: 'ok-json' } // {"status":"OK"}
  | { kind: 'failed' } // plain `Failed`
  | { kind: 'failed-json'; status: string } // {"status":"Failed"} or another non-OK status
  | { kind: 'unknown-command' } // `unknown command`
  | { kind: 'empty' }
  | { kind: 'json'; value: unknown } // JSON that is not an acknowledgement
  | { kind: 'text'; text: string }; // anything else

/**
 * Classifies a reply body. `{"status": ...}` is an acknowledgement only when
 * the object has no other purpose: getPlayerStatus carries its own
 * `"status":"play"`, which is player state, not a reply status.
 */
export function classifyReply(body: string): ReplyClass {
  const t = body.replace(/^\uFEFF/, '').trim();
  if (t === '') return { kind: 'empty' };
  if (t === 'OK') return { kind: 'ok' };
  if (/^fail(ed)?$/i.test(t)) return { kind: 'failed' };
  if (/^unknown command/i.test(t)) return { kind: 'unknown-command' };
  if (/^[[{]/.test(t)) {
    try {
      const value: unknown = parseDeviceJson(t);
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const o = value as Record<string, unknown>;
        const keys = Object.keys(o);
        if (keys.length === 1 && keys[0] === 'status' && typeof o.status === 'string') {
          return o.status.toUpperCase() === 'OK' ? { kind: 'ok-json' } : { kind: 'failed-json', status: o.status };
        }
      }
      return { kind: 'json', value };
    } catch (err) {
      if (err instanceof DeviceError) throw err; // too deep: unreadable, not text
      return { kind: 'text', text: t };
    }
  }
  return { kind: 'text', text: t };
}

export interface ReplyContext {
  /** the device command as sent (for messages) */
  request: string;
  /** the device's address (for messages, and `ip` of `info` when the device has none) */
  host: string;
  /** the product's outputs, to name the `hardware` numbers that differ by product */
  outputs?: OutputTable | null;
}

function shortCommand(request: string): string {
  let s = request;
  try {
    s = decodeURIComponent(request);
  } catch {
    // shown as sent
  }
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

function excerpt(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 60 ? `${t.slice(0, 60)}…` : t;
}

/** The error for a reply that is not the answer the command expects. */
export function replyError(cls: ReplyClass, ctx: ReplyContext): DeviceError {
  const cmd = shortCommand(ctx.request);
  switch (cls.kind) {
    case 'failed':
      return new DeviceError('device', `${ctx.host} answered "Failed" to ${cmd}`);
    case 'failed-json':
      return new DeviceError('device', `${ctx.host} answered status "${cls.status}" to ${cmd}`);
    case 'unknown-command':
      return new DeviceError('device', `${ctx.host} does not know the command ${cmd} (unknown command)`);
    case 'empty':
      return new DeviceError('protocol', `${ctx.host} sent an empty reply to ${cmd}`);
    case 'json':
      return new DeviceError('protocol', `${ctx.host} sent an unexpected reply to ${cmd}: ${excerpt(JSON.stringify(cls.value))}`);
    case 'text':
      return new DeviceError('protocol', `${ctx.host} sent a reply that is not JSON to ${cmd}: "${excerpt(cls.text)}"`);
    default:
      return new DeviceError('protocol', `${ctx.host} sent an unexpected "OK" to ${cmd}`);
  }
}

// ---------------------------------------------------------------- text fields

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function unescapeHtml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ent: string) => {
    if (ent[0] === '#') {
      const code = ent[1] === 'x' || ent[1] === 'X' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ent.toLowerCase()] ?? whole;
  });
}

/**
 * Hex-encoded UTF-8 to text. Falls back to the text as given when it is not
 * hex, or its bytes are not valid UTF-8 or decode to control characters or
 * to blanks. A short all-digit value ("2020", "4142") is a plain title that
 * happens to look like hex (a year, a number), not hex: firmware that
 * hex-encodes sends at least four bytes of digits only for a title of four
 * such characters, which is rarer than a number as a title.
 */
export function decodeHexText(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && t.length % 2 === 0 && /^[0-9a-f]+$/i.test(t) && !(/^\d+$/.test(t) && t.length < 8)) {
    try {
      const decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(t, 'hex'));
      // eslint-disable-next-line no-control-regex
      if (!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(decoded) && decoded.trim() !== '') return decoded;
    } catch {
      // not UTF-8: the text itself
    }
  }
  return s;
}

const UNKNOWN = new Set(['', 'unknown', 'unknow', 'un_known', 'null', 'none']);

/** The longest now-playing text (title, artist, album, artwork URL) passed on, polled or pushed alike; longer is cut. */
export const MAX_TEXT_CHARS = 2048;

/** `s` cut to MAX_TEXT_CHARS characters (not inside a surrogate pair). */
export function capText(s: string): string {
  if (s.length <= MAX_TEXT_CHARS) return s;
  const cut = s.slice(0, MAX_TEXT_CHARS);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** A now-playing field: hex decoded, entities unescaped, capped; absent or "Unknown" → null. */
export function textField(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const s = unescapeHtml(decodeHexText(value)).trim();
  return UNKNOWN.has(s.toLowerCase()) ? null : capText(s);
}

// ---------------------------------------------------------------- values polled and pushed alike

/** A volume: a whole number 0–100, as a JSON number or plain decimal digits ("35"); anything else (1e308, -50, 0x10, 7.5) undefined. */
export function readVolume(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,3}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  return Number.isInteger(n) && n >= 0 && n <= 100 ? n : undefined;
}

/** Mute: 0 or 1 (number or string); anything else undefined. */
export function readMute(value: unknown): boolean | undefined {
  const s = typeof value === 'number' || typeof value === 'string' ? String(value).trim() : '';
  return s === '1' ? true : s === '0' ? false : undefined;
}

/** A position in seconds fits when 0 ≤ position ≤ duration (any position ≥ 0 without a known duration). */
export function positionFits(position: number, duration: number | null | undefined): boolean {
  return Number.isFinite(position) && position >= 0 && (typeof duration !== 'number' || position <= duration);
}

function num(value: unknown, fallback = 0): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  return Number.isFinite(n) ? n : fallback;
}

function asObject(cls: ReplyClass, ctx: ReplyContext): Record<string, unknown> {
  if (cls.kind === 'json' && cls.value && typeof cls.value === 'object' && !Array.isArray(cls.value)) return cls.value as Record<string, unknown>;
  throw replyError(cls, ctx);
}

// ---------------------------------------------------------------- player

/**
 * getPlayerStatus `mode` → source name. -1 is idle (python-linkplay
 * consts.py PlayingMode.IDLE), 20 is playback started through the HTTP API
 * (PlayingMode.API), 36 Qobuz (PlayingMode.QOBUZ); a mode no public source
 * names is `unknown`, whatever its number.
 */
export function modeToSource(mode: number): string {
  if (mode === -1) return 'none';
  if (mode === 11) return 'usb';
  if (mode === 16) return 'sd';
  if (mode >= 10 && mode <= 19) return 'wifi';
  const names: Record<number, string> = {
    0: 'none',
    1: 'airplay',
    2: 'dlna',
    3: 'qplay',
    20: 'wifi',
    21: 'usb',
    31: 'spotify',
    32: 'tidal',
    36: 'qobuz',
    40: 'line-in',
    41: 'bluetooth',
    42: 'usb',
    43: 'optical',
    45: 'coaxial',
    47: 'line-in2',
    49: 'hdmi',
    50: 'mirror',
    51: 'usb-dac',
    60: 'voicemail',
    99: 'follower',
  };
  return names[mode] ?? 'unknown';
}

/**
 * `vendor` names a source the mode hides: with the generic network mode
 * (10–19) some firmware reports what plays only there. A WiiM Ultra on 5.2
 * playing a USB stick says mode 10 and vendor "UDiskLocal" (pywiim issue 21:
 * any "UDisk…" is USB); pywiim's parser maps these music-service vendors the
 * same way. python-linkplay reads no vendor. Chromecast's vendors stay `wifi`.
 */
const VENDOR_SOURCES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^udisk/i, 'usb'],
  [/^(amazon ?music|prime)$/i, 'amazon'],
  [/^qobuz$/i, 'qobuz'],
  [/^tidal$/i, 'tidal'],
  [/^deezer$/i, 'deezer'],
];

/** The source from `mode`, and from `vendor` where the mode is the generic network value (VENDOR_SOURCES). */
export function sourceOf(mode: number, vendor: unknown): string {
  const source = modeToSource(mode);
  if (source !== 'wifi' || mode < 10 || mode > 19 || typeof vendor !== 'string') return source;
  const name = vendor.trim();
  return VENDOR_SOURCES.find(([re]) => re.test(name))?.[1] ?? source;
}

const STATES: Record<string, PlayState> = {
  play: 'playing',
  playing: 'playing',
  pause: 'paused',
  paused: 'paused',
  stop: 'stopped',
  stopped: 'stopped',
  none: 'stopped',
  load: 'loading',
  loading: 'loading',
};

/**
 * Ten hours in ms: a longer value in ms is in fact µs (pywiim api/parser.py
 * switches at 10 h). Each field is judged alone, and a position goes with its
 * duration's unit: a 60 s track in µs (60 000 000) is past 10 h as ms, so µs.
 */
const MICRO_ABOVE_MS = 36_000_000;

/** curpos/totlen → seconds: ms, or µs when a value is too large for ms. */
export function toSeconds(curpos: number, totlen: number): { position: number; duration: number | null } {
  const microTotal = totlen > MICRO_ABOVE_MS;
  const microPos = curpos > MICRO_ABOVE_MS || (microTotal && curpos <= totlen);
  return {
    position: Math.max(0, Math.floor(curpos / (microPos ? 1_000_000 : 1000))),
    duration: totlen > 0 ? Math.round(totlen / (microTotal ? 1_000_000 : 1000)) : null,
  };
}

/**
 * The loop number → {repeat, shuffle}: -1 is "no loop mode applies" (vTuner
 * radio); under Spotify Connect (mode 31) loop 5 means normal play (pywiim
 * api/loop_mode.py and its issue 17); WiiM's scheme has no 5 otherwise.
 */
export function readLoop(loop: number, mode: number, scheme: LoopScheme): { repeat: Repeat | null; shuffle: boolean | null } {
  if (loop === -1) return { repeat: null, shuffle: null };
  if (loop === 5 && (mode === 31 || scheme === 'wiim')) return { repeat: 'off', shuffle: false };
  return loopToMode(loop) ?? { repeat: 'off', shuffle: false };
}

export function normalisePlayerStatus(o: Record<string, unknown>, scheme: LoopScheme = 'wiim'): WiimPlayerStatus {
  const mode = num(o.mode);
  const loop = readLoop(num(o.loop, 4), mode, scheme);
  const { position, duration } = toSeconds(num(o.curpos), num(o.totlen));
  const follower = String(o.type) === '1' || mode === 99;
  // the poll has to give every field: a volume or mute out of range reads as unknown was read before (0, not muted)
  return {
    state: STATES[String(o.status ?? '').toLowerCase()] ?? 'stopped',
    volume: readVolume(o.vol) ?? 0,
    muted: readMute(o.mute) ?? false,
    source: sourceOf(mode, o.vendor),
    repeat: loop.repeat,
    shuffle: loop.shuffle,
    // a counter past the end is held at the end
    position: positionFits(position, duration) ? position : (duration ?? 0),
    duration,
    trackIndex: num(o.plicurr),
    trackCount: num(o.plicount),
    title: textField(o.Title ?? o.title),
    artist: textField(o.Artist ?? o.artist),
    album: textField(o.Album ?? o.album),
    artwork: null,
    eq: num(o.eq),
    group: follower ? 'follower' : 'solo',
  };
}

export function parsePlayerStatus(body: string, ctx: ReplyContext, scheme: LoopScheme = 'wiim'): { status: WiimPlayerStatus; raw: Record<string, unknown> } {
  const o = asObject(classifyReply(body), ctx);
  if (o.status === undefined && o.vol === undefined && o.mode === undefined) throw replyError({ kind: 'json', value: o }, ctx);
  return { status: normalisePlayerStatus(o, scheme), raw: o };
}

// ---------------------------------------------------------------- device info

export interface WiimInfo {
  name: string;
  model: string;
  firmware: string;
  ssid: string | null;
  ip: string;
  mac: string | null;
  uuid: string | null;
  rssi: number | null;
  presets: number;
  group: GroupRole;
  /** which model this is (models.ts), and the product name */
  modelId: ModelId;
  product: string;
  /** the inputs the device has (plm_support), or null when it does not say */
  inputs: string[] | null;
  /** the outputs the `output` command can select, or null when the package does not know the product's */
  outputs: string[] | null;
  /** wired (Ethernet) or wifi; a wired device reports no signal */
  connection: 'wired' | 'wifi';
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function usableIp(value: unknown): string | null {
  const s = str(value);
  return s && s !== '0.0.0.0' && /^\d+\.\d+\.\d+\.\d+$/.test(s) ? s : null;
}

/**
 * The device's address from getStatusEx: eth2, eth0, apcli0, else `fallback`.
 * Never ra0: that is the device's own setup access point (10.10.10.254),
 * not where it is reached (pywiim api/parser.py).
 */
export function deviceIp(o: Record<string, unknown>, fallback: string): string {
  return usableIp(o.eth2) ?? usableIp(o.eth0) ?? usableIp(o.apcli0) ?? fallback;
}

/** A wired WiiM Pro Plus reports essid "", RSSI "0" and netstat "0" while online: a wired link, not a signal of 0. */
function isWired(o: Record<string, unknown>): boolean {
  return str(o.essid) === null && num(o.RSSI, 0) === 0 && String(o.netstat ?? '0') === '0';
}

export function normaliseInfo(o: Record<string, unknown>, host: string, model = modelOf(o)): WiimInfo {
  const essid = str(o.essid);
  const rssi = num(o.RSSI, Number.NaN);
  const wired = isWired(o);
  return {
    name: str(o.DeviceName) ?? str(o.ssid) ?? host,
    model: str(o.project) ?? str(o.priv_prj) ?? 'unknown',
    firmware: str(o.firmware) ?? 'unknown',
    ssid: essid === null ? null : unescapeHtml(decodeHexText(essid)),
    ip: deviceIp(o, host),
    mac: str(o.MAC),
    uuid: str(o.uuid),
    rssi: Number.isFinite(rssi) && !wired ? rssi : null,
    presets: num(o.preset_key, 0),
    group: String(o.group) === '1' ? 'follower' : 'solo',
    modelId: model.id,
    product: model.name,
    inputs: inputsOf(o.plm_support),
    outputs: model.outputs ? Object.keys(model.outputs) : null,
    connection: wired ? 'wired' : 'wifi',
  };
}

function modelOf(o: Record<string, unknown>): ModelInfo {
  return identifyModel(str(o.project) ?? str(o.priv_prj), str(o.uuid));
}

export function parseInfo(body: string, ctx: ReplyContext): { info: WiimInfo; raw: Record<string, unknown>; model: ModelInfo } {
  const o = asObject(classifyReply(body), ctx);
  if (o.firmware === undefined && o.uuid === undefined && o.DeviceName === undefined) throw replyError({ kind: 'json', value: o }, ctx);
  const model = modelOf(o);
  return { info: normaliseInfo(o, ctx.host, model), raw: o, model };
}

// ---------------------------------------------------------------- meta

export interface WiimMeta {
  title: string | null;
  artist: string | null;
  album: string | null;
  subtitle: string | null;
  artwork: string | null;
  sampleRate: number | null;
  bitDepth: number | null;
  bitRate: number | null;
  trackId: string | null;
}

function optionalNumber(value: unknown): number | null {
  const n = num(value, Number.NaN);
  return Number.isFinite(n) ? n : null;
}

/** getMetaInfo; `Failed` (nothing plays) is not an error: null. */
export function parseMeta(body: string, ctx: ReplyContext): WiimMeta | null {
  const cls = classifyReply(body);
  if (cls.kind === 'failed' || cls.kind === 'failed-json') return null;
  const o = asObject(cls, ctx);
  const inner = o.metaData ?? o.metadata ?? o[' metaData'];
  if (!inner || typeof inner !== 'object') throw replyError(cls, ctx);
  // keys may carry stray spaces on some firmware
  const m: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inner as Record<string, unknown>)) m[k.trim()] = v;
  const artwork = textField(m.albumArtURI);
  return {
    title: textField(m.title),
    artist: textField(m.artist),
    album: textField(m.album),
    subtitle: textField(m.subtitle),
    artwork: artwork && /^[a-z]+:\/\//i.test(artwork) ? artwork : null,
    sampleRate: optionalNumber(m.sampleRate),
    bitDepth: optionalNumber(m.bitDepth),
    bitRate: optionalNumber(m.bitRate),
    trackId: textField(m.trackId),
  };
}

// ---------------------------------------------------------------- presets

export interface WiimPreset {
  number: number;
  name: string | null;
  url: string | null;
  source: string | null;
  artwork: string | null;
}

export function parsePresets(body: string, ctx: ReplyContext): { count: number; presets: WiimPreset[] } {
  const o = asObject(classifyReply(body), ctx);
  const list = Array.isArray(o.preset_list) ? (o.preset_list as Array<Record<string, unknown>>) : [];
  return {
    count: num(o.preset_num, list.length),
    presets: list.map((p) => ({ number: num(p.number), name: textField(p.name), url: str(p.url), source: str(p.source), artwork: str(p.picurl) })),
  };
}

// ---------------------------------------------------------------- multiroom

export interface WiimFollower {
  name: string | null;
  ip: string | null;
  uuid: string | null;
  volume: number | null;
  muted: boolean | null;
}

/**
 * multiroom:getSlaveList: `slaves`/`slave_list`, or `Slaves`/`Slave_list` on
 * older firmware. `slaves` may be the list itself rather than a count; a
 * WF-100 on 4.2 capitalises the keys of each entry (Name, Ip, Volume, Mute,
 * Version); an entry of a follower that went offline may lack fields or be
 * no object at all, and is skipped rather than failing the group
 * (Home Assistant core issue 154065).
 */
export function parseSlaveList(body: string, ctx: ReplyContext): { count: number; followers: WiimFollower[] } {
  const o = asObject(classifyReply(body), ctx);
  const arrays = [o.slave_list, o.Slave_list, o.slaveList, o.slaves, o.Slaves].filter(Array.isArray) as unknown[][];
  const list = (arrays[0] ?? []).filter((s): s is Record<string, unknown> => s !== null && typeof s === 'object' && !Array.isArray(s));
  const followers = list.map((s) => {
    const mute = s.mute ?? s.Mute;
    return {
      name: textField(s.name ?? s.Name),
      ip: str(s.ip ?? s.Ip ?? s.IP),
      uuid: str(s.uuid ?? s.UUID),
      volume: optionalNumber(s.volume ?? s.Volume),
      muted: mute === undefined ? null : String(mute) === '1',
    };
  });
  const count = typeof (o.slaves ?? o.Slaves) === 'object' ? followers.length : num(o.slaves ?? o.Slaves, followers.length);
  return { count, followers };
}

// ---------------------------------------------------------------- the rest

export interface WiimAlarm {
  enabled: boolean;
  trigger: number;
  operation: number;
  time: string | null;
  date: string | null;
  weekDay: number | null;
  day: string | null;
  url: string | null;
}

export function parseAlarm(body: string, ctx: ReplyContext): WiimAlarm {
  const o = asObject(classifyReply(body), ctx);
  return {
    enabled: String(o.enable) === '1',
    trigger: num(o.trigger),
    operation: num(o.operation),
    time: str(o.time),
    date: str(o.date),
    weekDay: optionalNumber(o.week_day),
    day: str(o.day),
    url: str(o.path),
  };
}

/** getShutdown: the seconds left (-1 or 0 when no timer runs). */
export function parseShutdown(body: string, ctx: ReplyContext): number {
  const cls = classifyReply(body);
  if (cls.kind === 'text' && /^-?\d+$/.test(cls.text)) return Number(cls.text);
  if (cls.kind === 'json' && typeof cls.value === 'number') return cls.value;
  throw replyError(cls, ctx);
}

export type WifiState = 'connected' | 'connecting' | 'wrong-password' | 'failed';

export function parseWifiState(body: string, ctx: ReplyContext): WifiState {
  const t = body.trim().toUpperCase();
  const states: Record<string, WifiState> = { OK: 'connected', PROCESS: 'connecting', PAIRFAIL: 'wrong-password', FAIL: 'failed' };
  const s = states[t];
  if (s) return s;
  throw replyError(classifyReply(body), ctx);
}

export function parseEqStat(body: string, ctx: ReplyContext): 'on' | 'off' {
  const o = asObject(classifyReply(body), ctx);
  const v = String(o.EQStat ?? o.eqstat ?? '').toLowerCase();
  if (v === 'on' || v === 'off') return v;
  throw replyError({ kind: 'json', value: o }, ctx);
}

/** EQGetList: an array of names, or (some firmware) an object wrapping it (pywiim api/eq.py). */
export function parseEqList(body: string, ctx: ReplyContext): string[] {
  const cls = classifyReply(body);
  const isList = (v: unknown): v is string[] => Array.isArray(v) && v.every((n) => typeof n === 'string');
  if (cls.kind === 'json') {
    if (isList(cls.value)) return cls.value;
    const inner = cls.value && typeof cls.value === 'object' ? Object.values(cls.value as Record<string, unknown>).find(isList) : undefined;
    if (inner) return inner;
  }
  throw replyError(cls, ctx);
}

export interface WiimEqBands {
  enabled: boolean;
  /** the loaded preset's name, as the device spells it */
  preset: string | null;
  bands: Array<{ hz: number; value: number }>;
}

/** EQGetBand: {EQStat, Name, EQBand:[{index, param_name, value}], EQLevel?} (a user preset carries EQLevel). */
export function parseEqBands(body: string, ctx: ReplyContext): WiimEqBands {
  const o = asObject(classifyReply(body), ctx);
  const stat = String(o.EQStat ?? o.eqstat ?? '').toLowerCase();
  if (stat !== 'on' && stat !== 'off') throw replyError({ kind: 'json', value: o }, ctx);
  const raw = Array.isArray(o.EQBand) ? (o.EQBand as unknown[]) : [];
  const bands = raw
    .filter((b): b is Record<string, unknown> => b !== null && typeof b === 'object')
    .map((b) => ({ hz: (EQ_BANDS as readonly number[])[num(b.index, -1)] ?? 0, value: num(b.value) }))
    .filter((b) => b.hz > 0);
  return { enabled: stat === 'on', preset: str(o.Name), bands };
}

/** `hardware` numbers that name the same output on every product (pywiim AUDIO_OUTPUT_MODE_MAP; 0 is an undocumented line out). */
const COMMON_OUTPUT_NUMBERS: Readonly<Record<number, string>> = { 0: 'line-out', 1: 'optical', 2: 'line-out', 3: 'coax', 4: 'bluetooth', 8: 'usb' };

/** The name of a `hardware` number: the product's own first (4 and 7 differ by product), else the common one, else `output-<n>`. */
export function outputName(n: number, outputs: OutputTable | null | undefined): string {
  const own = outputs ? Object.entries(outputs).find(([, m]) => m === n)?.[0] : undefined;
  return own ?? COMMON_OUTPUT_NUMBERS[n] ?? `output-${n}`;
}

/** getNewAudioOutputHardwareMode {hardware, source, audiocast}; source "1" means Bluetooth output is active (pywiim). */
export function parseOutput(body: string, ctx: ReplyContext): string {
  const o = asObject(classifyReply(body), ctx);
  if (String(o.source ?? '') === '1') return 'bluetooth';
  const n = num(o.hardware, Number.NaN);
  if (!Number.isInteger(n)) throw replyError({ kind: 'json', value: o }, ctx);
  return outputName(n, ctx.outputs);
}

/** Sound-card mode names (WiiM's library consts.py AudioOutputHwMode); others lose AUDIO_(OUTPUT_) and _MODE. */
const SOUND_CARD_MODES: Readonly<Record<string, string>> = {
  AUDIO_OUTPUT_SPDIF_MODE: 'optical',
  AUDIO_OUTPUT_AUX_MODE: 'line-out',
  AUDIO_OUTPUT_COAX_MODE: 'coax',
  AUDIO_OUTPUT_PHONE_JACK_MODE: 'headphones',
  AUDIO_OUTPUT_SPEAKER_MODE: 'speaker',
};

/** An output name from a sound-card mode such as "AUDIO_OUTPUT_AUX_MODE" (getActiveSoundCardOutputMode, UPnP commonevent). */
export function outputOfSoundCardMode(mode: string): string {
  return (
    SOUND_CARD_MODES[mode] ??
    mode
      .replace(/^AUDIO_(OUTPUT_)?/, '')
      .replace(/_MODE$/, '')
      .toLowerCase()
      .replace(/_/g, '-')
  );
}

/** getActiveSoundCardOutputMode {index, mode: "AUDIO_OUTPUT_AUX_MODE", cardId, devName, ...}: the getter where getNewAudioOutputHardwareMode is unknown. */
export function parseActiveOutput(body: string, ctx: ReplyContext): string {
  const o = asObject(classifyReply(body), ctx);
  const mode = str(o.mode);
  if (mode === null || !/^[A-Z0-9_]+$/.test(mode)) throw replyError({ kind: 'json', value: o }, ctx);
  return outputOfSoundCardMode(mode);
}

/** getChannelBalance: a number -1.0 .. 1.0, plain or as JSON. */
export function parseNumberReply(body: string, ctx: ReplyContext): number {
  const cls = classifyReply(body);
  if (cls.kind === 'text' && /^-?\d+(\.\d+)?$/.test(cls.text)) return Number(cls.text);
  if (cls.kind === 'json' && typeof cls.value === 'number') return cls.value;
  throw replyError(cls, ctx);
}

export interface WiimSub {
  enabled: boolean;
  crossover: number | null;
  phase: number | null;
  level: number | null;
  delay: number | null;
}

/** getSubLPF: {status, cross, phase, level, sub_delay} (pywiim api/subwoofer.py). */
export function parseSub(body: string, ctx: ReplyContext): WiimSub {
  const o = asObject(classifyReply(body), ctx);
  if (o.status === undefined) throw replyError({ kind: 'json', value: o }, ctx);
  return {
    enabled: String(o.status) === '1',
    crossover: optionalNumber(o.cross),
    phase: optionalNumber(o.phase),
    level: optionalNumber(o.level),
    delay: optionalNumber(o.sub_delay),
  };
}

/** getTriggeroutStatus: {status} or a bare 1/0. */
export function parseOnOff(body: string, ctx: ReplyContext): boolean {
  const cls = classifyReply(body);
  if (cls.kind === 'text' && /^[01]$/.test(cls.text)) return cls.text === '1';
  if (cls.kind === 'json' && typeof cls.value === 'number') return cls.value === 1;
  // {"status":"1"} has the shape of an acknowledgement; here it is the value
  if (cls.kind === 'failed-json' && /^[01]$/.test(cls.status)) return cls.status === '1';
  const o = asObject(cls, ctx);
  const v = o.status ?? o.enable ?? o.state;
  if (v === undefined) throw replyError(cls, ctx);
  return String(v) === '1';
}

/** getMvRemoteUpdateStatus (+ getMvRomBurnPrecent): the status code and the burn progress. */
export function parseFirmwareStatus(body: string, ctx: ReplyContext): { status: string } {
  const cls = classifyReply(body);
  if (cls.kind === 'text' || cls.kind === 'ok') return { status: cls.kind === 'ok' ? 'OK' : cls.text };
  if (cls.kind === 'json') return { status: typeof cls.value === 'object' ? JSON.stringify(cls.value) : String(cls.value) };
  throw replyError(cls, ctx);
}

/** A command acknowledgement: plain OK or {"status":"OK"}; an empty body too, for reboot. */
export function parseAck(body: string, ctx: ReplyContext, allowEmpty = false): void {
  const cls = classifyReply(body);
  if (cls.kind === 'ok' || cls.kind === 'ok-json' || (allowEmpty && cls.kind === 'empty')) return;
  throw replyError(cls, ctx);
}

/**
 * The acknowledgement of a command that some firmware answers with an empty
 * body or a body that is neither OK nor JSON (EQLoad, EQOff, switchmode,
 * setAlarmClock, timeSync: pywiim api/base.py returns such bodies as they
 * are and its callers take them as success). `Failed` and `unknown command`
 * still fail.
 */
export function parseLenientAck(body: string, ctx: ReplyContext): void {
  const cls = classifyReply(body);
  if (cls.kind === 'failed' || cls.kind === 'failed-json' || cls.kind === 'unknown-command') throw replyError(cls, ctx);
}

/** `raw`: JSON when it is JSON, else the text; failures still fail. */
export function parseRaw(body: string, ctx: ReplyContext): unknown {
  const cls = classifyReply(body);
  switch (cls.kind) {
    case 'failed':
    case 'failed-json':
    case 'unknown-command':
      throw replyError(cls, ctx);
    case 'json':
      return cls.value;
    case 'ok':
    case 'ok-json':
      return 'OK';
    case 'empty':
      return '';
    case 'text':
      return cls.text;
  }
}

/** Reads the reply of a command by its reply kind (see commands.ts). */
/** What each kind of reply reads as (an acknowledgement reads as nothing). */
export interface ReplyReadings {
  ack: undefined;
  reboot: undefined;
  'ack-lenient': undefined;
  'eq-off': undefined;
  'eq-bands': WiimEqBands;
  output: ReturnType<typeof parseOutput>;
  'active-output': ReturnType<typeof parseActiveOutput>;
  number: ReturnType<typeof parseNumberReply>;
  sub: ReturnType<typeof parseSub>;
  'on-off': ReturnType<typeof parseOnOff>;
  firmware: ReturnType<typeof parseFirmwareStatus>;
  player: WiimPlayerStatus;
  info: WiimInfo;
  meta: WiimMeta | null;
  presets: ReturnType<typeof parsePresets>;
  'eq-stat': 'on' | 'off';
  'eq-list': string[];
  alarm: ReturnType<typeof parseAlarm>;
  shutdown: ReturnType<typeof parseShutdown>;
  wifi: ReturnType<typeof parseWifiState>;
  slaves: ReturnType<typeof parseSlaveList>;
  raw: ReturnType<typeof parseRaw>;
}

/** A reply as read, tagged with its kind: a caller narrows on `reply` and gets the reading's type, with no cast. */
export type Reading = { [K in ReplyKind]: { reply: K; value: ReplyReadings[K] } }[ReplyKind];

export function parseReply(kind: ReplyKind, body: string, ctx: ReplyContext): Reading {
  switch (kind) {
    case 'ack':
      parseAck(body, ctx);
      return { reply: kind, value: undefined };
    case 'reboot':
      parseAck(body, ctx, true);
      return { reply: kind, value: undefined };
    case 'ack-lenient':
      parseLenientAck(body, ctx);
      return { reply: kind, value: undefined };
    case 'eq-off': {
      // Arylic answers EQOff with `unknown command` and turns nothing off that was on (pywiim api/eq.py)
      if (classifyReply(body).kind !== 'unknown-command') parseLenientAck(body, ctx);
      return { reply: kind, value: undefined };
    }
    case 'eq-bands':
      return { reply: kind, value: parseEqBands(body, ctx) };
    case 'output':
      return { reply: kind, value: parseOutput(body, ctx) };
    case 'active-output':
      return { reply: kind, value: parseActiveOutput(body, ctx) };
    case 'number':
      return { reply: kind, value: parseNumberReply(body, ctx) };
    case 'sub':
      return { reply: kind, value: parseSub(body, ctx) };
    case 'on-off':
      return { reply: kind, value: parseOnOff(body, ctx) };
    case 'firmware':
      return { reply: kind, value: parseFirmwareStatus(body, ctx) };
    case 'player':
      return { reply: kind, value: parsePlayerStatus(body, ctx).status };
    case 'info':
      return { reply: kind, value: parseInfo(body, ctx).info };
    case 'meta':
      return { reply: kind, value: parseMeta(body, ctx) };
    case 'presets':
      return { reply: kind, value: parsePresets(body, ctx) };
    case 'eq-stat':
      return { reply: kind, value: parseEqStat(body, ctx) };
    case 'eq-list':
      return { reply: kind, value: parseEqList(body, ctx) };
    case 'alarm':
      return { reply: kind, value: parseAlarm(body, ctx) };
    case 'shutdown':
      return { reply: kind, value: parseShutdown(body, ctx) };
    case 'wifi':
      return { reply: kind, value: parseWifiState(body, ctx) };
    case 'slaves':
      return { reply: kind, value: parseSlaveList(body, ctx) };
    case 'raw':
      return { reply: kind, value: parseRaw(body, ctx) };
  }
}
