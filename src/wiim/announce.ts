/**
 * Announcements on a WiiM / LinkPlay device, the pure parts: the audio
 * types a served file may have, which way an announcement plays over each
 * source, and what brings the music back after it.
 *
 * Sources: pywiim player/source_capabilities.py
 * (NATIVE_NOTIFICATION_PROMPT_SOURCES: the sources where the firmware's
 * playPromptUrl lowers the music and brings it back) and its ADR 012 (the
 * prompt path is source- and firmware-dependent and does not promise
 * resume); mjcumming/wiim issues #174, #124 and #238 (music that never
 * comes back after Spotify, BBC radio, YouTube Music, Plex, TuneIn) and its
 * TTS guide (a follower that plays a URL leaves its group; plain HTTP by
 * IP, MP3, play the announcement on the leader).
 */

import { argumentError } from '../shared/errors';
import { CONTROL_CHARACTERS } from '../shared/text';
import { describeValue as describeValueOf, prepareCommand, type PreparedCommand } from './commands';
import { modeToSource } from './parse';

/** The largest file or Buffer served as an announcement: 10 MiB. */
export const MAX_ANNOUNCE_BYTES = 10 * 1024 * 1024;
/** The default bound on an announcement, in seconds. */
export const DEFAULT_ANNOUNCE_TIMEOUT_S = 120;
/** An announcement that is not playing this long after it was sent has failed (it could not be fetched). */
export const START_DEADLINE_MS = 10_000;
/** The status poll while waiting for an announcement's end without events. */
export const END_POLL_MS = 500;

export type AnnounceMode = 'prompt' | 'interrupt' | 'auto';
export const ANNOUNCE_MODES: readonly AnnounceMode[] = ['prompt', 'interrupt', 'auto'];

export type AudioType = 'mp3' | 'wav' | 'aac' | 'flac' | 'ogg';

export const AUDIO_CONTENT_TYPES: Readonly<Record<AudioType, string>> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  aac: 'audio/aac',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
};

/**
 * The audio type from the first bytes: an ID3 tag or an MPEG audio frame
 * sync of layers I-III (MP3), RIFF...WAVE (WAV), an ADTS sync with layer 0
 * or ADIF (AAC), fLaC (FLAC), OggS (OGG). Anything else is undefined.
 */
export function sniffAudio(body: Buffer): AudioType | undefined {
  const ascii = (from: number, to: number) => body.subarray(from, to).toString('latin1');
  if (body.length < 4) return undefined;
  if (ascii(0, 4) === 'fLaC') return 'flac';
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (ascii(0, 4) === 'ADIF') return 'aac';
  if (body.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav';
  if (ascii(0, 3) === 'ID3') return 'mp3';
  if (body[0] === 0xff) {
    // ADTS: 12 sync bits, then MPEG version, then layer 00
    if ((body[1] & 0xf6) === 0xf0) return 'aac';
    // MPEG audio: 11 sync bits, a version that is not reserved (01), a layer that is not reserved (00)
    if ((body[1] & 0xe0) === 0xe0 && (body[1] & 0x18) !== 0x08 && (body[1] & 0x06) !== 0) return 'mp3';
  }
  return undefined;
}

/** Checks a served body: not empty, at most MAX_ANNOUNCE_BYTES, and audio of a known type. */
export function checkAudio(body: Buffer, what: string): AudioType {
  if (body.length === 0) throw argumentError(`${what} is empty`);
  if (body.length > MAX_ANNOUNCE_BYTES) throw tooLargeAudio(body.length, what);
  const type = sniffAudio(body);
  if (!type) throw argumentError(`${what} is not audio of a type the device plays (MP3, WAV, AAC, FLAC or OGG, read from its first bytes)`);
  return type;
}

export function tooLargeAudio(bytes: number | undefined, what: string): ReturnType<typeof argumentError> {
  const size = bytes === undefined ? `more than ${MAX_ANNOUNCE_BYTES}` : String(bytes);
  return argumentError(`${what} is ${size} bytes; an announcement may be at most ${MAX_ANNOUNCE_BYTES} bytes (10 MiB)`);
}

/** What an announcement is, once its message value is read. */
export interface AnnounceRequest {
  source: { url: string } | { file: string } | { buffer: Buffer };
  /** the announcement's volume, 0..100; the device's own when left out */
  volume?: number;
  mode: AnnounceMode;
  /** seconds */
  timeoutS: number;
}

/** Checks what the request alone decides (mode, volume, timeout, the URL's scheme). */
export function checkAnnounce(request: AnnounceRequest): AnnounceRequest {
  if (!ANNOUNCE_MODES.includes(request.mode))
    throw argumentError(`announce mode must be "prompt", "interrupt" or "auto", got ${describeValueOf(request.mode)}`);
  const v = request.volume;
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 100))
    throw argumentError(`announce volume must be a whole number from 0 to 100, got ${describeValueOf(v)}`);
  const t = request.timeoutS;
  if (!Number.isFinite(t) || t <= 0 || t > 3600) throw argumentError(`announce timeout must be a number of seconds from 1 to 3600, got ${describeValueOf(t)}`);
  if ('url' in request.source) {
    const u = request.source.url.trim();
    if (!/^https?:\/\/[^\s/]/i.test(u) || CONTROL_CHARACTERS.test(u))
      throw argumentError(`announce url must be an http: or https: URL, got ${describeValueOf(request.source.url)}`);
    if (Buffer.byteLength(u) >= 2048) throw argumentError('announce url must be shorter than 2048 bytes');
  }
  if (request.mode === 'prompt' && v !== undefined)
    throw argumentError('announce volume does not apply to mode "prompt": the firmware sets the prompt\'s level; use mode "interrupt" or "auto"');
  return request;
}

