/** Wall-clock time in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}
export const Clock = Symbol.for('Clock');

export type CancelTimer = () => void;

/** Runs a callback later. Contract: the returned function cancels a timer that has not fired yet. */
export interface Scheduler {
  after(delayMs: number, callback: () => void): CancelTimer;
}
export const Scheduler = Symbol.for('Scheduler');

/** Uniform random numbers in [0, 1). */
export interface Random {
  next(): number;
}
export const Random = Symbol.for('Random');
