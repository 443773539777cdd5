import { argumentError } from '../shared/errors';
import { optionalNumberSetting } from '../shared/settings';

/**
 * The wiim-command commands: validation of their arguments and their
 * encoding into the device's command string (the part after `command=`).
 *
 * Encoding happens in two steps. `prepareCommand` checks everything that the
 * argument alone decides (types, fixed ranges, forbidden characters) and says
 * which facts about the device the command needs; `build` then checks what
 * those facts decide (relative volume, EQ preset name, preset count, seek
 * within the track) and returns the command string. Whatever either step
 * refuses is never sent.
 */
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
] as const;

export type WiimCommandName = (typeof WIIM_COMMANDS)[number];

export function isWiimCommand(name: unknown): name is WiimCommandName {
  return typeof name === 'string' && (WIIM_COMMANDS as readonly string[]).includes(name);
}

/** How the reply of a command is read (see parse.ts). */
export type ReplyKind = 'ack' | 'reboot' | 'player' | 'info' | 'meta' | 'presets' | 'eq-stat' | 'eq-list' | 'alarm' | 'shutdown' | 'wifi' | 'slaves' | 'raw';

export type Repeat = 'all' | 'one' | 'off';

/** Loop numbers as devices report them (DESIGN: the getter table of the spec). */
export const LOOP_MODES: ReadonlyArray<{ loop: number; repeat: Repeat; shuffle: boolean }> = [
  { loop: 0, repeat: 'all', shuffle: false },
  { loop: 1, repeat: 'one', shuffle: false },
  { loop: 2, repeat: 'all', shuffle: true },
  { loop: 3, repeat: 'off', shuffle: true },
  { loop: 4, repeat: 'off', shuffle: false },
  { loop: 5, repeat: 'one', shuffle: true },
];

export function loopToMode(loop: number): { repeat: Repeat; shuffle: boolean } | undefined {
  const m = LOOP_MODES.find((l) => l.loop === loop);
  return m ? { repeat: m.repeat, shuffle: m.shuffle } : undefined;
}

export function modeToLoop(repeat: Repeat, shuffle: boolean): number {
  return (LOOP_MODES.find((l) => l.repeat === repeat && l.shuffle === shuffle) as { loop: number }).loop;
}

/** `source` names accepted by the command, and what setPlayerCmd:switchmode takes. */
/**
 * `source` names a user may give: the mode string switchmode takes, and the
 * name wiim-status reports for that input once the device has switched.
 */
export const SOURCE_MODES: Readonly<Record<string, { mode: string; source: string }>> = {
  'line-in': { mode: 'line-in', source: 'line-in' },
  aux: { mode: 'line-in', source: 'line-in' },
  'line-in2': { mode: 'line-in2', source: 'line-in2' },
  bluetooth: { mode: 'bluetooth', source: 'bluetooth' },
  bt: { mode: 'bluetooth', source: 'bluetooth' },
  optical: { mode: 'optical', source: 'optical' },
  coaxial: { mode: 'co-axial', source: 'coaxial' },
  'co-axial': { mode: 'co-axial', source: 'coaxial' },
  udisk: { mode: 'udisk', source: 'usb' },
  usb: { mode: 'udisk', source: 'usb' },
  wifi: { mode: 'wifi', source: 'wifi' },
  hdmi: { mode: 'HDMI', source: 'hdmi' },
  'usb-dac': { mode: 'PCUSB', source: 'usb-dac' },
};

/** Facts about the device that some commands need before they can be encoded. */
export type ContextNeed = 'player' | 'eqList' | 'presetCount';

export interface CommandContext {
  /** current volume, position and duration (seconds, null for streams), loop */
  player?: { volume: number; muted: boolean; duration: number | null; repeat: Repeat; shuffle: boolean };
  eqList?: string[];
  presetCount?: number;
}

export interface BuiltCommand {
  /** the command string, percent-encoded, as it goes after `command=` */
  request: string;
  reply: ReplyKind;
  /** the value the command sets, for the output and the session's state */
  applied?: unknown;
}

export interface PreparedCommand {
  command: WiimCommandName;
  needs: ContextNeed[];
  build(ctx: CommandContext): BuiltCommand;
}

