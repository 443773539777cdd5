import { ServiceWatcher, discoverOnce, type DiscoveredService } from '../shared/mdns';
import { SharedResource } from '../shared/shared-resource';
import { parseTxtState, type SonoffState } from './codec';

/** SONOFF DIY devices announce `_ewelink._tcp`. */
export const EWELINK_SERVICE = '_ewelink._tcp';

export interface DiscoveredSonoff {
  deviceid: string;
  /** mDNS instance name, e.g. eWeLink_1000abcdef */
  name: string;
  /** TXT `type`: diy_plug, diylight, ... (not a reliable family hint) */
  type: string;
  host: string;
  port: number;
  seq?: number;
  encrypted: boolean;
  state?: SonoffState;
}

/** The deviceid of a service: TXT `id`, else the instance name's suffix. */
export function deviceidOf(s: DiscoveredService): string {
  if (s.txt.id) return s.txt.id;
  const m = /^ewelink_(.+)$/i.exec(s.name);
  return m ? m[1] : s.name;
}

export function toDiscoveredSonoff(s: DiscoveredService): DiscoveredSonoff | undefined {
  const host = s.address ?? s.host;
  if (!host || s.port === undefined) return undefined;
  const t = parseTxtState(s.txt);
  const out: DiscoveredSonoff = { deviceid: deviceidOf(s), name: s.name, type: t.type ?? '', host, port: s.port, encrypted: t.encrypted };
  if (t.seq !== undefined) out.seq = t.seq;
  if (t.state) out.state = t.state;
  return out;
}

/** A time-boxed look for DIY relays (the editor's Discover button); leaves nothing open. */
export async function discoverSonoff(timeoutMs: number): Promise<DiscoveredSonoff[]> {
  const found = await discoverOnce(EWELINK_SERVICE, Math.max(100, timeoutMs));
  const out: DiscoveredSonoff[] = [];
  for (const s of found) {
    const d = toDiscoveredSonoff(s);
    if (d && !out.some((o) => o.deviceid === d.deviceid)) out.push(d);
  }
  return out.sort((a, b) => a.deviceid.localeCompare(b.deviceid));
}

const sharedWatcher = new SharedResource(
  () => {
    const watcher = new ServiceWatcher(EWELINK_SERVICE);
    // many sessions listen on the one watcher
    watcher.setMaxListeners(0);
    return watcher;
  },
  (watcher) => watcher.close(),
);

export interface WatcherLease {
  readonly watcher: ServiceWatcher;
  release(): void;
}

/**
 * The live `_ewelink._tcp` watcher that sessions share: one per runtime,
 * opened by the first session that needs mDNS, closed when the last one
 * leaves.
 */
export function acquireSonoffWatcher(): WatcherLease {
  const lease = sharedWatcher.acquire();
  return { watcher: lease.value, release: lease.release };
}

/** Sessions holding the shared watcher (0 when it is closed). Tests read it. */
export function sonoffWatcherUsers(): number {
  return sharedWatcher.users;
}
