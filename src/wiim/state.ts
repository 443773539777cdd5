/**
 * A WiiM's state: the one type of what wiim-status reports. A poll of
 * getPlayerStatus reads the player (WiimPlayerStatus); getMetaInfo and UPnP
 * events add the stream's format; any part may come alone (an event carries
 * one or two fields: WiimStatePatch); the session adds `online`.
 */

import type { Repeat } from './vocabulary';

export type PlayState = 'playing' | 'paused' | 'stopped' | 'loading';
export type GroupRole = 'solo' | 'leader' | 'follower';

/** The normalised player state: the fields of wiim-status without `online`. */
export interface WiimPlayerStatus {
  state: PlayState;
  volume: number;
  muted: boolean;
  source: string;
  /** null where no loop mode applies (vTuner radio reports loop -1) */
  repeat: Repeat | null;
  shuffle: boolean | null;
  /** seconds */
  position: number;
  /** seconds; null for a stream without an end */
  duration: number | null;
  trackIndex: number;
  trackCount: number;
  title: string | null;
  artist: string | null;
  album: string | null;
  artwork: string | null;
  /** the EQ preset number the player reports (0 = flat / off) */
  eq: number;
  group: GroupRole;
  /** the output in use (getNewAudioOutputHardwareMode), read on the slow tier */
  output?: string | null;
  /** the loaded EQ preset's name (EQGetBand's Name), read on the slow tier and after an EQ command */
  eqPreset?: string | null;
}

/** The state wiim-status emits: the player's fields as far as known, the stream's format where reported, and `online`. */
export interface WiimState extends Partial<WiimPlayerStatus> {
  sampleRate?: number | null;
  bitDepth?: number | null;
  bitRate?: number | null;
  online: boolean;
}

/** Any part of the state, as an event or a read brings it (some events carry only one or two fields). */
export type WiimStatePatch = Partial<Omit<WiimState, 'online'>>;
