/**
 * The wiim-command commands: their typed arguments, the checks of those
 * arguments, and their encoding into the device's command string (the part
 * after `command=`). Message values become typed arguments at the node edge
 * (src/contract/wiim-values.ts).
 *
 * Encoding happens in two steps. `prepareCommand` checks everything that the
 * argument alone decides (fixed ranges, whole numbers, forbidden characters)
 * and says which facts about the device the command needs; `build` then checks
 * what those facts decide (relative volume, EQ preset name, preset count, seek
 * within the track) and returns the command string. Whatever either step
 * refuses is never sent.
 */

import { DeviceError, argumentError } from '../shared/errors';
import {
  DOCUMENTED_OUTPUTS,
  OUTPUT_NAMES,
  hasSetting,
  isOutputName,
  lacksSettingMessage,
  type LoopScheme,
  type ModelId,
  type OutputName,
  type OutputTable,
  type Setting,
} from './models';
import { CONTROL_CHARACTERS } from '../shared/text';
import { EQ_BANDS, SOURCE_MODES, modeToLoop, type EqBandHz, type Repeat, type ReplyKind } from './vocabulary';

export const WIIM_COMMANDS = [
  'play',
  'playlist',
  'pause',
  'resume',
  'toggle',
  'stop',
  'next',
  'prev',
  'seek',
  'volume',
  'mute',
  'repeat',
  'eq',
  'source',
  'preset',
  'reboot',
  'shutdown',
  'shutdown-timer',
  'time-sync',
  'alarm',
  'status',
  'info',
  'meta',
  'presets',
  'wifi-state',
  'join',
  'leave',
  'kick',
  'ungroup',
  'group',
  'raw',
  // settings of the models beyond the Mini (docs/architecture.md, "Models and settings")
  'output',
  'balance',
  'led',
  'buttons',
  'sub',
  'trigger',
  'eq-bands',
  'group-volume',
  'group-mute',
  'member-volume',
  'member-mute',
  'notify',
  'firmware',
] as const;

export type WiimCommandName = (typeof WIIM_COMMANDS)[number];

export function isWiimCommand(name: unknown): name is WiimCommandName {
  return typeof name === 'string' && (WIIM_COMMANDS as readonly string[]).includes(name);
}

/** Facts about the device that some commands need before they can be encoded. */
export type ContextNeed = 'player' | 'eqList' | 'presetCount' | 'device' | 'followers';

/** What a command needs to know of the model (from getStatusEx). */
export interface DeviceFacts {
  modelId: ModelId;
  /** the product name, for messages */
  product: string;
  /** the inputs the device has, or null when it does not say */
  inputs: string[] | null;
  /** the product's outputs, or null when the package does not know them */
  outputs: OutputTable | null;
  loopScheme: LoopScheme;
}

export interface CommandContext {
  /** current volume, position and duration (seconds, null for streams), loop */
  player?: { volume: number; muted: boolean; duration: number | null; repeat: Repeat | null; shuffle: boolean | null };
  eqList?: string[];
  presetCount?: number;
  device?: DeviceFacts;
  /** the IPv4 addresses of the followers in the device's group now (getSlaveList) */
  followers?: string[];
}

/** What a command does to the player's state, as wiim-status reports it: the session shows it at once, before the confirming read. */
export interface PlayerEffect {
  volume?: number;
  muted?: boolean;
  repeat?: Repeat;
  shuffle?: boolean;
  source?: string;
  output?: string;
}

export interface BuiltCommand {
  /** the command string, percent-encoded, as it goes after `command=` */
  request: string;
  reply: ReplyKind;
  /**
   * Whether sending it twice leaves the device as sending it once (a read, a
   * set to an absolute value), and so may go again when a kept-alive
   * connection closes under it (DeviceRequest.idempotent); `next`, `toggle`,
   * a relative step, `reboot` or a preset is never sent twice. It holds for
   * `then` and `fallback` too.
   */
  idempotent: boolean;
  /** the value the command sets, for the output */
  applied?: unknown;
  /** what it does to the player's state */
  effect?: PlayerEffect;
  /** further command strings sent in order after `request` (one setSubLPF per field); each is acknowledged */
  then?: Array<{ request: string; reply: ReplyKind }>;
  /** sent instead when the device answers `request` with `unknown command` (EQGetStat on WiiM Pro 4.8) */
  fallback?: { request: string; reply: ReplyKind };
  /** the setting the command needs: an `unknown command` reply means the model lacks it */
  setting?: Setting;
}

export interface PreparedCommand {
  command: WiimCommandName;
  needs: ContextNeed[];
  build(ctx: CommandContext): BuiltCommand;
}

/** An alarm (setAlarmClock, getAlarmClock, alarmStop): set a slot, read it, cancel it, or stop the one ringing. */
export type AlarmArg = { op: 'stop' } | { op: 'get'; n: number } | { op: 'cancel'; n: number } | AlarmSetting;

