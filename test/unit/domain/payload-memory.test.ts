import { expect } from 'chai';
import fc from 'fast-check';
import {
  answerReservation,
  budgetExhausted,
  cgroupMemoryLimitFiles,
  defaultPayloadMemoryBudget,
  fitsBudget,
  MIN_EXPECTED_ANSWER_BYTES,
  parseCgroupMemoryLimit,
  type BudgetUse,
} from '../../../src/domain/payload-memory.js';

const MiB = 2 ** 20;
const MAX = 4 * MiB;

describe('domain/payload-memory', () => {
  describe('answerReservation', () => {
    const cases: ReadonlyArray<[string, number | undefined, number]> = [
      ['twice the largest answer for a class never fetched', undefined, 8 * MiB],
      ['twice the last answer plus a quarter', 2 * MiB, 5 * MiB],
      ['at least twice the minimum for tiny answers', 100, 2 * MIN_EXPECTED_ANSWER_BYTES],
      ['never more than twice the largest answer', 4 * MiB, 8 * MiB],
      ['twice the minimum for an empty answer', 0, 2 * MIN_EXPECTED_ANSWER_BYTES],
    ];
    for (const [name, last, reservation] of cases) {
      it(`is ${name}`, () => {
        expect(answerReservation(last, MAX)).to.equal(reservation);
      });
    }

    it('lies between twice the minimum and twice the largest answer (property)', () => {
      fc.assert(
        fc.property(fc.option(fc.nat(64 * MiB), { nil: undefined }), fc.integer({ min: MIN_EXPECTED_ANSWER_BYTES, max: 64 * MiB }), (last, max) => {
          const reservation = answerReservation(last, max);
          expect(reservation).to.be.at.most(2 * max);
          expect(reservation).to.be.at.least(2 * MIN_EXPECTED_ANSWER_BYTES);
        }),
      );
    });
  });

  describe('fitsBudget', () => {
    const use = (reserved: number, rotation: number): BudgetUse => ({ budgetBytes: 64 * MiB, reservedBytes: reserved, rotationReservedBytes: rotation });
    const cases: ReadonlyArray<[string, BudgetUse, number, 'kubelet' | 'rotation', boolean]> = [
      ['kubelet into an empty budget', use(0, 0), 8 * MiB, 'kubelet', true],
      ['kubelet up to the whole budget', use(56 * MiB, 0), 8 * MiB, 'kubelet', true],
      ['kubelet beyond the budget', use(60 * MiB, 0), 8 * MiB, 'kubelet', false],
      ['rotation up to half the budget', use(24 * MiB, 24 * MiB), 8 * MiB, 'rotation', true],
      ['rotation beyond half the budget', use(28 * MiB, 28 * MiB), 8 * MiB, 'rotation', false],
      ['kubelet while rotation holds its half', use(32 * MiB, 32 * MiB), 8 * MiB, 'kubelet', true],
      ['rotation when kubelet fills the rest', use(60 * MiB, 0), 8 * MiB, 'rotation', false],
      ['one rotation answer larger than half when the loop holds none', use(0, 0), 40 * MiB, 'rotation', true],
      ['a second rotation answer beyond half', use(40 * MiB, 40 * MiB), 8 * MiB, 'rotation', false],
    ];
    for (const [name, state, reservation, origin, fits] of cases) {
      it(`${fits ? 'admits' : 'refuses'} ${name}`, () => {
        expect(fitsBudget(state, reservation, origin)).to.equal(fits);
      });
    }
  });

  it('says how much is held and needed when refusing', () => {
    const error = budgetExhausted({ budgetBytes: 64 * MiB, reservedBytes: 60 * MiB, rotationReservedBytes: 0 }, 8 * MiB);
    expect(error.code).to.equal('PayloadMemoryExhausted');
    expect(error.message).to.equal(
      'provider answers in flight hold 60.0 MiB of the 64.0 MiB payload memory budget (--payload-memory-budget) and this call needs 8.0 MiB; retry when they are written',
    );
  });

  describe('defaultPayloadMemoryBudget', () => {
    const cases: ReadonlyArray<[string, number | undefined, number, number]> = [
      ['the chart: 256 MiB limit, 176 MiB heap limit', 256 * MiB, 176 * MiB, 40 * MiB],
      ['a larger container', 1024 * MiB, 176 * MiB, 424 * MiB],
      ['no container limit: half the heap limit', undefined, 4144 * MiB, 2072 * MiB],
      ['a limit below the heap limit: one largest answer', 128 * MiB, 176 * MiB, 8 * MiB],
      ['a limit leaving less than one answer: one largest answer', 190 * MiB, 176 * MiB, 8 * MiB],
    ];
    for (const [name, container, heap, budget] of cases) {
      it(`is ${budget / MiB} MiB for ${name}`, () => {
        expect(defaultPayloadMemoryBudget({ containerLimitBytes: container, heapLimitBytes: heap }, MAX).bytes).to.equal(budget);
      });
    }

    it('explains its derivation', () => {
      expect(defaultPayloadMemoryBudget({ containerLimitBytes: 256 * MiB, heapLimitBytes: 176 * MiB }, MAX).derivation).to.equal(
        '(container limit 256.0 MiB - heap limit 176.0 MiB) / 2',
      );
      expect(defaultPayloadMemoryBudget({ containerLimitBytes: 128 * MiB, heapLimitBytes: 176 * MiB }, MAX).derivation).to.match(/below one answer/);
    });
  });

  describe('parseCgroupMemoryLimit', () => {
    const cases: ReadonlyArray<[string, number | undefined]> = [
      ['268435456\n', 268_435_456],
      ['max\n', undefined],
      ['9223372036854771712\n', undefined],
      ['', undefined],
      ['0', undefined],
      ['-1', undefined],
      ['12k', undefined],
    ];
    for (const [text, limit] of cases) {
      it(`reads ${JSON.stringify(text)} as ${limit ?? 'no limit'}`, () => {
        expect(parseCgroupMemoryLimit(text)).to.equal(limit);
      });
    }
  });

  describe('cgroupMemoryLimitFiles', () => {
    it('names the cgroup v2 file of the process, then the namespace roots', () => {
      expect(cgroupMemoryLimitFiles('0::/kubepods/pod1/c1\n')).to.deep.equal([
        '/sys/fs/cgroup/kubepods/pod1/c1/memory.max',
        '/sys/fs/cgroup/memory.max',
        '/sys/fs/cgroup/memory/memory.limit_in_bytes',
      ]);
    });

    it('names the cgroup v1 memory controller file (also when co-mounted)', () => {
      expect(cgroupMemoryLimitFiles('4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n')[0]).to.equal(
        '/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes',
      );
      expect(cgroupMemoryLimitFiles('7:cpuset,memory:/x\n')[0]).to.equal('/sys/fs/cgroup/memory/x/memory.limit_in_bytes');
    });

    it('reads a root cgroup (a container with its own cgroup namespace) as the root files', () => {
      expect(cgroupMemoryLimitFiles('0::/\n')).to.deep.equal(['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
    });
  });
});
