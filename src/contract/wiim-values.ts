import { argumentError } from '../shared/errors';
import {
  describeValue,
  isWiimCommand,
  notWholeNumber,
  refusal,
  TEXT_ARGS,
  unknownCommand,
  WHOLE_ARGS,
  eqBandOf,
  type AlarmArg,
  type SubSetting,
  type WholeArg,
  type WiimCommandArgs,
  type WiimCommandRequest,
} from '../wiim/commands';
import { EQ_BANDS, type EqBandHz, type Repeat } from '../wiim/vocabulary';
import { numberOf, onOffWord } from './values';

/**
 * wiim-command's message values as typed command arguments: numeric strings,
 * relative volume steps ("+5"), on/off words as the SONOFF nodes read them, "toggle", objects, epochs
 * and ISO dates. A value that cannot be read as the argument is refused here;
 * the checks of the argument itself (ranges, characters, what the device
 * knows) are the protocol's (src/wiim/commands.ts).
 */

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) ? (value as Record<string, unknown>) : undefined;
}

/** Text from a string or a number. */
function textOf(value: unknown, what: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw argumentError(`${what} must be a string, got ${describeValue(value)}`);
  return String(value);
}

/** A number for a whole-number argument; the protocol checks that it is whole and in range. */
function wholeOf(value: unknown, arg: WholeArg): number {
  const n = numberOf(value);
  if (n === undefined) throw notWholeNumber(arg, value);
  return n;
}

/** A relative step: a sign, then a number ("+5", "- 5"). */
const STEP = /^\s*[+-]\s*\d+(\.\d+)?\s*$/;

function volumeOf(value: unknown): WiimCommandArgs['volume'] {
  if (typeof value === 'string' && STEP.test(value)) return { step: Number(value.replace(/\s/g, '')) };
  const n = numberOf(value);
  if (n === undefined) throw refusal('volume', value);
  return n;
}

function muteOf(value: unknown): WiimCommandArgs['mute'] {
  if (typeof value === 'string' && value.trim().toLowerCase() === 'toggle') return 'toggle';
  const b = onOffWord(value);
  if (b === undefined) throw argumentError(`mute takes true, false or "toggle", got ${describeValue(value)}`);
  return b;
}

function repeatModeOf(value: unknown): Repeat {
  if (value === 'all' || value === 'one' || value === 'off') return value;
  throw argumentError(`repeat must be "all", "one" or "off", got ${describeValue(value)}`);
}

/** {repeat, shuffle}, either may be left out, or a bare repeat mode. */
function repeatOf(value: unknown): WiimCommandArgs['repeat'] {
  const o = objectOf(value);
  if (typeof value === 'string') return { repeat: repeatModeOf(value.trim()) };
  if (!o) throw refusal('repeat', value);
  const wanted: WiimCommandArgs['repeat'] = {};
  if (o.repeat !== undefined) wanted.repeat = repeatModeOf(o.repeat);
  if (o.shuffle !== undefined) {
    const s = onOffWord(o.shuffle);
    if (s === undefined) throw argumentError(`shuffle must be true or false, got ${describeValue(o.shuffle)}`);
    wanted.shuffle = s;
  }
  return wanted;
}

/** A Date, an ISO date string, an epoch in s or ms (number or digits), or nothing for now. */
function dateOf(value: unknown): Date | undefined {
  if (isEmpty(value)) return undefined;
  let d: Date;
  if (value instanceof Date) d = value;
  else if (typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()))) {
    const n = Number(value);
    // epochs below 1e11 are seconds (1e11 s is the year 5138), above are ms
    d = new Date(n < 1e11 ? n * 1000 : n);
  } else if (typeof value === 'string') d = new Date(value.trim());
  else throw argumentError(`time-sync takes a Date, an ISO date string, an epoch or nothing, got ${describeValue(value)}`);
  if (Number.isNaN(d.getTime())) throw argumentError(`time-sync: ${describeValue(value)} is not a date`);
  return d;
}