export interface AlarmSetting {
  op: 'set';
  /** the slot, 0..2 */
  n: number;
  /** 0 cancel, 1 once, 2 daily, 3 weekly (one day), 4 weekly (a day mask), 5 monthly */
  trigger: number;
  /** 0 shell, 1 play `url`, 2 stop playback; default 1 */
  operation?: number;
  /** HHMMSS or HH:MM:SS, UTC; not needed to cancel */
  time?: string;
  /** trigger 1: YYYYMMDD; 3: "00" (Sunday) to "06"; 4: hex mask "01" to "7F"; 5: "01" to "31" */
  day?: string;
  /** what to play; not needed for operation 2 */
  url?: string;
}

/** The typed argument of each command; `undefined` where a command takes none. */
export interface WiimCommandArgs {
  /** a URL to play, or nothing to resume */
  play: string | undefined;
  playlist: { url: string; index: number };
  pause: undefined;
  resume: undefined;
  toggle: undefined;
  stop: undefined;
  next: undefined;
  prev: undefined;
  /** seconds from the start of the track */
  seek: number;
  /** 0..100, or a step clamped into 0..100 */
  volume: number | { step: number };
  mute: boolean | 'toggle';
  /** what is left out stays as the device has it */
  repeat: { repeat?: Repeat; shuffle?: boolean };
  /** "on", "off", "get", "list" or the name of one of the device's EQ presets */
  eq: 'on' | 'off' | 'get' | 'list' | (string & {});
  /** a name of SOURCE_MODES */
  source: string;
  /** 1..the device's preset count */
  preset: number;
  reboot: undefined;
  /** seconds until the device shuts down; 0 now, -1 cancels */
  shutdown: number;
  'shutdown-timer': undefined;
  /** the time to set (sent as UTC), or nothing for now */
  'time-sync': Date | undefined;
  alarm: AlarmArg;
  status: undefined;
  info: undefined;
  meta: undefined;
  presets: undefined;
  'wifi-state': undefined;
  /** the leader's address */
  join: string;
  leave: undefined;
  /** the follower's address */
  kick: string;
  ungroup: undefined;
  group: undefined;
  /** a device command string, sent as typed */
  raw: string;
  /** a name of OUTPUT_NAMES (or `coaxial`), or nothing to read it */
  output: string | undefined;
  /** -1.0 (left) .. 1.0 (right), or nothing to read it */
  balance: number | undefined;
  led: boolean;
  buttons: boolean;
  /** the fields to set (any subset), or nothing to read them */
  sub: SubSetting | undefined;
  /** the 12 V trigger output, or nothing to read it */
  trigger: boolean | undefined;
  /** band values 0..99 (50 is flat) by Hz, or nothing to read them */
  'eq-bands': Partial<Record<EqBandHz, number>> | undefined;
  'group-volume': number;
  'group-mute': boolean;
  'member-volume': { ip: string; volume: number };
  'member-mute': { ip: string; muted: boolean };
  /** a URL played over what plays */
  notify: string;
  firmware: 'check' | 'start' | 'status';
}

export interface SubSetting {
  enabled?: boolean;
  /** Hz, 30..250 */
  crossover?: number;
  /** 0 or 180 */
  phase?: number;
  /** dB, -15..15 */
  level?: number;
  /** ms, -200..200 */
  delay?: number;
}

/** The ten bands of the graphic EQ, in Hz (EQSetBand's band31hz ... band16khz). */
/**
 * The band of a key of an eq-bands object: the band's name exactly as the
 * eq-bands read reports it ("31" ... "16000"). Number() would also take
 * "1e3", " 31" and "0x1F", which are no band names.
 */
export function eqBandOf(key: string): EqBandHz {
  const band = EQ_BANDS.find((hz) => String(hz) === key);
  if (band === undefined) throw argumentError(`eq-bands: ${describeValue(key)} is not a band; the bands are ${EQ_BANDS.join(', ')} Hz`);
  return band;
}

/** A command with its argument. */
export type WiimCommandRequest = { [C in WiimCommandName]: { command: C; arg: WiimCommandArgs[C] } }[WiimCommandName];

/** A command's argument list for positional callers: optional where the command may take nothing. */
export type WiimCommandArgList<C extends WiimCommandName> = undefined extends WiimCommandArgs[C] ? [arg?: WiimCommandArgs[C]] : [arg: WiimCommandArgs[C]];

/** The request of a positional call `(command, arg)`. */
export function wiimRequest<C extends WiimCommandName>(command: C, ...arg: WiimCommandArgList<C>): WiimCommandRequest {
  // TypeScript does not relate C to the union member it picks; the parameter types already did
  return { command, arg: arg[0] } as WiimCommandRequest;
}

// ------------------------------------------------------------------ refusals

/**
 * What is shown of a refused value: a short, typed description. The node edge
 * (src/contract/wiim-values.ts) uses it too, so that its refusals read alike.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Names of the text arguments, as the refusals call them. */
