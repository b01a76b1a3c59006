import type { CancelTimer, Clock, Random, Scheduler } from '../../ports/clock.js';

/** Real time, real timers and Math.random, for the production and simulation profiles. */
export class SystemClock implements Clock, Scheduler, Random {
  now(): number {
    return Date.now();
  }

  after(delayMs: number, callback: () => void): CancelTimer {
    // Node caps timers at 2^31-1 ms; longer delays are clamped (the loop re-arms on wake-up).
    const timer = setTimeout(callback, Math.min(Math.max(0, delayMs), 2 ** 31 - 1));
    return () => clearTimeout(timer);
  }

  next(): number {
    return Math.random();
  }
}
