import { DeviceError } from '../shared/errors';
import { isWiimCommand, WIIM_COMMANDS } from '../wiim/commands';

/** The node's fixed value: text as typed, JSON objects parsed ({"repeat":"all","shuffle":true}). */
function settingValue(value: string): unknown {
  const t = value.trim();
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return t;
    }
  }
  return t;
}

/** Resolves the command and its argument per the message contract; throws when there is none. */
export function resolveCommand(fixed: string, fixedValue: string, msg: { topic?: unknown; payload?: unknown }): { command: string; value: unknown } {
  const payload = msg.payload;
  if (fixed !== '') {
    if (fixedValue.trim() !== '') return { command: fixed, value: settingValue(fixedValue) };
    // an inject's timestamp into a fixed `play` means "play", not "play this URL"
    if (fixed === 'play' && typeof payload !== 'string' && (payload === null || typeof payload !== 'object')) return { command: fixed, value: undefined };
    return { command: fixed, value: payload };
  }
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload) && typeof (payload as { command?: unknown }).command === 'string') {
    const p = payload as { command: string; value?: unknown };
    return { command: p.command.trim(), value: p.value };
  }
  const topic = typeof msg.topic === 'string' ? msg.topic.trim() : '';
  if (isWiimCommand(topic)) return { command: topic, value: payload };
  if (typeof payload === 'string' && isWiimCommand(payload.trim())) return { command: payload.trim(), value: undefined };
  const what = typeof payload === 'string' ? `"${payload.slice(0, 40)}"` : typeof payload;
  throw new DeviceError(
    'argument',
    `no command in the message: set msg.topic to a command, or msg.payload to a command name or {command, value} (got topic "${topic}", payload ${what}); commands: ${WIIM_COMMANDS.join(', ')}`,
  );
}
