import { EventEmitter } from 'node:events';
import { Bonjour } from 'bonjour-service';
import { SharedResource } from './shared-resource';

/**
 * The one discovery service of the package. A Node-RED runtime holds at most
 * one bonjour-service instance (one UDP socket on 5353), shared by every
 * config node, Discover request and simulator in the process, and destroyed
 * when the last user releases it.
 *
 * Devices are tracked from the raw mDNS records rather than through
 * bonjour-service's Browser: relays push TXT-only updates and change address
 * without a new SRV record, and the Browser reports neither.
 */

/** The parts of a dns-packet record that we read and write. */
export interface MdnsRecord {
  name: string;
  type: string;
  ttl?: number;
  class?: string;
  flush?: boolean;
  data: unknown;
}

export interface MdnsPacket {
  type?: 'query' | 'response';
  questions?: Array<{ name: string; type: string }>;
  answers?: MdnsRecord[];
  additionals?: MdnsRecord[];
}

export interface RemoteInfo {
  address: string;
  port: number;
}

/** The multicast-dns socket inside bonjour-service. */
export interface MdnsSocket extends EventEmitter {
  query(q: { questions: Array<{ name: string; type: string }> }): void;
  respond(res: { answers: MdnsRecord[]; additionals?: MdnsRecord[] }, cb?: (err?: Error) => void): void;
  respond(res: { answers: MdnsRecord[]; additionals?: MdnsRecord[] }, rinfo: RemoteInfo, cb?: (err?: Error) => void): void;
}

const sharedMdns = new SharedResource(
  () => {
    const bonjour = new Bonjour({}, (err: Error) => {
      // bonjour-service throws from its socket by default; a busy or missing
      // multicast route must not take Node-RED down with it.
      socket.emit('warning', err);
    });
    // bonjour-service keeps its socket private; it is the documented
    // multicast-dns instance, which is all we need.
    const socket = (bonjour as unknown as { server: { mdns: MdnsSocket } }).server.mdns;
    socket.on('warning', () => undefined);
    socket.on('error', () => undefined);
    return { bonjour, socket };
  },
  ({ bonjour }) => bonjour.destroy(),
);

export interface MdnsLease {
  readonly socket: MdnsSocket;
  release(): void;
}

/** Takes a share of the runtime's mDNS socket; call release() when done. */
export function acquireMdns(): MdnsLease {
  const lease = sharedMdns.acquire();
  return { socket: lease.value.socket, release: () => lease.release() };
}

/** How many users hold the shared socket (0 when it is closed). Tests read it. */
export function mdnsUsers(): number {
  return sharedMdns.users;
}

/** TXT strings are `key=value`; values may hold `=` (base64), so split at the first one only. */
export function parseTxt(entries: ReadonlyArray<Buffer | string>): Record<string, string> {
  const txt: Record<string, string> = {};
  for (const entry of entries) {
    const text = typeof entry === 'string' ? entry : entry.toString('utf8');
    const eq = text.indexOf('=');
    if (eq <= 0) continue;
    txt[text.slice(0, eq).toLowerCase()] = text.slice(eq + 1);
  }
  return txt;
}

export interface DiscoveredService {
  /** instance name, e.g. `eWeLink_1000abcdef` */
  name: string;
  /** full name, e.g. `eWeLink_1000abcdef._ewelink._tcp.local` */
  fqdn: string;
  /** SRV target host name */
  host?: string;
  port?: number;
  /** IPv4 address from an A record, else the packet's source address */
  address?: string;
  txt: Record<string, string>;
}

export interface ServiceWatcherEvents {
  up: [DiscoveredService];
  update: [DiscoveredService, { txt: boolean; address: boolean }];
  down: [DiscoveredService];
}

/**
 * Follows every instance of one service type (`_ewelink._tcp`,
 * `_linkplay._tcp`) seen on the shared socket. Emits `up` when an instance
 * is complete (SRV and TXT known), `update` when its TXT or address changes,
 * `down` on a goodbye (TTL 0).
 */
export class ServiceWatcher extends EventEmitter<ServiceWatcherEvents> {
  readonly serviceType: string;
  private readonly lease: MdnsLease;
  private readonly instances = new Map<string, DiscoveredService & { announced: boolean }>();
  private readonly onResponse = (packet: MdnsPacket, rinfo: RemoteInfo) => this.handle(packet, rinfo);
  private closed = false;