/** How the player's source is brought back after an interrupting announcement. */
export type SourceFamily =
  /** a physical input: switched back with switchmode, whatever its play state */
  | 'input'
  /** controlled by a phone or the cloud: cannot be resumed through the API */
  | 'cloud'
  /** a URL stream, radio, preset, playlist or USB: played again where it played */
  | 'stream'
  /** nothing loaded */
  | 'idle'
  /** a follower's (never announced on: the leader plays) or a mode no source names */
  | 'other';

/** The inputs by getPlayerStatus mode, as `source` (wiim-command) names them (python-linkplay consts.py PlayingMode). */
export const INPUT_MODES: Readonly<Record<number, string>> = {
  40: 'line-in',
  41: 'bluetooth',
  43: 'optical',
  45: 'coaxial',
  47: 'line-in2',
  49: 'hdmi',
  51: 'usb-dac',
};

/** Sources that only the phone or the cloud controls: AirPlay (1), DLNA push (2), Spotify Connect (31), TIDAL Connect (32), Qobuz Connect (36). */
const CLOUD_MODES = new Set([1, 2, 3, 31, 32, 36]);

export function sourceFamily(mode: number): SourceFamily {
  if (INPUT_MODES[mode] !== undefined) return 'input';
  if (CLOUD_MODES.has(mode)) return 'cloud';
  if (mode >= 10 && mode <= 20) return 'stream';
  if (mode === -1 || mode === 0) return 'idle';
  return 'other';
}

/**
 * Modes 10-20 (network, USB, SD, radio, presets, playlists and URLs played
 * through the API) are where playPromptUrl lowers the music and brings it
 * back: pywiim's NATIVE_NOTIFICATION_PROMPT_SOURCES (wifi, network, http,
 * usb, udisk, tunein, radio, preset, playlist, ...).
 */
export function promptCapable(mode: number): boolean {
  return mode >= 10 && mode <= 20;
}

/** The player as recorded before the first announcement of a run. */
export interface RecordedPlayer {
  state: 'playing' | 'paused' | 'stopped' | 'loading';
  mode: number;
  volume: number;
  muted: boolean;
  /** seconds; null for a stream */
  position: number | null;
  duration: number | null;
  repeat: 'all' | 'one' | 'off' | null;
  shuffle: boolean | null;
  /** the URL being played (UPnP CurrentURI / TrackURI, or the last one this package played) */
  url?: string;
  /** the preset this package started, when that is what plays */
  preset?: number;
}