export const TEXT_ARGS = {
  play: 'play URL',
  playlist: 'playlist URL',
  alarmUrl: 'alarm url',
  eq: 'eq',
  source: 'source',
  join: 'join (the leader address)',
  kick: 'kick (the follower address)',
  memberIp: 'the member address (ip)',
  notify: 'notify URL',
  output: 'output',
} as const;

export interface WholeArg {
  what: string;
  min: number;
  max: number;
}

/** The whole-number arguments with fixed ranges (the device's limits). */
export const WHOLE_ARGS = {
  playlistIndex: { what: 'playlist index', min: 0, max: 100_000 },
  preset: { what: 'preset', min: 1, max: 99 },
  shutdown: { what: 'shutdown seconds', min: -1, max: 604_800 },
  alarmN: { what: 'alarm n', min: 0, max: 2 },
  alarmTrigger: { what: 'alarm trigger', min: 0, max: 5 },
  alarmOperation: { what: 'alarm operation', min: 0, max: 2 },
  groupVolume: { what: 'group-volume', min: 0, max: 100 },
  memberVolume: { what: 'member-volume volume', min: 0, max: 100 },
  subCrossover: { what: 'sub crossover (Hz)', min: 30, max: 250 },
  subLevel: { what: 'sub level (dB)', min: -15, max: 15 },
  subDelay: { what: 'sub delay (ms)', min: -200, max: 200 },
  eqBand: { what: 'eq-bands value', min: 0, max: 99 },
} as const satisfies Record<string, WholeArg>;

export const VOLUME_MAX = 100;

/** Refusals worded once, for a typed argument here and a message value at the node edge. */
const TAKES = {
  volume: `volume must be a whole number from 0 to ${VOLUME_MAX} or a step like "+5"/"-5"`,
  seek: 'seek takes a position in seconds (0 or more)',
  repeat: 'repeat takes {repeat: "all"|"one"|"off", shuffle: true|false}',
  raw: 'raw takes a command string',
} as const;

/** "<what the argument takes>, got <value>"; without a value, what it takes alone. */
export function refusal(arg: keyof typeof TAKES, ...value: [unknown?]): DeviceError {
  return argumentError(value.length > 0 ? `${TAKES[arg]}, got ${describeValue(value[0])}` : TAKES[arg]);
}

export function notWholeNumber(arg: WholeArg, value: unknown): DeviceError {
  return argumentError(`${arg.what} must be a whole number from ${arg.min} to ${arg.max}, got ${describeValue(value)}`);
}

export function unknownCommand(name: unknown): DeviceError {
  return argumentError(`unknown command ${describeValue(name)}; known commands: ${WIIM_COMMANDS.join(', ')}`);
}

// ------------------------------------------------------------------ checks

const enc = encodeURIComponent;

/** A command whose request is known from its argument alone, safe to send twice (a read, an absolute value). */
function fixed(command: WiimCommandName, request: string, reply: ReplyKind = 'ack', applied?: unknown, effect?: PlayerEffect): PreparedCommand {
  return { command, needs: [], build: () => ({ request, reply, applied, idempotent: true, ...(effect ? { effect } : {}) }) };
}

/** The same for a command that acts again each time it is sent (`next`, `reboot`): never sent twice. */
function once(command: WiimCommandName, request: string, reply: ReplyKind = 'ack', applied?: unknown): PreparedCommand {
  return { command, needs: [], build: () => ({ request, reply, applied, idempotent: false }) };
}

/** A text argument, trimmed: not empty, no control characters. */
function text(value: string, what: string): string {
  const s = value.trim();
  if (s === '') throw argumentError(`${what} is empty`);
  if (CONTROL_CHARACTERS.test(s)) throw argumentError(`${what} contains control characters`);
  return s;
}

/** A whole number within the argument's range. */
function integer(n: number, arg: WholeArg): number {
  if (!Number.isInteger(n)) throw notWholeNumber(arg, n);
  if (n < arg.min || n > arg.max) throw argumentError(`${arg.what} must be from ${arg.min} to ${arg.max}, got ${n}`);
  return n;
}

/** Hex of the UTF-8 bytes, upper case, as the device writes its hex fields. */
export function toHex(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex').toUpperCase();
}

