import { argumentError } from '../shared/errors';
import {
  describeValue,
  isWiimCommand,
  notWholeNumber,
  refusal,
  TEXT_ARGS,
  unknownCommand,
  WHOLE_ARGS,
  type AlarmArg,
  type Repeat,
  type WholeArg,
  type WiimCommandArgs,
  type WiimCommandRequest,
} from '../wiim/commands';
import { numberOf } from './values';

/**
 * wiim-command's message values as typed command arguments: numeric strings,
 * relative volume steps ("+5"), "on"/"1"/"true", "toggle", objects, epochs
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

function boolOf(value: unknown): boolean | undefined {
  if (value === true || value === 1 || value === '1' || value === 'true' || value === 'on') return true;
  if (value === false || value === 0 || value === '0' || value === 'false' || value === 'off') return false;
  return undefined;
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
  if (value === 'toggle') return value;
  const b = boolOf(value);
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
    const s = boolOf(o.shuffle);
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