  /** @param serviceType e.g. `_ewelink._tcp` */
  constructor(serviceType: string) {
    super();
    this.serviceType = `${serviceType}.local`;
    this.lease = acquireMdns();
    this.lease.socket.on('response', this.onResponse);
    this.query();
  }

  get services(): DiscoveredService[] {
    return [...this.instances.values()].filter((s) => s.announced).map(strip);
  }

  /** Asks the network for every instance of the type. */
  query(): void {
    if (this.closed) return;
    this.lease.socket.query({ questions: [{ name: this.serviceType, type: 'PTR' }] });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lease.socket.removeListener('response', this.onResponse);
    this.lease.release();
    this.removeAllListeners();
  }

  private handle(packet: MdnsPacket, rinfo: RemoteInfo): void {
    const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
    const suffix = `.${this.serviceType}`.toLowerCase();
    const touched = new Map<string, { txt: boolean; address: boolean }>();
    const hostAddresses = new Map<string, string>();
    for (const rr of records) {
      if (rr.type === 'A' && typeof rr.data === 'string') hostAddresses.set(rr.name.toLowerCase(), rr.data);
    }

    for (const rr of records) {
      if (rr.type === 'PTR' && rr.name.toLowerCase() === this.serviceType.toLowerCase() && typeof rr.data === 'string') {
        if (rr.ttl === 0) this.remove(rr.data);
        else this.instance(rr.data, touched);
        continue;
      }
      if (!rr.name.toLowerCase().endsWith(suffix)) continue;
      if (rr.ttl === 0 && (rr.type === 'SRV' || rr.type === 'TXT')) {
        this.remove(rr.name);
        continue;
      }
      const inst = this.instance(rr.name, touched);
      const change = touched.get(inst.fqdn.toLowerCase()) as { txt: boolean; address: boolean };
      if (rr.type === 'SRV') {
        const srv = rr.data as { target: string; port: number };
        if (inst.host !== srv.target || inst.port !== srv.port) change.address = true;
        inst.host = srv.target;
        inst.port = srv.port;
      } else if (rr.type === 'TXT') {
        const txt = parseTxt(Array.isArray(rr.data) ? (rr.data as Buffer[]) : [rr.data as Buffer]);
        if (!sameTxt(inst.txt, txt)) change.txt = true;
        inst.txt = txt;
      }
    }

    for (const [key, change] of touched) {
      const inst = this.instances.get(key);
      if (!inst) continue;
      // Loopback addresses are left out of A records, so the packet's source
      // address stands in when the record carries none.
      const address = (inst.host && hostAddresses.get(inst.host.toLowerCase())) ?? (inst.address && !change.address ? inst.address : rinfo.address);
      if (address !== inst.address) {
        change.address = true;
        inst.address = address;
      }
      if (inst.port === undefined || Object.keys(inst.txt).length === 0) continue;
      if (!inst.announced) {
        inst.announced = true;
        this.emit('up', strip(inst));
      } else if (change.txt || change.address) {
        this.emit('update', strip(inst), change);
      }
    }
  }

  private instance(fqdn: string, touched: Map<string, { txt: boolean; address: boolean }>): DiscoveredService & { announced: boolean } {
    const key = fqdn.toLowerCase();
    let inst = this.instances.get(key);
    if (!inst) {
      inst = { name: fqdn.slice(0, fqdn.length - this.serviceType.length - 1), fqdn, txt: {}, announced: false };
      this.instances.set(key, inst);
    }
    if (!touched.has(key)) touched.set(key, { txt: false, address: false });
    return inst;
  }

  private remove(fqdn: string): void {
    const key = fqdn.toLowerCase();
    const inst = this.instances.get(key);
    if (!inst) return;
    this.instances.delete(key);
    if (inst.announced) this.emit('down', strip(inst));
  }
}

function strip(inst: DiscoveredService & { announced?: boolean }): DiscoveredService {
  const { announced: _announced, ...rest } = inst;
  return { ...rest, txt: { ...rest.txt } };
}

/** True when two TXT records hold the same keys and values. */
export function sameTxt(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * A time-boxed look for devices, for the editor's Discover buttons: opens a
 * watcher, asks twice, and closes it when the time is up.
 */
export function discoverOnce(serviceType: string, timeoutMs: number): Promise<DiscoveredService[]> {
  return new Promise((resolve) => {
    const watcher = new ServiceWatcher(serviceType);
    const again = setTimeout(() => watcher.query(), Math.min(500, timeoutMs / 2));
    setTimeout(() => {
      clearTimeout(again);
      const found = watcher.services;
      watcher.close();
      resolve(found);
    }, timeoutMs);
  });
}