/** URLs for play/playlist: http(s), the schemes the device documents for streams (never file:, javascript:, data:); no control characters. */
function url(value: string, what: string, maxBytes = 2048): string {
  const s = text(value, what);
  if (!/^https?:\/\//i.test(s)) throw argumentError(`${what} must be a URL (http://..., https://...), got ${describeValue(value)}`);
  if (Buffer.byteLength(s) >= maxBytes) throw argumentError(`${what} must be shorter than ${maxBytes} bytes`);
  return s;
}

/** UTC YYYYMMDDHHMMSS, as timeSync takes it; the device counts years from 2000 to 2099. */
export function utcStamp(d: Date): string {
  if (Number.isNaN(d.getTime())) throw argumentError('time-sync: the date is invalid');
  const y = d.getUTCFullYear();
  if (y < 2000 || y > 2099) throw argumentError(`time-sync: the year must be from 2000 to 2099, got ${y}`);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${y}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** A dotted IPv4 address, each part 0..255 without leading zeros. */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The address of a follower, as getSlaveList lists it: an IPv4 address. The
 * device is asked for the group only after the form passed, and the command
 * is refused when the address is not one of its followers.
 */
function memberCommand(command: 'member-volume' | 'member-mute', ip: string, request: (ip: string) => string, applied: object): PreparedCommand {
  const s = text(ip, TEXT_ARGS.memberIp);
  if (!IPV4.test(s)) throw argumentError(`${TEXT_ARGS.memberIp} must be the IPv4 address of a follower, got ${describeValue(ip)}`);
  return {
    command,
    needs: ['followers'],
    build(ctx) {
      const followers = ctx.followers ?? [];
      if (!followers.includes(s))
        throw argumentError(
          `${command}: ${s} is not a follower in this group (${followers.length > 0 ? `followers: ${followers.join(', ')}` : 'no followers'})`,
        );
      return { request: request(s), reply: 'ack', applied: { ip: s, ...applied }, idempotent: true };
    },
  };
}

/** IPv4 address or host name, as given; nothing the command string cannot carry. */
function address(value: string, what: string): string {
  const s = text(value, what);
  if (!/^[A-Za-z0-9.-]+$/.test(s)) throw argumentError(`${what} must be an IP address or host name, got ${describeValue(value)}`);
  return s;
}

// ------------------------------------------------------------------ commands

function volume(value: WiimCommandArgs['volume']): PreparedCommand {
  if (typeof value === 'object') {
    const step = value.step;
    if (!Number.isInteger(step)) throw argumentError(`a relative volume step must be a whole number, got ${step > 0 ? '+' : ''}${step}`);
    return {
      command: 'volume',
      needs: ['player'],
      build(ctx) {
        const current = ctx.player?.volume;
        if (current === undefined) throw argumentError('a relative volume needs the current volume, which is unknown');
        const v = Math.min(VOLUME_MAX, Math.max(0, current + step));
        return { request: `setPlayerCmd:vol:${v}`, reply: 'ack', applied: v, effect: { volume: v }, idempotent: false };
      },
    };
  }
  if (!Number.isInteger(value)) throw refusal('volume', value);
  if (value < 0 || value > VOLUME_MAX) throw argumentError(`volume must be from 0 to ${VOLUME_MAX}, got ${value}`);
  return fixed('volume', `setPlayerCmd:vol:${value}`, 'ack', value, { volume: value });
}

function mute(value: WiimCommandArgs['mute']): PreparedCommand {
  if (value === 'toggle') {
    return {
      command: 'mute',
      needs: ['player'],
      build(ctx) {
        const muted = ctx.player?.muted;
        if (muted === undefined) throw argumentError('mute "toggle" needs the current mute state, which is unknown');
        return { request: `setPlayerCmd:mute:${muted ? 0 : 1}`, reply: 'ack', applied: !muted, effect: { muted: !muted }, idempotent: false };
      },
    };
  }
  return fixed('mute', `setPlayerCmd:mute:${value ? 1 : 0}`, 'ack', value, { muted: value });
}

function repeat(wanted: WiimCommandArgs['repeat']): PreparedCommand {
  if (wanted.repeat === undefined && wanted.shuffle === undefined) throw refusal('repeat');
  const complete = wanted.repeat !== undefined && wanted.shuffle !== undefined;
  // only shuffle with repeat one differs between the loop schemes: the model decides whether it exists
  const mayNeedScheme = wanted.repeat !== 'all' && wanted.repeat !== 'off' && wanted.shuffle !== false;
  return {
    command: 'repeat',
    needs: [...(complete ? [] : ['player' as const]), ...(mayNeedScheme ? ['device' as const] : [])],
    build(ctx) {
      const r = wanted.repeat ?? ctx.player?.repeat ?? undefined;
      const s = wanted.shuffle ?? ctx.player?.shuffle ?? undefined;
      if (r === undefined || s === undefined) throw argumentError('repeat: the current repeat/shuffle state is unknown; give both');
      const loop = modeToLoop(r, s, ctx.device?.loopScheme);
      if (loop === undefined) throw argumentError(`repeat: ${ctx.device?.product ?? 'this device'} has no loop mode for shuffle with repeat one`);
      return {
        request: `setPlayerCmd:loopmode:${loop}`,
        reply: 'ack',
        applied: { repeat: r, shuffle: s },
        effect: { repeat: r, shuffle: s },
        idempotent: true,
      };
    },
  };
}

/** The furthest seek: positions are whole seconds, and more than this (about 24 days of audio) is no track's. */
export const SEEK_MAX_S = 2_147_483;

function seek(value: number): PreparedCommand {
  if (!Number.isFinite(value) || value < 0) throw refusal('seek', value);
  // never sent in exponent notation ("1e+21"), which no device reads as a number
  if (value > SEEK_MAX_S) throw argumentError(`seek must be from 0 to ${SEEK_MAX_S} s, got ${describeValue(value)}`);
  const s = Math.floor(value);
  return {
    command: 'seek',
    needs: ['player'],
    build(ctx) {
      const d = ctx.player?.duration;
      if (d !== undefined && d !== null && d > 0 && s > d) throw argumentError(`seek: ${s} s is past the end of the track (${d} s)`);
      return { request: `setPlayerCmd:seek:${s}`, reply: 'ack', applied: s, idempotent: true };
    },
  };
}

function eq(value: string): PreparedCommand {
  const s = text(value, TEXT_ARGS.eq);
  const lower = s.toLowerCase();
  if (lower === 'on') return fixed('eq', 'EQOn', 'ack', 'on');
  if (lower === 'off') return fixed('eq', 'EQOff', 'eq-off', 'off');
  if (lower === 'get') {
    // WiiM Pro firmware 4.8 answers EQGetStat with `unknown command`; EQGetBand carries EQStat too
    return {
      command: 'eq',
      needs: [],
      build: () => ({ request: 'EQGetStat', reply: 'eq-stat', fallback: { request: 'EQGetBand', reply: 'eq-stat' }, idempotent: true }),
    };
  }
  if (lower === 'list') return fixed('eq', 'EQGetList', 'eq-list');
  return {
    command: 'eq',
    needs: ['eqList'],
    build(ctx) {
      const list = ctx.eqList ?? [];
      const name = list.find((n) => n === s) ?? list.find((n) => n.toLowerCase() === lower);
      if (!name) throw argumentError(`eq: "${s}" is not an EQ preset of this device (${list.join(', ') || 'no list'})`);
      return { request: `EQLoad:${enc(name)}`, reply: 'ack-lenient', applied: name, idempotent: true };
    },
  };
}

function preset(value: number): PreparedCommand {
  const n = integer(value, WHOLE_ARGS.preset);
  return {
    command: 'preset',
    needs: ['presetCount'],
    build(ctx) {
      const max = ctx.presetCount;
      if (max !== undefined && n > max) throw argumentError(`preset must be from 1 to ${max} on this device, got ${n}`);
      return { request: `MCUKeyShortClick:${n}`, reply: 'ack', applied: n, idempotent: false };
    },
  };
}

/** The day field of setAlarmClock for the trigger; empty for the triggers that take none. */
function alarmDay(trigger: number, value: string | undefined): string {
  const d = value ?? '';
  switch (trigger) {
    case 1: {
      const m = /^(\d{4})(\d\d)(\d\d)$/.exec(d);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 12 || Number(m[3]) < 1 || Number(m[3]) > 31)
        throw argumentError(`alarm day for trigger 1 (once) must be YYYYMMDD, got ${describeValue(value)}`);
      return d;
    }
    case 3:
      if (!/^0[0-6]$/.test(d)) throw argumentError(`alarm day for trigger 3 (weekly) must be "00" (Sunday) to "06" (Saturday), got ${describeValue(value)}`);
      return d;
    case 4:
      if (!/^[0-7][0-9A-Fa-f]$/.test(d) || parseInt(d, 16) === 0)
        throw argumentError(`alarm day for trigger 4 must be a hex bit mask "01" to "7F", got ${describeValue(value)}`);
      return d.toUpperCase();
    case 5:
      if (!/^\d\d$/.test(d) || Number(d) < 1 || Number(d) > 31)
        throw argumentError(`alarm day for trigger 5 (monthly) must be "01" to "31", got ${describeValue(value)}`);
      return d;
    default:
      if (d !== '') throw argumentError('alarm day is only for triggers 1, 3, 4 and 5');
      return '';
  }
}

function alarm(value: AlarmArg): PreparedCommand {
  if (value.op === 'stop') return fixed('alarm', 'alarmStop', 'ack', true);
  const n = integer(value.n, WHOLE_ARGS.alarmN);
  if (value.op === 'get') return fixed('alarm', `getAlarmClock:${n}`, 'alarm');
  if (value.op === 'cancel') return fixed('alarm', `setAlarmClock:${n}:0`, 'ack', { n, trigger: 0 });
  const trigger = integer(value.trigger, WHOLE_ARGS.alarmTrigger);
  if (trigger === 0) return fixed('alarm', `setAlarmClock:${n}:0`, 'ack', { n, trigger: 0 });
  const operation = integer(value.operation ?? 1, WHOLE_ARGS.alarmOperation);
  const time = (value.time ?? '').replace(/:/g, '');
  const t = /^(\d\d)(\d\d)(\d\d)$/.exec(time);
  if (!t || Number(t[1]) > 23 || Number(t[2]) > 59 || Number(t[3]) > 59)
    throw argumentError(`alarm time must be HHMMSS (UTC), got ${describeValue(value.time)}`);
  const day = alarmDay(trigger, value.day);
  let path = '';
  if (value.url !== undefined && value.url !== '') {
    path = text(value.url, TEXT_ARGS.alarmUrl);
    if (Buffer.byteLength(path) >= 256) throw argumentError('alarm url must be shorter than 256 bytes');
  } else if (operation !== 2) {
    throw argumentError('alarm url is needed unless the operation is 2 (stop playback)');
  }
  // time[:day][:url] as the vendor document writes it: no day field at all for the triggers that take none
  const parts = [`setAlarmClock:${n}:${trigger}:${operation}:${time}`];
  if (day) parts.push(day);
  if (path) parts.push(enc(path));
  return fixed('alarm', parts.join(':'), 'ack-lenient', { n, trigger, operation, time, day: day || undefined, url: path || undefined });
}

/** Checks what the argument alone decides, and says what the command needs to know of the device. */
export function prepareCommand(request: WiimCommandRequest): PreparedCommand {
  switch (request.command) {
    case 'play': {
      if (request.arg === undefined) return fixed('play', 'setPlayerCmd:resume', 'ack', true);
      const u = url(request.arg, TEXT_ARGS.play);
      return fixed('play', `setPlayerCmd:play:${enc(u)}`, 'ack', u);
    }
    case 'playlist': {
      const u = url(request.arg.url, TEXT_ARGS.playlist);
      const index = integer(request.arg.index, WHOLE_ARGS.playlistIndex);
      return fixed('playlist', `setPlayerCmd:hex_playlist:${toHex(u)}:${index}`, 'ack', { url: u, index });
    }
    case 'pause':
      return fixed(request.command, 'setPlayerCmd:pause');
    case 'resume':
      return fixed(request.command, 'setPlayerCmd:resume');
    case 'toggle':
      return once(request.command, 'setPlayerCmd:onepause');
    case 'stop':
      return fixed(request.command, 'setPlayerCmd:stop');
    case 'next':
      return once(request.command, 'setPlayerCmd:next');
    case 'prev':
      return once(request.command, 'setPlayerCmd:prev');
    case 'seek':
      return seek(request.arg);
    case 'volume':
      return volume(request.arg);
    case 'mute':
      return mute(request.arg);
    case 'repeat':
      return repeat(request.arg);
    case 'eq':
      return eq(request.arg);
    case 'source': {
      const known = SOURCE_MODES[text(request.arg, TEXT_ARGS.source).toLowerCase()];
      if (!known) throw argumentError(`source must be one of ${Object.keys(SOURCE_MODES).join(', ')}, got ${describeValue(request.arg)}`);
      return {
        command: 'source',
        needs: ['device'],
        build(ctx) {
          const inputs = ctx.device?.inputs;
          if (inputs && !inputs.includes(known.source))
            throw argumentError(`source: ${ctx.device?.product ?? 'this device'} has no ${known.source} input; it has ${inputs.join(', ')}`);
          // applied: the source name the status will report
          return {
            request: `setPlayerCmd:switchmode:${enc(known.mode)}`,
            reply: 'ack-lenient',
            applied: known.source,
            effect: { source: known.source },
            idempotent: true,
          };
        },
      };
    }
    case 'preset':
      return preset(request.arg);
    case 'reboot':
      return once('reboot', 'reboot', 'reboot', true);
    case 'shutdown': {
      const s = integer(request.arg, WHOLE_ARGS.shutdown);
      return once('shutdown', `setShutdown:${s}`, 'ack', s);
    }
    case 'shutdown-timer':
      return fixed(request.command, 'getShutdown', 'shutdown');
    case 'time-sync': {
      const stamp = utcStamp(request.arg ?? new Date());
      return fixed('time-sync', `timeSync:${stamp}`, 'ack-lenient', stamp);
    }
    case 'alarm':
      return alarm(request.arg);
    case 'status':
      return fixed(request.command, 'getPlayerStatus', 'player');
    case 'info':
      return fixed(request.command, 'getStatusEx', 'info');
    case 'meta':
      return fixed(request.command, 'getMetaInfo', 'meta');
    case 'presets':
      return fixed(request.command, 'getPresetInfo', 'presets');
    case 'wifi-state':
      return fixed(request.command, 'wlanGetConnectState', 'wifi');
    case 'join': {
      const leader = address(request.arg, TEXT_ARGS.join);
      return fixed('join', `ConnectMasterAp:JoinGroupMaster:eth${leader}:wifi0.0.0.0`, 'ack', leader);
    }
    case 'leave':
    case 'ungroup':
      return fixed(request.command, 'multiroom:Ungroup');
    case 'kick': {
      const ip = address(request.arg, TEXT_ARGS.kick);
      return fixed('kick', `multiroom:SlaveKickout:${ip}`, 'ack', ip);
    }
    case 'group':
      return fixed(request.command, 'multiroom:getSlaveList', 'slaves');
    case 'raw': {
      const s = request.arg.trim();
      if (s === '') throw refusal('raw', request.arg);
      if (/[&#]/.test(s) || CONTROL_CHARACTERS.test(s)) throw argumentError('raw: a command containing "&", "#" or control characters is refused');
      // what it does is not known: it may act twice
      return once('raw', encodeURI(s), 'raw', s);
    }
    default:
      return prepareSetting(request);
  }
}

type SettingRequest = Extract<
  WiimCommandRequest,
  {
    command:
      | 'output'
      | 'balance'
      | 'led'
      | 'buttons'
      | 'sub'
      | 'trigger'
      | 'eq-bands'
      | 'group-volume'
      | 'group-mute'
      | 'member-volume'
      | 'member-mute'
      | 'notify'
      | 'firmware';
  }
>;

/**
 * A command of a setting that some models lack: refused before sending for a
 * model known to lack it, sent to a model the package does not recognise
 * (whose `unknown command` then becomes the same refusal, in the client).
 */
function gated(command: WiimCommandName, setting: Setting, build: (ctx: CommandContext) => BuiltCommand): PreparedCommand {
  return {
    command,
    needs: ['device'],
    build(ctx) {
      const model = ctx.device?.modelId ?? 'unknown';
      if (hasSetting(model, setting) === false) throw new DeviceError('argument', lacksSettingMessage(setting, ctx.device?.product ?? 'this device'));
      return { ...build(ctx), setting };
    },
  };
}

/** The number of an output on this product; a product without it, or one whose outputs are not known, is refused for names whose number differs by product. */
function outputNumber(name: OutputName, device: DeviceFacts | undefined): number {
  const product = device?.product ?? 'this device';
  const own = device?.outputs;
  const n = (own ?? DOCUMENTED_OUTPUTS)[name];
  if (n !== undefined) return n;
  if (own) throw argumentError(`${product} has no ${name} output; it has ${Object.keys(own).join(', ')}`);
  const documented = Object.keys(DOCUMENTED_OUTPUTS).join(', ');
  throw argumentError(`the number of the ${name} output differs by product, and ${product} is not one the package knows; it takes ${documented}`);
}

/** A number within a range, not necessarily whole. */
function within(n: number, what: string, min: number, max: number): number {
  if (!Number.isFinite(n) || n < min || n > max) throw argumentError(`${what} must be a number from ${min} to ${max}, got ${describeValue(n)}`);
  return n;
}

/** setSubLPF's field names (pywiim api/subwoofer.py): status, cross, phase, level, sub_delay. */
function subRequests(sub: SubSetting): string[] {
  const out: string[] = [];
  if (sub.enabled !== undefined) out.push(`setSubLPF:status:${sub.enabled ? 1 : 0}`);
  if (sub.crossover !== undefined) out.push(`setSubLPF:cross:${integer(sub.crossover, WHOLE_ARGS.subCrossover)}`);
  if (sub.phase !== undefined) {
    if (sub.phase !== 0 && sub.phase !== 180) throw argumentError(`sub phase must be 0 or 180, got ${describeValue(sub.phase)}`);
    out.push(`setSubLPF:phase:${sub.phase}`);
  }
  if (sub.level !== undefined) out.push(`setSubLPF:level:${integer(sub.level, WHOLE_ARGS.subLevel)}`);
  if (sub.delay !== undefined) out.push(`setSubLPF:sub_delay:${integer(sub.delay, WHOLE_ARGS.subDelay)}`);
  if (out.length === 0) throw argumentError('sub takes {enabled, crossover, phase, level, delay}, any of them');
  return out;
}

function eqBandsRequest(bands: Partial<Record<EqBandHz, number>>): string {
  const entries = Object.entries(bands) as Array<[string, number]>;
  if (entries.length === 0) throw argumentError(`eq-bands takes {hz: value} for the bands ${EQ_BANDS.join(', ')}, or 10 values`);
  const list = entries.map(([key, value]) => {
    const hz = eqBandOf(key);
    const index = EQ_BANDS.indexOf(hz);
    const name = hz >= 1000 ? `band${hz / 1000}khz` : `band${hz}hz`;
    return { index, param_name: name, value: integer(value, WHOLE_ARGS.eqBand) };
  });
  list.sort((a, b) => a.index - b.index);
  return `EQSetBand:${enc(JSON.stringify({ EQBand: list }))}`;
}

function prepareSetting(request: SettingRequest): PreparedCommand {
  switch (request.command) {
    case 'output': {
      if (request.arg === undefined) {
        // getActiveSoundCardOutputMode where getNewAudioOutputHardwareMode is not known (community wiim-httpapi OpenAPI)
        const fallback = { request: 'getActiveSoundCardOutputMode', reply: 'active-output' } as const;
        return gated('output', 'output', () => ({ request: 'getNewAudioOutputHardwareMode', reply: 'output', fallback, idempotent: true }));
      }
      const given = text(request.arg, TEXT_ARGS.output).toLowerCase();
      const name = given === 'coaxial' ? 'coax' : given;
      if (!isOutputName(name)) throw argumentError(`output must be one of ${OUTPUT_NAMES.join(', ')}, got ${describeValue(request.arg)}`);
      return gated('output', 'output', (ctx) => {
        const n = outputNumber(name, ctx.device);
        return { request: `setAudioOutputHardwareMode:${n}`, reply: 'ack', applied: name, effect: { output: name }, idempotent: true };
      });
    }
    case 'balance': {
      if (request.arg === undefined) return gated('balance', 'balance', () => ({ request: 'getChannelBalance', reply: 'number', idempotent: true }));
      // two decimals in plain notation: never "1e-7" or "0.30000000000000004" (String(-0) is "0")
      const b = Math.round(within(request.arg, 'balance', -1, 1) * 100) / 100;
      return gated('balance', 'balance', () => ({ request: `setChannelBalance:${b}`, reply: 'ack', applied: b, idempotent: true }));
    }
    case 'led': {
      const on = request.arg ? 1 : 0;
      // Arylic switches its LED through the MCU pass-through (pywiim api/misc.py)
      return gated('led', 'led', (ctx) => ({
        request: ctx.device?.modelId === 'arylic' ? `MCU+PAS+RAKOIT:LED:${on}` : `LED_SWITCH_SET:${on}`,
        reply: 'ack',
        applied: request.arg,
        idempotent: true,
      }));
    }
    case 'buttons':
      return fixed('buttons', `Button_Enable_SET:${request.arg ? 1 : 0}`, 'ack', request.arg);
    case 'sub': {
      if (request.arg === undefined) return gated('sub', 'sub', () => ({ request: 'getSubLPF', reply: 'sub', idempotent: true }));
      const [first, ...rest] = subRequests(request.arg);
      const applied = { ...request.arg };
      return gated('sub', 'sub', () => ({
        request: first,
        reply: 'ack',
        applied,
        then: rest.map((r) => ({ request: r, reply: 'ack' as const })),
        idempotent: true,
      }));
    }
    case 'trigger': {
      if (request.arg === undefined) return gated('trigger', 'trigger', () => ({ request: 'getTriggeroutStatus', reply: 'on-off', idempotent: true }));
      const on = request.arg;
      return gated('trigger', 'trigger', () => ({ request: `setTriggeroutStatus:${on ? 1 : 0}`, reply: 'ack', applied: on, idempotent: true }));
    }
    case 'eq-bands': {
      if (request.arg === undefined) return gated('eq-bands', 'eq-bands', () => ({ request: 'EQGetBand', reply: 'eq-bands', idempotent: true }));
      const r = eqBandsRequest(request.arg);
      const applied = { ...request.arg };
      return gated('eq-bands', 'eq-bands', () => ({ request: r, reply: 'ack', applied, idempotent: true }));
    }
    case 'group-volume': {
      const v = integer(request.arg, WHOLE_ARGS.groupVolume);
      return fixed('group-volume', `setPlayerCmd:slave_vol:${v}`, 'ack', v);
    }
    case 'group-mute':
      return fixed('group-mute', `setPlayerCmd:slave_mute:${request.arg ? 'mute' : 'unmute'}`, 'ack', request.arg);
    case 'member-volume': {
      const v = integer(request.arg.volume, WHOLE_ARGS.memberVolume);
      return memberCommand('member-volume', request.arg.ip, (ip) => `multiroom:SlaveVolume:${ip}:${v}`, { volume: v });
    }
    case 'member-mute':
      return memberCommand('member-mute', request.arg.ip, (ip) => `multiroom:SlaveMute:${ip}:${request.arg.muted ? 1 : 0}`, { muted: request.arg.muted });
    case 'notify': {
      const u = url(request.arg, TEXT_ARGS.notify);
      return once('notify', `setPlayerCmd:playPromptUrl:${enc(u)}`, 'ack', u);
    }
    case 'firmware':
      if (request.arg === 'check') return once('firmware', 'getMvRemoteUpdateStartCheck', 'firmware');
      if (request.arg === 'start') return once('firmware', 'getMvRemoteUpdateStart', 'firmware');
      return {
        command: 'firmware',
        needs: [],
        build: () => ({ request: 'getMvRemoteUpdateStatus', reply: 'firmware', then: [{ request: 'getMvRomBurnPrecent', reply: 'number' }], idempotent: true }),
      };
  }
}

/** prepare + build, for callers that already hold the context. */
export function encodeCommand(request: WiimCommandRequest, ctx: CommandContext = {}): BuiltCommand {
  return prepareCommand(request).build(ctx);
}
