/**
 * The last 24 h of a device's readings (a meter's power, a sensor's
 * temperature and humidity), for the tile's sparklines. One history per
 * device (config node id), whatever number of tiles show it, so that a page
 * opened later, or a tile deployed later, shows the same curve. Bounded: one
 * point per bucket (the mean of its samples), at most a day of buckets.
 */
export const DAY_MS = 24 * 60 * 60 * 1000;
export const BUCKET_MS = 5 * 60 * 1000;
/** 24 h of buckets, and the one being filled */
export const MAX_POINTS = DAY_MS / BUCKET_MS + 1;

interface Series {
  /** bucket start times (ms) and means, oldest first */
  t: number[];
  v: number[];
  n: number[];
}

export class History {
  private readonly series = new Map<string, Series>();

  add(name: string, value: number, now: number): void {
    if (!Number.isFinite(value)) return;
    let s = this.series.get(name);
    if (!s) this.series.set(name, (s = { t: [], v: [], n: [] }));
    const bucket = now - (now % BUCKET_MS);
    const last = s.t.length - 1;
    if (last >= 0 && s.t[last] === bucket) {
      s.n[last]++;
      s.v[last] += (value - s.v[last]) / s.n[last];
    } else {
      s.t.push(bucket);
      s.v.push(value);
      s.n.push(1);
    }
    const from = now - DAY_MS;
    let drop = 0;
    while (drop < s.t.length && (s.t[drop] < from || s.t.length - drop > MAX_POINTS)) drop++;
    if (drop) {
      s.t.splice(0, drop);
      s.v.splice(0, drop);
      s.n.splice(0, drop);
    }
  }

  /** The series as the browser draws it: `[[t, value], ...]`, values rounded to what the tile shows. */
  points(name: string): Array<[number, number]> {
    const s = this.series.get(name);
    return s ? s.t.map((t, i) => [t, Math.round(s.v[i] * 100) / 100]) : [];
  }

  get size(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.t.length;
    return n;
  }
}

/** The histories by config-node id, kept while any widget of that device is deployed (and across a redeploy). */
const histories = new Map<string, { history: History; users: Set<string> }>();

export function historyFor(deviceId: string, widgetId: string): History {
  let entry = histories.get(deviceId);
  if (!entry) histories.set(deviceId, (entry = { history: new History(), users: new Set() }));
  entry.users.add(widgetId);
  return entry.history;
}

/** A widget was removed (not only redeployed): the history goes with its last user. */
export function releaseHistory(deviceId: string, widgetId: string): void {
  const entry = histories.get(deviceId);
  if (!entry) return;
  entry.users.delete(widgetId);
  if (entry.users.size === 0) histories.delete(deviceId);
}

export function historyCount(): number {
  return histories.size;
}
