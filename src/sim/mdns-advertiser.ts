/**
 * The device side of DNS-SD for the simulators: answers queries for one
 * service instance, announces it on demand (a state change), and says
 * goodbye (TTL 0) when stopped. Used only when a simulator is asked to
 * advertise, so that no fake device appears on a real network by default.
 */

import { acquireMdns, type MdnsLease, type MdnsPacket, type MdnsRecord } from '../shared/mdns';

export interface AdvertisedInstance {
  /** e.g. `_ewelink._tcp.local` */
  service: string;
  /** e.g. `eWeLink_1000abcdef` */
  instance: string;
  host: string;
  port: number;
  txt: string[];
}

export class MdnsAdvertiser {
  private lease: MdnsLease | undefined;
  /** while paused (device offline) it neither answers nor announces */
  paused = false;
  private readonly onQuery = (packet: MdnsPacket) => this.answer(packet);

  constructor(private readonly describe: () => AdvertisedInstance) {}

  start(): void {
    if (this.lease) return;
    this.lease = acquireMdns();
    this.lease.socket.on('query', this.onQuery);
    this.announce();
  }

  /** Multicasts the current records (after every change of state or address). */
  announce(): void {
    if (!this.lease || this.paused) return;
    this.lease.socket.respond({ answers: this.records(120) });
  }

  /** Withdraws the records (goodbye, unless `goodbye` is false: a host that just goes quiet) and gives the socket back. */
  async stop(goodbye = true): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    this.lease = undefined;
    lease.socket.removeListener('query', this.onQuery);
    if (goodbye) await new Promise<void>((resolve) => lease.socket.respond({ answers: this.records(0) }, () => resolve()));
    lease.release();
  }

  private records(ttl: number): MdnsRecord[] {
    const d = this.describe();
    const fqdn = `${d.instance}.${d.service}`;
    const target = `${d.instance}.local`;
    const records: MdnsRecord[] = [
      { name: d.service, type: 'PTR', ttl: ttl && 4500, data: fqdn },
      { name: fqdn, type: 'SRV', ttl: ttl && 120, flush: true, data: { target, port: d.port, priority: 0, weight: 0 } },
      { name: fqdn, type: 'TXT', ttl: ttl && 4500, flush: true, data: d.txt.map((e) => Buffer.from(e)) },
    ];
    // loopback addresses never go into A records; receivers use the packet's source
    if (!d.host.startsWith('127.')) records.push({ name: target, type: 'A', ttl: ttl && 120, flush: true, data: d.host });
    return records;
  }

  private answer(packet: MdnsPacket): void {
    if (this.paused || !this.lease) return;
    const d = this.describe();
    const fqdn = `${d.instance}.${d.service}`.toLowerCase();
    const wanted = (packet.questions ?? []).some((q) => {
      const name = q.name.toLowerCase();
      return (name === d.service.toLowerCase() && (q.type === 'PTR' || q.type === 'ANY')) || name === fqdn;
    });
    if (wanted) this.lease.socket.respond({ answers: this.records(120) });
  }
}
