import {
  answerReservation,
  budgetExhausted,
  fitsBudget,
  KUBELET_ROOM_WAIT_MS,
  RECEIVE_COPIES,
  type AnswerOrigin,
  type BudgetUse,
} from '../domain/payload-memory.js';
import type { Scheduler } from '../ports/clock.js';
import type { MemoryReclaimer } from '../ports/memory-reclaimer.js';

export interface PayloadMemorySettings {
  /** `--payload-memory-budget` (or its derived default), in bytes. */
  readonly budgetBytes: number;
  /** `--max-call-recv-msg-size`: the largest answer a provider call can bring. */
  readonly maxAnswerBytes: number;
}

/** Room held for one provider answer, from before the call until its files are written. */
export interface AnswerLease {
  /** The answer's size (its files' bytes): the class's next calls reserve from it. */
  answered(bytes: number): void;
  /** The files are written (or the fetch failed): the room goes back. Idempotent. */
  release(): void;
}

interface Waiter {
  readonly reservation: number;
  readonly grant: () => void;
}

/** Classes whose last answer size is remembered (the oldest is forgotten first). */
const REMEMBERED_CLASSES = 4096;

/**
 * Admits provider answers against the payload memory budget (rules in `domain/payload-memory.ts`):
 * a call that does not fit waits in its queue, kubelet's ahead of the rotation loop's and for at most
 * `KUBELET_ROOM_WAIT_MS` (then PayloadMemoryExhausted), the rotation loop's within its half for as long
 * as it takes (or until its signal gives it up). Once a quarter of the budget has been given back since
 * the last time, the runtime is asked to free the written answers' buffers now.
 */
export class PayloadMemoryBudget {
  private reservedBytes = 0;
  private rotationReservedBytes = 0;
  private releasedSinceReclaim = 0;
  private readonly lastAnswerBytes = new Map<string, number>();
  private readonly waiting: Record<AnswerOrigin, Waiter[]> = { kubelet: [], rotation: [] };

  constructor(
    private readonly settings: PayloadMemorySettings,
    private readonly reclaimer: MemoryReclaimer,
    private readonly scheduler: Scheduler,
  ) {}

  /** Bytes reserved by calls in flight now. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /** Room for one answer of the class `classKey` (`namespace/name`); see the class comment for waiting. */
  async admit(classKey: string, origin: AnswerOrigin, signal?: AbortSignal): Promise<AnswerLease> {
    const reservation = answerReservation(this.lastAnswerBytes.get(classKey), this.settings.maxAnswerBytes);
    const ahead = origin === 'kubelet' ? this.waiting.kubelet.length : this.waiting.kubelet.length + this.waiting.rotation.length;
    if (ahead === 0 && fitsBudget(this.use(), reservation, origin)) this.take(reservation, origin);
    else await this.waitForRoom(reservation, origin, signal); // reserved when granted
    return this.lease(classKey, reservation, origin);
  }

  private use(): BudgetUse {
    return { budgetBytes: this.settings.budgetBytes, reservedBytes: this.reservedBytes, rotationReservedBytes: this.rotationReservedBytes };
  }

  private take(reservation: number, origin: AnswerOrigin): void {
    this.reservedBytes += reservation;
    if (origin === 'rotation') this.rotationReservedBytes += reservation;
  }

  private lease(classKey: string, reservation: number, origin: AnswerOrigin): AnswerLease {
    let answerBytes: number | undefined;
    let released = false;
    return {
      answered: (bytes) => {
        answerBytes = bytes;
        this.lastAnswerBytes.delete(classKey);
        this.lastAnswerBytes.set(classKey, bytes);
        if (this.lastAnswerBytes.size > REMEMBERED_CLASSES) this.lastAnswerBytes.delete(this.lastAnswerBytes.keys().next().value!);
      },
      release: () => {
        if (released) return;
        released = true;
        this.reservedBytes -= reservation;
        if (origin === 'rotation') this.rotationReservedBytes -= reservation;
        this.reclaimWhenDue(answerBytes === undefined ? 0 : RECEIVE_COPIES * answerBytes);
        this.serveWaiting();
      },
    };
  }

  private reclaimWhenDue(freedBytes: number): void {
    this.releasedSinceReclaim += freedBytes;
    if (this.releasedSinceReclaim < this.settings.budgetBytes / 4) return;
    this.releasedSinceReclaim = 0;
    this.reclaimer.reclaim();
  }

  /** Queues the call; a kubelet call that waited its time, or a call whose signal aborts, leaves with a rejection. */
  private waitForRoom(reservation: number, origin: AnswerOrigin, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const queue = this.waiting[origin];
    return new Promise((resolve, reject) => {
      const leave = (reason: unknown): void => {
        cancelTimer?.();
        signal?.removeEventListener('abort', giveUp);
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        reject(reason);
        this.serveWaiting();
      };
      const giveUp = (): void => leave(signal!.reason);
      const waiter: Waiter = {
        reservation,
        grant: () => {
          cancelTimer?.();
          signal?.removeEventListener('abort', giveUp);
          resolve();
        },
      };
      const cancelTimer =
        origin === 'kubelet' ? this.scheduler.after(KUBELET_ROOM_WAIT_MS, () => leave(budgetExhausted(this.use(), reservation))) : undefined;
      signal?.addEventListener('abort', giveUp, { once: true });
      queue.push(waiter);
    });
  }

  /**
   * Grants waiting calls in order while the first one fits (no overtaking: no starvation), kubelet's
   * first; the rotation loop's only while no kubelet call waits.
   */
  private serveWaiting(): void {
    for (const origin of ['kubelet', 'rotation'] as const) {
      const queue = this.waiting[origin];
      while (queue.length > 0 && fitsBudget(this.use(), queue[0]!.reservation, origin)) {
        const waiter = queue.shift()!;
        // Reserved here, before the waiter resumes, so that a later grant in this loop sees it.
        this.take(waiter.reservation, origin);
        waiter.grant();
      }
      if (queue.length > 0) return;
    }
  }
}
