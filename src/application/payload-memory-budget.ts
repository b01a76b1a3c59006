import { answerReservation, budgetExhausted, fitsBudget, RECEIVE_COPIES, type AnswerOrigin, type BudgetUse } from '../domain/payload-memory.js';
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
 * kubelet's calls get room at once or a precise PayloadMemoryExhausted; the rotation loop's calls
 * queue in order for room within their half. Once a quarter of the budget has been given back since
 * the last time, the runtime is asked to free the written answers' buffers now.
 */
export class PayloadMemoryBudget {
  private reservedBytes = 0;
  private rotationReservedBytes = 0;
  private releasedSinceReclaim = 0;
  private readonly lastAnswerBytes = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly settings: PayloadMemorySettings,
    private readonly reclaimer: MemoryReclaimer,
  ) {}

  /** Bytes reserved by calls in flight now. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /**
   * Room for one answer of the class `classKey` (`namespace/name`). Rejects with the signal's reason
   * when a waiting rotation call gives up.
   */
  async admit(classKey: string, origin: AnswerOrigin, signal?: AbortSignal): Promise<AnswerLease> {
    const reservation = answerReservation(this.lastAnswerBytes.get(classKey), this.settings.maxAnswerBytes);
    if (this.waiting.length === 0 || origin === 'kubelet') {
      if (fitsBudget(this.use(), reservation, origin)) {
        this.take(reservation, origin);
        return this.lease(classKey, reservation, origin);
      }
      if (origin === 'kubelet') throw budgetExhausted(this.use(), reservation);
    }
    await this.waitForRoom(reservation, signal); // reserved when granted
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

  private waitForRoom(reservation: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const giveUp = (): void => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
        this.serveWaiting();
      };
      const waiter: Waiter = {
        reservation,
        grant: () => {
          signal?.removeEventListener('abort', giveUp);
          resolve();
        },
      };
      signal?.addEventListener('abort', giveUp, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Grants waiting rotation calls in order while the first one fits (no overtaking: no starvation). */
  private serveWaiting(): void {
    while (this.waiting.length > 0 && fitsBudget(this.use(), this.waiting[0]!.reservation, 'rotation')) {
      const waiter = this.waiting.shift()!;
      // Reserved here, before the waiter resumes, so that a later grant in this loop sees it.
      this.take(waiter.reservation, 'rotation');
      waiter.grant();
    }
  }
}