const enc = encodeURIComponent;

/** Control characters (C0, DEL, C1) never go to a device. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function fixed(command: WiimCommandName, request: string, reply: ReplyKind = 'ack', applied?: unknown): PreparedCommand {
  return { command, needs: [], build: () => ({ request, reply, applied }) };
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw argumentError(`${what} must be a string, got ${describe(value)}`);
  const s = String(value).trim();
  if (s === '') throw argumentError(`${what} is empty`);
  if (CONTROL.test(s)) throw argumentError(`${what} contains control characters`);
  return s;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

/** A finite number from a number or a numeric string; undefined otherwise. */
function integer(value: unknown, what: string, min: number, max: number): number {
  const n = optionalNumberSetting(value);
  if (n === undefined || !Number.isInteger(n)) throw argumentError(`${what} must be a whole number from ${min} to ${max}, got ${describe(value)}`);
  if (n < min || n > max) throw argumentError(`${what} must be from ${min} to ${max}, got ${n}`);
  return n;
}

function bool(value: unknown): boolean | undefined {
  if (value === true || value === 1 || value === '1' || value === 'true' || value === 'on') return true;
  if (value === false || value === 0 || value === '0' || value === 'false' || value === 'off') return false;
  return undefined;
}

function object(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) ? (value as Record<string, unknown>) : undefined;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** Hex of the UTF-8 bytes, upper case, as the device writes its hex fields. */
export function toHex(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex').toUpperCase();
}

/** URLs for play/playlist/alarm: any scheme the device may play, no control characters. */
function url(value: unknown, what: string, maxBytes = 2048): string {
  const s = text(value, what);
  if (!/^[a-z][a-z0-9+.-]*:/i.test(s)) throw argumentError(`${what} must be a URL (http://..., https://...), got ${describe(value)}`);
  if (Buffer.byteLength(s) >= maxBytes) throw argumentError(`${what} must be shorter than ${maxBytes} bytes`);
  return s;
}

/** UTC YYYYMMDDHHMMSS from a Date, an ISO string, an epoch (s or ms) or nothing (now). */
export function utcStamp(value: unknown, now: () => Date = () => new Date()): string {
  let d: Date;
  if (isEmpty(value)) d = now();
  else if (value instanceof Date) d = value;
  else if (typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()))) {
    const n = Number(value);
    // epochs below 1e11 are seconds (1e11 s is the year 5138), above are ms
    d = new Date(n < 1e11 ? n * 1000 : n);
  } else if (typeof value === 'string') d = new Date(value.trim());
  else throw argumentError(`time-sync takes a Date, an ISO date string, an epoch or nothing, got ${describe(value)}`);
  if (Number.isNaN(d.getTime())) throw argumentError(`time-sync: ${describe(value)} is not a date`);
  const y = d.getUTCFullYear();
  if (y < 2000 || y > 2099) throw argumentError(`time-sync: the year must be from 2000 to 2099, got ${y}`);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${y}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** IPv4 address or host name, as given; nothing the command string cannot carry. */
function address(value: unknown, what: string): string {
  const s = text(value, what);
  if (!/^[A-Za-z0-9.-]+$/.test(s)) throw argumentError(`${what} must be an IP address or host name, got ${describe(value)}`);
  return s;
}

function volume(value: unknown): PreparedCommand {
  if (typeof value === 'string' && /^\s*[+-]\s*\d+(\.\d+)?\s*$/.test(value)) {
    const step = Number(value.replace(/\s/g, ''));
    if (!Number.isInteger(step)) throw argumentError(`a relative volume step must be a whole number, got "${value}"`);
    return {
      command: 'volume',
      needs: ['player'],
      build(ctx) {
        const current = ctx.player?.volume;
        if (current === undefined) throw argumentError('a relative volume needs the current volume, which is unknown');
        const v = Math.min(100, Math.max(0, current + step));
        return { request: `setPlayerCmd:vol:${v}`, reply: 'ack', applied: v };
      },
    };
  }
  const n = optionalNumberSetting(value);
  if (n === undefined || !Number.isInteger(n))
    throw argumentError(`volume must be a whole number from 0 to 100 or a step like "+5"/"-5", got ${describe(value)}`);
  if (n < 0 || n > 100) throw argumentError(`volume must be from 0 to 100, got ${n}`);
  return fixed('volume', `setPlayerCmd:vol:${n}`, 'ack', n);
}

