/**
 * WiiM / LinkPlay devices announce `_linkplay._tcp`. The TXT record carries
 * some facts about the device on most firmware; the name falls back to the
 * mDNS instance name.
 */

import { discoverOnce, type DiscoveredService } from '../shared/mdns';

export const LINKPLAY_SERVICE = '_linkplay._tcp';

export interface DiscoveredWiim {
  name: string;
  model: string;
  host: string;
  port: number;
}

export function toDiscoveredWiim(s: DiscoveredService): DiscoveredWiim | undefined {
  const host = s.address ?? s.host;
  if (!host) return undefined;
  const txt = s.txt;
  return {
    name: txt.devicename ?? txt.name ?? txt.ssid ?? s.name,
    model: txt.project ?? txt.model ?? txt.priv_prj ?? '',
    host,
    port: s.port ?? 443,
  };
}

/** A time-boxed look for WiiM devices (the editor's Discover button). */
export async function discoverWiim(timeoutMs: number): Promise<DiscoveredWiim[]> {
  const found = await discoverOnce(LINKPLAY_SERVICE, Math.max(100, timeoutMs));
  const out: DiscoveredWiim[] = [];
  for (const s of found) {
    const d = toDiscoveredWiim(s);
    if (d && !out.some((o) => o.host === d.host)) out.push(d);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