/** `prompt` or `interrupt` for one announcement against the recorded player (`auto` decides). */
export function chooseMethod(mode: AnnounceMode, player: RecordedPlayer, volumeGiven: boolean): 'prompt' | 'interrupt' {
  if (mode !== 'auto') return mode;
  return !volumeGiven && player.state === 'playing' && promptCapable(player.mode) ? 'prompt' : 'interrupt';
}

/**
 * The request that plays the announcement: playPromptUrl, or play with its
 * URL. Sent again it acts again (the clip starts over, a served file is
 * fetched twice), so it never goes again after a dropped connection, though
 * `play` with a URL is otherwise an absolute state (DeviceRequest.idempotent).
 * The restore's steps keep their own marking: volume, mute, switchmode, seek,
 * loop mode and the stream's play set a state; a preset press acts again.
 */
export function announcementCommand(method: 'prompt' | 'interrupt', url: string): PreparedCommand {
  const prepared = prepareCommand(method === 'prompt' ? { command: 'notify', arg: url } : { command: 'play', arg: url });
  return { ...prepared, build: (ctx) => ({ ...prepared.build(ctx), idempotent: false }) };
}

/** One step of the restore, in the order sent; each is a wiim-command command and its argument. */
export type RestoreStep =
  | { command: 'volume'; arg: number }
  | { command: 'mute'; arg: boolean }
  | { command: 'source'; arg: string }
  | { command: 'play'; arg: string }
  | { command: 'preset'; arg: number }
  | { command: 'seek'; arg: number }
  | { command: 'repeat'; arg: { repeat: 'all' | 'one' | 'off'; shuffle: boolean } };

export interface RestorePlan {
  steps: RestoreStep[];
  /** true: the music plays again; false: it cannot (see reason); null: nothing was playing */
  resumed: boolean | null;
  reason?: string;
}

/**
 * What brings the player back after an interrupting announcement: volume
 * and mute always (first, so that the music never comes back at the
 * announcement's level); an input switched back whatever its state (an
 * input cannot be paused); a URL stream, radio or preset that was playing
 * played again, at its position where the track has a length; nothing
 * played for what was paused, stopped or idle; and for what the phone or
 * the cloud controls, only volume and input, with the reason.
 */
export function restorePlan(p: RecordedPlayer): RestorePlan {
  const steps: RestoreStep[] = [
    { command: 'volume', arg: p.volume },
    { command: 'mute', arg: p.muted },
  ];
  const family = sourceFamily(p.mode);
  const playing = p.state === 'playing' || p.state === 'loading';
  if (family === 'input') {
    steps.push({ command: 'source', arg: INPUT_MODES[p.mode] });
    return { steps, resumed: true };
  }
  if (!playing) return { steps, resumed: null };
  if (family === 'cloud') {
    return {
      steps,
      resumed: false,
      reason: `${modeToSource(p.mode)} is controlled by the phone or the cloud and cannot be resumed through the device's API; press play in its app`,
    };
  }
  if (family === 'stream' && p.preset !== undefined) {
    // a service URL expires: the preset is started again rather than its URL
    steps.push({ command: 'preset', arg: p.preset });
    return { steps, resumed: true };
  }
  if (family === 'stream' && p.url) {
    steps.push({ command: 'play', arg: p.url });
    if (p.duration !== null && p.duration > 0 && p.position !== null && p.position > 0) steps.push({ command: 'seek', arg: Math.floor(p.position) });
    if (p.repeat !== null && p.shuffle !== null && p.repeat !== 'off') steps.push({ command: 'repeat', arg: { repeat: p.repeat, shuffle: p.shuffle } });
    return { steps, resumed: true };
  }
  return {
    steps,
    resumed: false,
    reason: `the URL that ${modeToSource(p.mode)} played is not known (the device has no UPnP and this package did not start it)`,
  };
}

/** The leader's address from a follower's getStatusEx (`master_ip`, as pywiim reads it); undefined when there is none. */
export function leaderAddress(statusEx: Record<string, unknown>): string | undefined {
  const ip = statusEx.master_ip ?? statusEx.masterIp;
  if (typeof ip !== 'string') return undefined;
  const v = ip.trim();
  return v === '' || v === '0.0.0.0' ? undefined : v;
}
