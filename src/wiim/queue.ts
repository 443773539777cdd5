/**
 * The play queue of a WiiM / LinkPlay device, protocol only: reading it
 * from the vendor PlayQueue service (`BrowseQueue` of `CurrentQueue`, whose
 * `QueueContext` is a `<PlayList>` with `<TrackN><URL/><Metadata/></TrackN>`,
 * the metadata an escaped DIDL-Lite document: pywiim upnp/playqueue.py) or
 * from ContentDirectory `Browse` of `Q:0` (a DIDL-Lite `Result`: pywiim
 * upnp/client.py), and the encoding of `PlayQueueWithIndex`.
 */

import { DeviceError } from '../shared/errors';
import { child, list, parseDidlItems, parseTrackMeta, parseXml, text } from './upnp';

export interface QueueItem {
  /** what queue-play and PlayQueueWithIndex take (1 is the first track) */
  index: number;
  title: string | null;
  artist: string | null;
  album: string | null;
  artwork: string | null;
  /** seconds, null when unknown */
  duration: number | null;
}

/** The queue the firmware plays from (pywiim upnp/playqueue.py CURRENT_QUEUE). */
export const CURRENT_QUEUE = 'CurrentQueue';

function item(index: number, meta: ReturnType<typeof parseTrackMeta>): QueueItem {
  return {
    index,
    title: meta.title ?? null,
    artist: meta.artist ?? null,
    album: meta.album ?? null,
    artwork: meta.artwork ?? null,
    duration: meta.duration ?? null,
  };
}

/** BrowseQueue's QueueContext → the tracks, by their TrackN number; a track without a URL is not one. */
export function parseQueueContext(xml: string): QueueItem[] {
  if (xml.trim() === '') return [];
  const tracks = child(child(parseXml(xml), 'PlayList'), 'Tracks');
  if (!tracks || typeof tracks !== 'object') return [];
  const out: QueueItem[] = [];
  for (const [tag, node] of Object.entries(tracks as Record<string, unknown>)) {
    const m = /^Track(\d+)$/.exec(tag);
    if (!m) continue;
    for (const t of list(node)) {
      if (!(text(child(t, 'URL')) ?? '').trim()) continue;
      let meta: ReturnType<typeof parseTrackMeta> = {};
      try {
        meta = parseTrackMeta(text(child(t, 'Metadata')) ?? '');
      } catch {
        // metadata that cannot be read leaves the track without a title, not the queue without the track
      }
      out.push(item(Number(m[1]), meta));
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

/** ContentDirectory Browse's Result (DIDL-Lite) → the tracks, numbered from 1 in their order. */
export function parseBrowseResult(didl: string): QueueItem[] {
  if (didl.trim() === '') return [];
  return parseDidlItems(didl).map((meta, i) => item(i + 1, meta));
}

/** A queue index the device takes: a whole number from 1. */
export function queueIndex(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new DeviceError('argument', `queue-play takes the index of a track in the queue (1 or more), got ${String(n)}`);
  return n;
}