function mute(value: unknown): PreparedCommand {
  if (value === 'toggle') {
    return {
      command: 'mute',
      needs: ['player'],
      build(ctx) {
        const muted = ctx.player?.muted;
        if (muted === undefined) throw argumentError('mute "toggle" needs the current mute state, which is unknown');
        return { request: `setPlayerCmd:mute:${muted ? 0 : 1}`, reply: 'ack', applied: !muted };
      },
    };
  }
  const b = bool(value);
  if (b === undefined) throw argumentError(`mute takes true, false or "toggle", got ${describe(value)}`);
  return fixed('mute', `setPlayerCmd:mute:${b ? 1 : 0}`, 'ack', b);
}

function repeat(value: unknown): PreparedCommand {
  let wanted: { repeat?: Repeat; shuffle?: boolean };
  const o = object(value);
  const checkRepeat = (r: unknown): Repeat => {
    if (r === 'all' || r === 'one' || r === 'off') return r;
    throw argumentError(`repeat must be "all", "one" or "off", got ${describe(r)}`);
  };
  if (o) {
    wanted = {};
    if (o.repeat !== undefined) wanted.repeat = checkRepeat(o.repeat);
    if (o.shuffle !== undefined) {
      const s = bool(o.shuffle);
      if (s === undefined) throw argumentError(`shuffle must be true or false, got ${describe(o.shuffle)}`);
      wanted.shuffle = s;
    }
    if (wanted.repeat === undefined && wanted.shuffle === undefined) throw argumentError('repeat takes {repeat: "all"|"one"|"off", shuffle: true|false}');
  } else if (typeof value === 'string') {
    wanted = { repeat: checkRepeat(value.trim()) };
  } else {
    throw argumentError(`repeat takes {repeat: "all"|"one"|"off", shuffle: true|false}, got ${describe(value)}`);
  }
  const complete = wanted.repeat !== undefined && wanted.shuffle !== undefined;
  return {
    command: 'repeat',
    needs: complete ? [] : ['player'],
    build(ctx) {
      const r = wanted.repeat ?? ctx.player?.repeat;
      const s = wanted.shuffle ?? ctx.player?.shuffle;
      if (r === undefined || s === undefined) throw argumentError('repeat: the current repeat/shuffle state is unknown; give both');
      return { request: `setPlayerCmd:loopmode:${modeToLoop(r, s)}`, reply: 'ack', applied: { repeat: r, shuffle: s } };
    },
  };
}

function seek(value: unknown): PreparedCommand {
  const n = optionalNumberSetting(value);
  if (n === undefined || n < 0) throw argumentError(`seek takes a position in seconds (0 or more), got ${describe(value)}`);
  const s = Math.floor(n);
  return {
    command: 'seek',
    needs: ['player'],
    build(ctx) {
      const d = ctx.player?.duration;
      if (d !== undefined && d !== null && d > 0 && s > d) throw argumentError(`seek: ${s} s is past the end of the track (${d} s)`);
      return { request: `setPlayerCmd:seek:${s}`, reply: 'ack', applied: s };
    },
  };
}

function eq(value: unknown): PreparedCommand {
  const s = text(value, 'eq');
  const lower = s.toLowerCase();
  if (lower === 'on') return fixed('eq', 'EQOn', 'ack', 'on');
  if (lower === 'off') return fixed('eq', 'EQOff', 'ack', 'off');
  if (lower === 'get') return fixed('eq', 'EQGetStat', 'eq-stat');
  if (lower === 'list') return fixed('eq', 'EQGetList', 'eq-list');
  return {
    command: 'eq',
    needs: ['eqList'],
    build(ctx) {
      const list = ctx.eqList ?? [];
      const name = list.find((n) => n === s) ?? list.find((n) => n.toLowerCase() === lower);
      if (!name) throw argumentError(`eq: "${s}" is not an EQ preset of this device (${list.join(', ') || 'no list'})`);
      return { request: `EQLoad:${enc(name)}`, reply: 'ack', applied: name };
    },
  };
}

