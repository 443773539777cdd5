import type { Clock, ClockTimer } from '../../src/shared/clock';
import { sleep } from './wait';

interface FakeTimer extends ClockTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets promise callbacks and I/O callbacks that are already due run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** How long (real time) the work one timer started may take before advance() gives up on it. */
const WORK_LIMIT_MS = 10_000;

/**
 * A clock that moves only when a test says so. Timers fire in time order;
 * between two timers the event loop gets a turn, so that the work a timer
 * started can go on. Work that needs real I/O (a request to a simulator on
 * loopback) takes longer than a turn: a test names what "busy" means with
 * busyWhile(), and advance() waits, after each timer, until it is over.
 */
export class FakeClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<FakeTimer>();
  private busy: () => boolean = () => false;

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

  /** How far away the next timer is, or undefined when none waits. */
  get nextIn(): number | undefined {
    const at = this.nextAt;
    return at === undefined ? undefined : at - this.time;
  }

  /**
   * Work in flight that time must not run past, e.g. `() => session.queue.sending`:
   * advance() and tick() wait (in real time) until it returns false.
   */
  busyWhile(check: () => boolean): void {
    this.busy = check;
  }

  /** Waits until the work in flight (see busyWhile) is over and its callbacks have run. */
  async idle(): Promise<void> {
    await settle();
    const end = Date.now() + WORK_LIMIT_MS;
    while (this.busy()) {
      if (Date.now() > end) throw new Error(`the work started at ${new Date(this.time).toISOString()} did not end`);
      await sleep(1);
    }
    await settle();
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way, in order, each after the work of the one before. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await this.idle();
    for (let t = this.next(); t && t.at <= end; t = this.next()) {
      this.timers.delete(t);
      this.time = Math.max(this.time, t.at);
      t.fn();
      await this.idle();
    }
    this.time = end;
    await this.idle();
  }

  /**
   * Moves time on in steps of `stepMs` until `work` settles, and returns its
   * outcome: for work that waits on this clock somewhere along its way (a
   * command behind a poll and the relay's gap).
   */
  async drive<T>(work: Promise<T>, stepMs = 50, maxSteps = 1000): Promise<T> {
    let settled = false;
    const done = work.finally(() => (settled = true));
    for (let i = 0; i < maxSteps && !settled; i++) await this.advance(stepMs);
    return done;
  }

  /** Moves time to the next timer and fires it (and any due with it). */
  async tick(): Promise<void> {
    await this.idle();
    const t = this.next();
    if (t) await this.advance(t.at - this.time);
  }

  private next(): FakeTimer | undefined {
    let first: FakeTimer | undefined;
    for (const t of this.timers) if (!first || t.at < first.at || (t.at === first.at && t.seq < first.seq)) first = t;
    return first;
  }
}
