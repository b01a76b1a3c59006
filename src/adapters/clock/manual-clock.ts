import type { CancelTimer, Clock, Random, Scheduler } from '../../ports/clock.js';

interface PendingTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

/**
 * Time that moves only when told to, for deterministic tests: `advance` fires the timers that fall
 * due in order, and `random` returns a fixed value (0.5 = no jitter) unless a sequence is given.
 */
export class ManualClock implements Clock, Scheduler, Random {
  private current: number;
  private timers: PendingTimer[] = [];
  private nextId = 0;
  private randomValues: number[];

  constructor(start = Date.UTC(2026, 10, 27, 18, 30, 0), randomValues: number[] = []) {
    this.current = start;
    this.randomValues = [...randomValues];
  }

  now(): number {
    return this.current;
  }

  after(delayMs: number, callback: () => void): CancelTimer {
    const timer = { id: this.nextId++, dueAt: this.current + Math.max(0, delayMs), callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t.id !== timer.id);
    };
  }

  next(): number {
    return this.randomValues.length > 0 ? this.randomValues.shift()! : 0.5;
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing each timer that falls due, earliest first. */
  advance(ms: number): void {
    const until = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.dueAt <= until).sort((a, b) => a.dueAt - b.dueAt || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t.id !== due.id);
      this.current = Math.max(this.current, due.dueAt);
      due.callback();
    }
    this.current = until;
  }
}