function alarm(value: unknown): PreparedCommand {
  const o = object(value);
  if (!o) throw argumentError('alarm takes {op: "set"|"get"|"stop", n, ...}');
  const op = o.op ?? o.action ?? 'set';
  if (op === 'stop') return fixed('alarm', 'alarmStop', 'ack', true);
  const n = integer(o.n ?? o.alarm, 'alarm n', 0, 2);
  if (op === 'get') return fixed('alarm', `getAlarmClock:${n}`, 'alarm');
  if (op === 'cancel') return fixed('alarm', `setAlarmClock:${n}:0`, 'ack', { n, trigger: 0 });
  if (op !== 'set') throw argumentError(`alarm op must be "set", "get", "cancel" or "stop", got ${describe(op)}`);
  const trigger = integer(o.trigger, 'alarm trigger', 0, 5);
  if (trigger === 0) return fixed('alarm', `setAlarmClock:${n}:0`, 'ack', { n, trigger: 0 });
  const operation = integer(o.operation ?? 1, 'alarm operation', 0, 2);
  const time = String(o.time ?? '').replace(/:/g, '');
  const t = /^(\d\d)(\d\d)(\d\d)$/.exec(time);
  if (!t || Number(t[1]) > 23 || Number(t[2]) > 59 || Number(t[3]) > 59) throw argumentError(`alarm time must be HHMMSS (UTC), got ${describe(o.time)}`);
  let day = '';
  const d = o.day === undefined || o.day === null ? '' : String(o.day);
  switch (trigger) {
    case 1: {
      const m = /^(\d{4})(\d\d)(\d\d)$/.exec(d);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 12 || Number(m[3]) < 1 || Number(m[3]) > 31)
        throw argumentError(`alarm day for trigger 1 (once) must be YYYYMMDD, got ${describe(o.day)}`);
      day = d;
      break;
    }
    case 3:
      if (!/^0[0-6]$/.test(d)) throw argumentError(`alarm day for trigger 3 (weekly) must be "00" (Sunday) to "06" (Saturday), got ${describe(o.day)}`);
      day = d;
      break;
    case 4:
      if (!/^[0-7][0-9A-Fa-f]$/.test(d) || parseInt(d, 16) === 0)
        throw argumentError(`alarm day for trigger 4 must be a hex bit mask "01" to "7F", got ${describe(o.day)}`);
      day = d.toUpperCase();
      break;
    case 5:
      if (!/^\d\d$/.test(d) || Number(d) < 1 || Number(d) > 31)
        throw argumentError(`alarm day for trigger 5 (monthly) must be "01" to "31", got ${describe(o.day)}`);
      day = d;
      break;
    default:
      if (d !== '') throw argumentError('alarm day is only for triggers 1, 3, 4 and 5');
  }
  let path = '';
  if (o.url !== undefined && o.url !== '') {
    const u = text(o.url, 'alarm url');
    if (Buffer.byteLength(u) >= 256) throw argumentError('alarm url must be shorter than 256 bytes');
    path = u;
  } else if (operation !== 2) {
    throw argumentError('alarm url is needed unless the operation is 2 (stop playback)');
  }
  const parts = [`setAlarmClock:${n}:${trigger}:${operation}:${time}`];
  if (day) parts.push(day);
  else if (path) parts.push('');
  if (path) parts.push(enc(path));
  return fixed('alarm', parts.join(':'), 'ack', { n, trigger, operation, time, day: day || undefined, url: path || undefined });
}

