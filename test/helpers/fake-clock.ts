import type { Clock, ClockTimer } from '../../src/shared/clock';

interface FakeTimer extends ClockTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets promise callbacks and I/O callbacks that are already due run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock that moves only when a test says so. Timers fire in time order;
 * between two timers the event loop gets a turn, so that the work a timer
 * started (a request to a simulator on loopback) can go on.
 */
export class FakeClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<FakeTimer>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const t: FakeTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(t);
    return t;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer) this.timers.delete(timer as FakeTimer);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the next timer is due, or undefined when none waits. */
  get nextAt(): number | undefined {
    return this.next()?.at;
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (let t = this.next(); t && t.at <= end; t = this.next()) {
      this.timers.delete(t);
      this.time = Math.max(this.time, t.at);
      t.fn();
      await settle();
    }
    this.time = end;
    await settle();
  }

  /** Moves time to the next timer and fires it (and any due with it). */
  async tick(): Promise<void> {
    const t = this.next();
    if (t) await this.advance(t.at - this.time);
  }

  private next(): FakeTimer | undefined {
    let first: FakeTimer | undefined;
    for (const t of this.timers) if (!first || t.at < first.at || (t.at === first.at && t.seq < first.seq)) first = t;
    return first;
  }
}
