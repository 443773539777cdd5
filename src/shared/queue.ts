/**
 * One queue per device: requests run one at a time, with an optional gap
 * between them (SONOFF relays want 200 ms). A request queued with a key
 * replaces a still-waiting request with the same key, so that a burst of
 * volume or switch commands becomes a few requests and the latest value wins.
 * Every caller folded into a request gets that request's result or error.
 */

import { systemClock, type Clock, type ClockTimer } from './clock';
import { DeviceError } from './errors';

export interface RequestQueueOptions {
  /** least time between the end of one request and the start of the next */
  minGapMs?: number;
  /** the time the gap is measured in (default: the system clock) */
  clock?: Clock;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

interface Job {
  key: string | undefined;
  task: () => Promise<unknown>;
  waiters: Waiter[];
}

export class RequestQueue {
  private readonly minGapMs: number;
  private readonly jobs: Job[] = [];
  private running = false;
  private lastEnd = 0;
  private gapTimer: ClockTimer | undefined;
  private closed = false;
  private readonly clock: Clock;

  constructor(options: RequestQueueOptions = {}) {
    this.minGapMs = options.minGapMs ?? 0;
    this.clock = options.clock ?? systemClock;
  }

  /** A request is on its way to the device (not merely waiting for its turn or for the gap). */
  get sending(): boolean {
    return this.running;
  }

  get busy(): boolean {
    return this.running || this.jobs.length > 0;
  }

  run<T>(task: () => Promise<T>, key?: string): Promise<T> {
    if (this.closed) return Promise.reject(new DeviceError('closed', 'the device connection is closed'));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as (value: unknown) => void, reject };
      const pending = key === undefined ? undefined : this.jobs.find((job) => job.key === key);
      if (pending) {
        pending.task = task;
        pending.waiters.push(waiter);
        return;
      }
      this.jobs.push({ key, task, waiters: [waiter] });
      this.pump();
    });
  }

  /** Fails every waiting request (not the running one) with `error`. */
  clear(error: Error): void {
    for (const job of this.jobs.splice(0)) for (const w of job.waiters) w.reject(error);
  }

  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
    this.clear(new DeviceError('closed', 'the device connection was closed before the request was sent'));
  }

  private pump(): void {
    if (this.running || this.gapTimer || this.jobs.length === 0 || this.closed) return;
    const wait = this.lastEnd + this.minGapMs - this.clock.now();
    if (wait > 0) {
      this.gapTimer = this.clock.setTimeout(() => {
        this.gapTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    const job = this.jobs.shift() as Job;
    // an emptied array keeps the backing store it grew to; length 0 lets it go (a device idles between requests)
    if (this.jobs.length === 0) this.jobs.length = 0;
    this.running = true;
    let outcome: Promise<unknown>;
    try {
      outcome = job.task();
    } catch (err) {
      outcome = Promise.reject(err);
    }
    outcome.then(
      (value) => this.finish(job, (w) => w.resolve(value)),
      (err: unknown) => this.finish(job, (w) => w.reject(err)),
    );
  }

  private finish(job: Job, settle: (w: Waiter) => void): void {
    this.running = false;
    this.lastEnd = this.clock.now();
    for (const w of job.waiters) settle(w);
    this.pump();
  }
}