/** Normalises wiim-command's arguments and checks what the argument alone decides. */
export function prepareCommand(command: string, value: unknown): PreparedCommand {
  if (!isWiimCommand(command)) throw argumentError(`unknown command ${describe(command)}; known commands: ${WIIM_COMMANDS.join(', ')}`);
  switch (command) {
    case 'play': {
      if (isEmpty(value)) return fixed('play', 'setPlayerCmd:resume', 'ack', true);
      const o = object(value);
      const u = url(o ? o.url : value, 'play URL');
      return fixed('play', `setPlayerCmd:play:${enc(u)}`, 'ack', u);
    }
    case 'playlist': {
      const o = object(value) ?? { url: value };
      const u = url(o.url, 'playlist URL');
      const index = o.index === undefined || o.index === '' ? 0 : integer(o.index, 'playlist index', 0, 100000);
      return fixed('playlist', `setPlayerCmd:hex_playlist:${toHex(u)}:${index}`, 'ack', { url: u, index });
    }
    case 'pause':
      return fixed(command, 'setPlayerCmd:pause');
    case 'resume':
      return fixed(command, 'setPlayerCmd:resume');
    case 'toggle':
      return fixed(command, 'setPlayerCmd:onepause');
    case 'stop':
      return fixed(command, 'setPlayerCmd:stop');
    case 'next':
      return fixed(command, 'setPlayerCmd:next');
    case 'prev':
      return fixed(command, 'setPlayerCmd:prev');
    case 'seek':
      return seek(value);
    case 'volume':
      return volume(value);
    case 'mute':
      return mute(value);
    case 'repeat':
      return repeat(value);
    case 'eq':
      return eq(value);
    case 'source': {
      const s = text(value, 'source').toLowerCase();
      const known = SOURCE_MODES[s];
      if (!known) throw argumentError(`source must be one of ${Object.keys(SOURCE_MODES).join(', ')}, got ${describe(value)}`);
      // applied: the source name the status will report
      return fixed('source', `setPlayerCmd:switchmode:${enc(known.mode)}`, 'ack', known.source);
    }
    case 'preset': {
      const n = integer(value, 'preset', 1, 99);
      return {
        command: 'preset',
        needs: ['presetCount'],
        build(ctx) {
          const max = ctx.presetCount;
          if (max !== undefined && n > max) throw argumentError(`preset must be from 1 to ${max} on this device, got ${n}`);
          return { request: `MCUKeyShortClick:${n}`, reply: 'ack', applied: n };
        },
      };
    }
    case 'reboot':
      return fixed('reboot', 'reboot', 'reboot', true);
    case 'shutdown': {
      const s = integer(value, 'shutdown seconds', -1, 604800);
      return fixed('shutdown', `setShutdown:${s}`, 'ack', s);
    }
    case 'shutdown-timer':
      return fixed(command, 'getShutdown', 'shutdown');
    case 'time-sync': {
      const stamp = utcStamp(value);
      return fixed('time-sync', `timeSync:${stamp}`, 'ack', stamp);
    }
    case 'alarm':
      return alarm(value);
    case 'status':
      return fixed(command, 'getPlayerStatus', 'player');
    case 'info':
      return fixed(command, 'getStatusEx', 'info');
    case 'meta':
      return fixed(command, 'getMetaInfo', 'meta');
    case 'presets':
      return fixed(command, 'getPresetInfo', 'presets');
    case 'wifi-state':
      return fixed(command, 'wlanGetConnectState', 'wifi');
    case 'join': {
      const leader = address(value, 'join (the leader address)');
      return fixed('join', `ConnectMasterAp:JoinGroupMaster:eth${leader}:wifi0.0.0.0`, 'ack', leader);
    }
    case 'leave':
    case 'ungroup':
      return fixed(command, 'multiroom:Ungroup');
    case 'kick': {
      const ip = address(value, 'kick (the follower address)');
      return fixed('kick', `multiroom:SlaveKickout:${ip}`, 'ack', ip);
    }
    case 'group':
      return fixed(command, 'multiroom:getSlaveList', 'slaves');
    case 'raw': {
      const s = typeof value === 'string' ? value.trim() : '';
      if (s === '') throw argumentError(`raw takes a command string, got ${describe(value)}`);
      // eslint-disable-next-line no-control-regex
      if (/[&#\u0000-\u001f\u007f-\u009f]/.test(s)) throw argumentError('raw: a command containing "&", "#" or control characters is refused');
      return fixed('raw', encodeURI(s), 'raw', s);
    }
  }
}

/** prepare + build, for callers that already hold the context. */
export function encodeCommand(command: string, value: unknown, ctx: CommandContext = {}): BuiltCommand {
  return prepareCommand(command, value).build(ctx);
}
