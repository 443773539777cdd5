import { ServiceWatcher, discoverOnce, type DiscoveredService } from '../shared/mdns';
import { SharedResource, type Lease } from '../shared/shared-resource';
import { type SonoffState } from './state';
import { parseTxtState } from './txt';

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

/** What a session hears of its own device on the shared watcher. */
export interface SonoffRecordListener {
  /** a record appeared, or its TXT or address changed */
  service(s: DiscoveredService): void;
  /** the record was withdrawn (goodbye) */
  withdrawn(s: DiscoveredService): void;
}

/**
 * The shared watcher and, per deviceid, the sessions that follow it: a
 * record is handed to its own device's listeners only, so that a push costs
 * the same with one relay or a few hundred. An array per deviceid, not a
 * Set: each device has one listener, and a Set's hash table costs more.
 */
interface Router {
  watcher: ServiceWatcher;
  byId: Map<string, SonoffRecordListener[]>;
}

const sharedWatcher = new SharedResource<Router>(
  () => {
    const router: Router = { watcher: new ServiceWatcher(EWELINK_SERVICE), byId: new Map() };
    const route = (s: DiscoveredService, down: boolean) => {
      const listeners = router.byId.get(deviceidOf(s));
      if (!listeners) return;
      for (const l of [...listeners]) {
        if (down) l.withdrawn(s);
        else l.service(s);
      }
    };
    router.watcher.on('up', (s) => route(s, false));
    router.watcher.on('update', (s) => route(s, false));
    router.watcher.on('down', (s) => route(s, true));
    return router;
  },
  (router) => router.watcher.close(),
);

export interface WatcherLease {
  readonly watcher: ServiceWatcher;
  /** Hands `listener` the records of `deviceid`, those known now first. */
  follow(deviceid: string, listener: SonoffRecordListener): void;
  /** Stops following and gives the lease back. */
  release(): void;
}

/** One session's lease: a class rather than closures, as every relay holds one while it runs. */
class Following implements WatcherLease {
  private deviceid: string | undefined;
  private listener: SonoffRecordListener | undefined;

  constructor(private readonly lease: Lease<Router>) {}

  get watcher(): ServiceWatcher {
    return this.lease.value.watcher;
  }

  follow(deviceid: string, listener: SonoffRecordListener): void {
    const { byId, watcher } = this.lease.value;
    const list = byId.get(deviceid);
    if (list) list.push(listener);
    else byId.set(deviceid, [listener]);
    this.deviceid = deviceid;
    this.listener = listener;
    for (const s of watcher.services) if (deviceidOf(s) === deviceid) listener.service(s);
  }

  release(): void {
    if (this.deviceid !== undefined) {
      const { byId } = this.lease.value;
      const list = byId.get(this.deviceid);
      const i = list ? list.indexOf(this.listener as SonoffRecordListener) : -1;
      if (list && i >= 0) list.splice(i, 1);
      if (list?.length === 0) byId.delete(this.deviceid);
      this.deviceid = undefined;
      this.listener = undefined;
    }
    this.lease.release();
  }
}

/**
 * The live `_ewelink._tcp` watcher that sessions share: one per runtime,
 * opened by the first session that needs mDNS, closed when the last one
 * leaves.
 */
export function acquireSonoffWatcher(): WatcherLease {
  return new Following(sharedWatcher.acquire());
}

/** Sessions holding the shared watcher (0 when it is closed). Tests read it. */
export function sonoffWatcherUsers(): number {
  return sharedWatcher.users;
}