function optional<T>(value: unknown, read: (v: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : read(value);
}

/** {op: "set"|"get"|"cancel"|"stop" (or `action`), n (or `alarm`), trigger, operation, time, day, url}; op defaults to "set". */
function alarmOf(value: unknown): AlarmArg {
  const o = objectOf(value);
  if (!o) throw argumentError('alarm takes {op: "set"|"get"|"stop", n, ...}');
  const op = o.op ?? o.action ?? 'set';
  if (op === 'stop') return { op };
  const n = wholeOf(o.n ?? o.alarm, WHOLE_ARGS.alarmN);
  if (op === 'get' || op === 'cancel') return { op, n };
  if (op !== 'set') throw argumentError(`alarm op must be "set", "get", "cancel" or "stop", got ${describeValue(op)}`);
  return {
    op,
    n,
    trigger: wholeOf(o.trigger, WHOLE_ARGS.alarmTrigger),
    operation: optional(o.operation, (v) => wholeOf(v, WHOLE_ARGS.alarmOperation)),
    time: optional(o.time, String),
    day: optional(o.day, String),
    url: o.url === '' ? undefined : optional(o.url, (v) => textOf(v, TEXT_ARGS.alarmUrl)),
  };
}

/** on/off, true/false, 1/0 for a setting that must be given. */
function requiredBool(value: unknown, what: string): boolean {
  const b = onOffWord(value);
  if (b === undefined) throw argumentError(`${what} takes on or off (true/false), got ${describeValue(value)}`);
  return b;
}

/** A number of a setting, or nothing to read the setting. */
function optionalNumber(value: unknown, what: string): number | undefined {
  if (isEmpty(value)) return undefined;
  const n = numberOf(value);
  if (n === undefined) throw argumentError(`${what} must be a number, got ${describeValue(value)}`);
  return n;
}

const SUB_FIELDS = ['enabled', 'crossover', 'phase', 'level', 'delay'] as const;

/** {enabled, crossover, phase, level, delay}, any subset; nothing reads the settings. */
function subOf(value: unknown): SubSetting | undefined {
  if (isEmpty(value)) return undefined;
  const o = objectOf(value);
  if (!o) throw argumentError(`sub takes {${SUB_FIELDS.join(', ')}}, any of them, got ${describeValue(value)}`);
  const extra = Object.keys(o).filter((k) => !(SUB_FIELDS as readonly string[]).includes(k));
  if (extra.length > 0) throw argumentError(`sub: unknown field ${extra.join(', ')}; the fields are ${SUB_FIELDS.join(', ')}`);
  const sub: SubSetting = {};
  if (o.enabled !== undefined) sub.enabled = requiredBool(o.enabled, 'sub enabled');
  for (const f of ['crossover', 'phase', 'level', 'delay'] as const) if (o[f] !== undefined) sub[f] = optionalNumber(o[f], `sub ${f}`) ?? Number.NaN;
  return sub;
}

/** {31: 60, ...} by Hz, or an array of 10 values; nothing reads the bands. */
function eqBandsOf(value: unknown): Partial<Record<EqBandHz, number>> | undefined {
  if (isEmpty(value)) return undefined;
  const out: Partial<Record<EqBandHz, number>> = {};
  if (Array.isArray(value)) {
    if (value.length !== EQ_BANDS.length) throw argumentError(`eq-bands takes an array of ${EQ_BANDS.length} values, got ${value.length}`);
    value.forEach((v, i) => (out[EQ_BANDS[i]] = optionalNumber(v, 'eq-bands value') ?? Number.NaN));
    return out;
  }
  const o = objectOf(value);
  if (!o) throw argumentError(`eq-bands takes {hz: value} for the bands ${EQ_BANDS.join(', ')}, or 10 values, got ${describeValue(value)}`);
  for (const [hz, v] of Object.entries(o)) out[eqBandOf(hz)] = optionalNumber(v, `eq-bands ${hz} Hz`) ?? Number.NaN;
  return out;
}

/** {ip, <field>} of a member command. */
function memberOf(value: unknown, what: string): { ip: string; o: Record<string, unknown> } {
  const o = objectOf(value);
  if (!o) throw argumentError(`${what} takes {ip, ...}, got ${describeValue(value)}`);
  return { ip: textOf(o.ip, TEXT_ARGS.memberIp), o };
}

/** The typed request for a command name and a message value; an unknown name is refused with the list of commands. */
export function commandRequest(command: string, value: unknown): WiimCommandRequest {
  if (!isWiimCommand(command)) throw unknownCommand(command);
  switch (command) {
    case 'play': {
      if (isEmpty(value)) return { command, arg: undefined };
      const o = objectOf(value);
      return { command, arg: textOf(o ? o.url : value, TEXT_ARGS.play) };
    }
    case 'playlist': {
      const o = objectOf(value) ?? { url: value };
      const index = o.index === undefined || o.index === '' ? 0 : wholeOf(o.index, WHOLE_ARGS.playlistIndex);
      return { command, arg: { url: textOf(o.url, TEXT_ARGS.playlist), index } };
    }
    case 'seek': {
      const n = numberOf(value);
      if (n === undefined) throw refusal('seek', value);
      return { command, arg: n };
    }
    case 'volume':
      return { command, arg: volumeOf(value) };
    case 'mute':
      return { command, arg: muteOf(value) };
    case 'repeat':
      return { command, arg: repeatOf(value) };
    case 'eq':
    case 'source':
    case 'join':
    case 'kick':
      return { command, arg: textOf(value, TEXT_ARGS[command]) };
    case 'preset':
      return { command, arg: wholeOf(value, WHOLE_ARGS.preset) };
    case 'shutdown':
      return { command, arg: wholeOf(value, WHOLE_ARGS.shutdown) };
    case 'time-sync':
      return { command, arg: dateOf(value) };
    case 'alarm':
      return { command, arg: alarmOf(value) };
    case 'raw':
      if (typeof value !== 'string') throw refusal('raw', value);
      return { command, arg: value };
    case 'output':
      return { command, arg: isEmpty(value) ? undefined : textOf(value, TEXT_ARGS.output) };
    case 'balance':
      return { command, arg: optionalNumber(value, 'balance') };
    case 'led':
    case 'buttons':
    case 'group-mute':
      return { command, arg: requiredBool(value, command) };
    case 'trigger':
      return { command, arg: isEmpty(value) ? undefined : requiredBool(value, command) };
    case 'sub':
      return { command, arg: subOf(value) };
    case 'eq-bands':
      return { command, arg: eqBandsOf(value) };
    case 'group-volume':
      return { command, arg: wholeOf(value, WHOLE_ARGS.groupVolume) };
    case 'member-volume': {
      const { ip, o } = memberOf(value, command);
      return { command, arg: { ip, volume: wholeOf(o.volume, WHOLE_ARGS.memberVolume) } };
    }
    case 'member-mute': {
      const { ip, o } = memberOf(value, command);
      return { command, arg: { ip, muted: requiredBool(o.muted, 'member-mute muted') } };
    }
    case 'notify': {
      const o = objectOf(value);
      return { command, arg: textOf(o ? o.url : value, TEXT_ARGS.notify) };
    }
    case 'firmware': {
      const v = isEmpty(value) ? 'status' : value;
      if (v !== 'check' && v !== 'start' && v !== 'status') throw argumentError(`firmware takes "check", "start" or "status", got ${describeValue(value)}`);
      return { command, arg: v };
    }
    case 'pause':
    case 'resume':
    case 'toggle':
    case 'stop':
    case 'next':
    case 'prev':
    case 'reboot':
    case 'shutdown-timer':
    case 'status':
    case 'info':
    case 'meta':
    case 'presets':
    case 'wifi-state':
    case 'leave':
    case 'ungroup':
    case 'group':
      // these take no argument; whatever the message carries is not one
      return { command, arg: undefined };
  }
}
