/**
 * The play queue of wiim-command (`queue`, `queue-play`): UPnP control
 * actions through the device's request queue, so that they never run beside
 * another request to the device. The control URLs are read from the
 * description once per session, and again after a failure.
 */

import { DeviceError } from '../shared/errors';
import { CURRENT_QUEUE, parseBrowseResult, parseQueueContext, queueIndex, type QueueItem } from '../wiim/queue';
import { UPNP_INVALID_ACTION, fetchControlUrls, soapAction, type ControlUrls } from '../wiim/upnp-control';
import type { WiimSession } from './wiim-session';

export interface QueueReading {
  items: QueueItem[];
  /** the service the queue came from (msg.wiim.source) */
  source: 'upnp-playqueue' | 'upnp-contentdirectory';
}

const controls = new WeakMap<WiimSession, Promise<ControlUrls>>();

/** The device's control URLs (cached per session; a failed read is tried again next time). */
export function controlUrls(session: WiimSession, descriptionUrl: string): Promise<ControlUrls> {
  let urls = controls.get(session);
  if (!urls) {
    urls = session.queue.run(() => fetchControlUrls(descriptionUrl, session.client.timeoutMs));
    controls.set(session, urls);
    urls.catch(() => controls.delete(session));
  }
  return urls;
}

/** One control action through the device's queue. */
export function control(session: WiimSession, url: string, service: Parameters<typeof soapAction>[1], action: string, args: Parameters<typeof soapAction>[3]) {
  return session.queue.run(() => soapAction(url, service, action, args, session.client.timeoutMs));
}

/** An action the service does not have (UPnP 401), or a service that fails it as absent. */
const lacks = (err: unknown) => err instanceof DeviceError && err.kind === 'device' && (err.code === UPNP_INVALID_ACTION || err.code === 404);

function noQueue(session: WiimSession, why: string): DeviceError {
  return new DeviceError(
    'device',
    `${session.name} has no play queue that can be read: it offers neither the UPnP PlayQueue service (BrowseQueue) nor ContentDirectory (Browse of Q:0)${why ? ` (${why})` : ''}`,
  );
}

/** The current queue: PlayQueue BrowseQueue of CurrentQueue where the device has it, else ContentDirectory Browse of Q:0. */
export async function readQueue(session: WiimSession, descriptionUrl: string): Promise<QueueReading> {
  let urls: ControlUrls;
  try {
    urls = await controlUrls(session, descriptionUrl);
  } catch (err) {
    throw noQueue(session, `its UPnP description could not be read: ${(err as Error).message}`);
  }
  if (urls.playQueue) {
    try {
      const out = await control(session, urls.playQueue, 'playQueue', 'BrowseQueue', [['QueueName', CURRENT_QUEUE]]);
      return { items: parseQueueContext(out.QueueContext ?? ''), source: 'upnp-playqueue' };
    } catch (err) {
      if (!lacks(err)) throw err;
    }
  }
  if (urls.contentDirectory) {
    const out = await control(session, urls.contentDirectory, 'contentDirectory', 'Browse', [
      ['ObjectID', 'Q:0'],
      ['BrowseFlag', 'BrowseDirectChildren'],
      ['Filter', '*'],
      ['StartingIndex', 0],
      ['RequestedCount', 0],
      ['SortCriteria', ''],
    ]);
    return { items: parseBrowseResult(out.Result ?? ''), source: 'upnp-contentdirectory' };
  }
  throw noQueue(session, '');
}

/** Plays the track at `index` of the current queue (PlayQueue PlayQueueWithIndex). */
export async function playQueueIndex(session: WiimSession, descriptionUrl: string, index: number): Promise<number> {
  const n = queueIndex(index);
  let urls: ControlUrls;
  try {
    urls = await controlUrls(session, descriptionUrl);
  } catch (err) {
    throw noQueue(session, `its UPnP description could not be read: ${(err as Error).message}`);
  }
  const refused = () => new DeviceError('device', `${session.name} cannot play a queue index: it has no UPnP PlayQueue service with PlayQueueWithIndex`);
  if (!urls.playQueue) throw refused();
  try {
    await control(session, urls.playQueue, 'playQueue', 'PlayQueueWithIndex', [
      ['QueueName', CURRENT_QUEUE],
      ['Index', n],
    ]);
  } catch (err) {
    if (lacks(err)) throw refused();
    throw err;
  }
  return n;
}
