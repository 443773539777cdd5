/*
 * Time as sessions, queues and connections see it. The system clock in the
 * runtime; tests hand in a fake one and move it on by hand, so that polls,
 * keep-alives, backoff and offline detection are tested without waiting.
 */
export interface ClockTimer {
  /** Node's timers keep the process alive unless unref'd; fake ones ignore it. */
  unref?(): unknown;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};
