/**
 * The regular polls of every device in the process pass through one gate:
 * at most `slots` run at a time, and a poll holds its slot until it ends or
 * for `leaseMs`, whichever comes first.
 *
 * Why: polls fall on the same clock tick (see alignedDelay), and a hundred
 * connections opened in that tick would all still be alive when the burst's
 * own allocations set off V8's scavenges. V8 then promotes them to the old
 * generation, and Node-RED's whole heap gets a full GC every poll round.
 * Taken a few at a time, each connection is gone before the next scavenge.
 *
 * The lease keeps a device that does not answer (a poll can take its whole
 * timeout) from holding a slot: it delays another device's poll by at most
 * `leaseMs`. It counts the time the event loop was idle, free to hear the
 * device, not wall time: while a thousand sessions start, the loop is busy
 * for seconds, and a lease on wall time runs out while our own work, not
 * the device, holds the poll up (bench/README.md, part 8's start).
 */

import { performance } from 'node:perf_hooks';
import { systemClock, type Clock, type ClockTimer } from '../shared/clock';

/** The event loop's idle time since it started, in ms (documented: performance.eventLoopUtilization). */
const loopIdleMs = (): number => performance.eventLoopUtilization().idle;

interface Slot {
  /** on the idle clock */
  readonly since: number;
  /** freed by its poll or by the lease, whichever came first */
  freed: boolean;
}

export class PollGate {
  private readonly held: Slot[] = []; // in the order they were taken, so the oldest is first
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private timer: ClockTimer | undefined;

  /**
   * @param clock schedules the lease's timer
   * @param idleMs the time a lease counts: the loop's idle time on the system clock; a fake clock's own time in tests
   */
  constructor(
    private readonly slots: number,
    private readonly leaseMs: number,
    private readonly clock: Clock = systemClock,
    private readonly idleMs: () => number = clock === systemClock ? loopIdleMs : () => clock.now(),
  ) {}

  /** Polls running (holding a slot) and waiting for one. */
  get load(): { running: number; waiting: number } {
    return { running: this.held.length, waiting: this.waiting.length };
  }

  async run<T>(poll: () => Promise<T>): Promise<T> {
    const slot = this.held.length < this.slots && this.waiting.length === 0 ? this.take() : await this.wait();
    try {
      return await poll();
    } finally {
      this.free(slot);
    }
  }

  private take(): Slot {
    const slot: Slot = { since: this.idleMs(), freed: false };
    this.held.push(slot);
    return slot;
  }

  private wait(): Promise<Slot> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.armLease();
    });
  }

  private free(slot: Slot): void {
    if (slot.freed) return;
    slot.freed = true;
    this.held.splice(this.held.indexOf(slot), 1);
    this.admit();
  }

  /** Hands free slots to waiting polls, in their order. */
  private admit(): void {
    while (this.held.length < this.slots && this.waiting.length > 0) (this.waiting.shift() as (slot: Slot) => void)(this.take());
    if (this.waiting.length === 0 && this.timer) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * While polls wait, a timer ends the oldest slot's lease. Idle time runs
   * no faster than the clock, so the timer never fires before the lease can
   * be out; if the loop was busy meanwhile, it is set again for the rest.
   */
  private armLease(): void {
    if (this.timer || this.held.length === 0) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        const now = this.idleMs();
        while (this.held.length > 0 && now - this.held[0].since >= this.leaseMs) {
          const slot = this.held.shift() as Slot;
          slot.freed = true;
        }
        this.admit();
        if (this.waiting.length > 0) this.armLease();
      },
      Math.max(0, this.held[0].since + this.leaseMs - this.idleMs()),
    );
  }
}
