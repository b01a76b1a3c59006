import { expect } from 'chai';
import { leadershipLost, leaseTimingProblem, nextLeaseStep, releasedLease, type LeaseRecord, type LeaseStep, type ObservedLease } from '../../../src/domain/leader-lease.js';

const TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const T0 = 1_000_000;
const held = (holder: string, overrides: Partial<LeaseRecord> = {}): LeaseRecord => ({ holder, durationMs: 15_000, acquireTime: T0 - 60_000, renewTime: T0, transitions: 3, ...overrides });
const seen = (record: LeaseRecord, observedAt = T0): ObservedLease => ({ record, observedAt });
const shown = (step: LeaseStep): string => (step.kind === 'follow' ? `follow ${step.holder}` : `${step.kind} transitions=${step.record.transitions}`);

describe('domain/leader-lease', () => {
  const cases: [string, ObservedLease | undefined, number, string][] = [
    ['no lease yet: create it', undefined, T0, 'acquire transitions=0'],
    ['our own lease: renew it', seen(held('me')), T0 + 1_000, 'renew transitions=3'],
    ['another holder, renewed a moment ago', seen(held('other')), T0 + 14_999, 'follow other'],
    ['another holder, unchanged for a whole lease duration (by our clock)', seen(held('other')), T0 + 15_000, 'acquire transitions=4'],
    ['another holder whose renewTime looks old but which we saw change just now (clock skew does not count)', seen(held('other', { renewTime: T0 - 3_600_000 })), T0 + 1, 'follow other'],
    ['a released lease', seen(held('', { durationMs: 1_000 })), T0, 'acquire transitions=4'],
  ];
  for (const [name, observed, now, expected] of cases) {
    it(`${expected}: ${name}`, () => expect(shown(nextLeaseStep('me', observed, now, TIMING))).to.equal(expected));
  }

  it('writes who holds it, for how long and when it was acquired and renewed', () => {
    expect(nextLeaseStep('me', undefined, T0, TIMING)).to.deep.equal({ kind: 'acquire', record: { holder: 'me', durationMs: 15_000, acquireTime: T0, renewTime: T0, transitions: 0 } });
    const renewed = nextLeaseStep('me', seen(held('me')), T0 + 2_000, TIMING);
    expect(renewed).to.deep.equal({ kind: 'renew', record: { ...held('me'), renewTime: T0 + 2_000 } });
  });

  it('lets a leader go on until the renew deadline has passed since its last renewal', () => {
    expect(leadershipLost(T0, T0 + 9_999, TIMING)).to.equal(false);
    expect(leadershipLost(T0, T0 + 10_000, TIMING)).to.equal(true);
  });

  it('releases with no holder and a one-second duration, so a successor takes over at once', () => {
    const released = releasedLease(held('me'), T0);
    expect(released).to.include({ holder: '', durationMs: 1_000, transitions: 3 });
    expect(shown(nextLeaseStep('next', seen(released), T0, TIMING))).to.equal('acquire transitions=4');
  });

  it('refuses timings that cannot work, as client-go does', () => {
    expect(leaseTimingProblem(TIMING)).to.equal(undefined);
    expect(leaseTimingProblem({ ...TIMING, leaseDurationMs: 10_000 })).to.match(/lease duration must be longer than the renew deadline/);
    expect(leaseTimingProblem({ ...TIMING, renewDeadlineMs: 2_400 })).to.match(/renew deadline must be longer than 1.2 x the retry period/);
    expect(leaseTimingProblem({ ...TIMING, retryPeriodMs: 0 })).to.match(/retry period must be greater than zero/);
  });
});
