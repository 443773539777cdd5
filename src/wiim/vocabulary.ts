/**
 * The WiiM / LinkPlay words that both directions use: how a reply is read
 * (the kind the encoder names, the reader reads), the loop numbers and their
 * {repeat, shuffle}, the source names and their switchmode strings, the EQ
 * bands. The encoder (commands.ts) and the readers (parse.ts, upnp.ts) import
 * them from here, so that no reader imports the encoder.
 */

import type { LoopScheme } from './models';

/** How the reply of a command is read (see parse.ts). */
export type ReplyKind =
  | 'ack'
  | 'ack-lenient'
  | 'eq-off'
  | 'reboot'
  | 'player'
  | 'info'
  | 'meta'
  | 'presets'
  | 'eq-stat'
  | 'eq-list'
  | 'eq-bands'
  | 'alarm'
  | 'shutdown'
  | 'wifi'
  | 'slaves'
  | 'output'
  | 'active-output'
  | 'number'
  | 'sub'
  | 'on-off'
  | 'firmware'
  | 'raw';

export type Repeat = 'all' | 'one' | 'off';

/** Loop numbers as devices report them: the `loop` table of getPlayerStatus (docs/architecture.md). */
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

/**
 * {repeat, shuffle} → the loop number of the device's scheme. WiiM's scheme
 * has no number for shuffle with repeat one (pywiim api/loop_mode.py: 5 is
 * Arylic's, and WiiM Ultra's from firmware 5.2); undefined there.
 */
export function modeToLoop(repeat: Repeat, shuffle: boolean, scheme: LoopScheme = 'wiim'): number | undefined {
  if (repeat === 'one' && shuffle && scheme === 'wiim') return undefined;
  return (LOOP_MODES.find((l) => l.repeat === repeat && l.shuffle === shuffle) as { loop: number }).loop;
}

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

export const EQ_BANDS = [31, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000] as const;
export type EqBandHz = (typeof EQ_BANDS)[number];
