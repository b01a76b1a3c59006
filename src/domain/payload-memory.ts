import { DomainError } from './errors.js';

/**
 * The memory that provider answers take while they are received and written, kept within a budget.
 *
 * An answer is held twice while it arrives (the gRPC frames, then the assembled message the files
 * are views of), so a call reserves twice the answer's expected size before it is made: the size of
 * the class's last answer plus a margin, or `--max-call-recv-msg-size` when the class was never
 * fetched on this node (no answer can be larger: the channel refuses it). kubelet's calls may fill the
 * whole budget; when it is full they wait for room, ahead of any rotation call, but at most
 * `KUBELET_ROOM_WAIT_MS`, then they are refused (RESOURCE_EXHAUSTED; kubelet retries). The rotation
 * loop's calls wait for room as long as it takes and never hold more than half of the budget, so pods
 * keep starting while a rotation pass over large mounts runs.
 */
export const RECEIVE_COPIES = 2;
/** An answer may grow this much over the class's last one and still fit its reservation. */
export const ANSWER_GROWTH_MARGIN = 1.25;
/** Smallest expected answer: tokens, framing and a few small files. */
export const MIN_EXPECTED_ANSWER_BYTES = 64 * 1024;
/** The part of the budget the rotation loop may hold. */
export const ROTATION_BUDGET_SHARE = 0.5;
/** How long a kubelet call waits for room before it is refused (kubelet allows a call 2 minutes). */
export const KUBELET_ROOM_WAIT_MS = 10_000;

export type AnswerOrigin = 'kubelet' | 'rotation';

/** What answer sizes are remembered by: the class (`namespace/name`) of the volume. */
export function answerSizeKey(request: { readonly pod: { readonly namespace: string }; readonly className: string }): string {
  return `${request.pod.namespace}/${request.className}`;
}

/** The bytes of an answer's files (the part of it that can be large). */
export function answerBytes(files: readonly { readonly contents: Uint8Array }[]): number {
  let total = 0;
  for (const file of files) total += file.contents.byteLength;
  return total;
}

/** Bytes to reserve for one provider call, from the class's last answer size (undefined: none yet). */
export function answerReservation(lastAnswerBytes: number | undefined, maxAnswerBytes: number): number {
  const expected =
    lastAnswerBytes === undefined
      ? maxAnswerBytes
      : Math.min(maxAnswerBytes, Math.max(MIN_EXPECTED_ANSWER_BYTES, Math.ceil(lastAnswerBytes * ANSWER_GROWTH_MARGIN)));
  return RECEIVE_COPIES * expected;
}

export interface BudgetUse {
  readonly budgetBytes: number;
  /** Reserved by every call in flight. */
  readonly reservedBytes: number;
  /** Of which reserved by rotation checks. */
  readonly rotationReservedBytes: number;
}

/**
 * Whether a reservation fits now, for a call of `origin`. The rotation loop's share is half the
 * budget, but one rotation answer always fits when the loop holds none (however large it is).
 */
export function fitsBudget(use: BudgetUse, reservation: number, origin: AnswerOrigin): boolean {
  if (use.reservedBytes + reservation > use.budgetBytes) return false;
  if (origin === 'kubelet' || use.rotationReservedBytes === 0) return true;
  return use.rotationReservedBytes + reservation <= Math.floor(use.budgetBytes * ROTATION_BUDGET_SHARE);
}

/** The refusal kubelet gets when its call found no room in time (it retries with backoff). */
export function budgetExhausted(use: BudgetUse, reservation: number): DomainError {
  const [held, budget, needed] = [use.reservedBytes, use.budgetBytes, reservation].map(mebibytes);
  return new DomainError(
    'PayloadMemoryExhausted',
    `provider answers in flight hold ${held} of the ${budget} payload memory budget (--payload-memory-budget) and this call needs ${needed}; retry when they are written`,
  );
}

/** What the default budget is derived from. */
export interface MemoryLimits {
  /** The container's memory limit (cgroup memory.max or memory.limit_in_bytes), if it has one. */
  readonly containerLimitBytes: number | undefined;
  /** V8's heap limit (`--max-old-space-size` plus the young generation). */
  readonly heapLimitBytes: number;
}

export interface DerivedBudget {
  readonly bytes: number;
  /** How the figure was reached, for the start-up log line. */
  readonly derivation: string;
}

/**
 * The default `--payload-memory-budget`: half of what the container limit leaves beside the V8 heap
 * (the other half is for the process's own native memory: code, buffers of sockets and files), or half
 * the heap limit without a container limit; never less than one answer of the largest size.
 */
export function defaultPayloadMemoryBudget(limits: MemoryLimits, maxAnswerBytes: number): DerivedBudget {
  const floor = answerReservation(undefined, maxAnswerBytes);
  const { containerLimitBytes: container, heapLimitBytes: heap } = limits;
  const derived = container === undefined ? Math.floor(heap / 2) : Math.floor(Math.max(0, container - heap) / 2);
  const formula =
    container === undefined
      ? `heap limit ${mebibytes(heap)} / 2 (no container memory limit)`
      : `(container limit ${mebibytes(container)} - heap limit ${mebibytes(heap)}) / 2`;
  if (derived >= floor) return { bytes: derived, derivation: formula };
  return { bytes: floor, derivation: `${formula} is below one answer of --max-call-recv-msg-size held twice (${mebibytes(floor)})` };
}

/** Limits at or above this are "no limit" (cgroup v1 writes 2^63 rounded down to a page). */
const UNLIMITED_AT = 2 ** 60;

/** A cgroup memory limit file's content: a byte count, or undefined for `max` / no limit. */
export function parseCgroupMemoryLimit(text: string): number | undefined {
  const value = text.trim();
  if (value === '' || value === 'max' || !/^\d+$/.test(value)) return undefined;
  const bytes = Number(value);
  return bytes > 0 && bytes < UNLIMITED_AT ? bytes : undefined;
}

/**
 * The files that may hold this process's memory limit, most specific first, from /proc/self/cgroup:
 * cgroup v2 (`0::<path>` -> <root>/<path>/memory.max), cgroup v1 (`N:memory:<path>` ->
 * <root>/memory/<path>/memory.limit_in_bytes), and the namespace roots a container sees.
 */
export function cgroupMemoryLimitFiles(procSelfCgroup: string, root = '/sys/fs/cgroup'): string[] {
  const files: string[] = [];
  for (const line of procSelfCgroup.split('\n')) {
    const match = /^\d+:([^:]*):(\/.*)$/.exec(line.trim());
    if (!match) continue;
    const [, controllers, path] = match;
    const relative = path === '/' ? '' : path;
    if (controllers === '') files.push(`${root}${relative}/memory.max`);
    else if (controllers!.split(',').includes('memory')) files.push(`${root}/memory${relative}/memory.limit_in_bytes`);
  }
  files.push(`${root}/memory.max`, `${root}/memory/memory.limit_in_bytes`);
  return [...new Set(files)];
}

function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
