import { expect } from 'chai';
import fc from 'fast-check';
import {
  effectiveInterval,
  isDue,
  jittered,
  MAX_WAKE_WINDOW_MS,
  nextWakeAt,
  pendingRotationRequests,
  RotationAnnotation,
  failureBackoffCap,
  scheduleAfterFailure,
  scheduleAfterRestart,
  scheduleAfterSuccess,
  type BindingSchedule,
  type RotationSettings,
  rotationSkipReason,
} from '../../../src/domain/rotation-policy.js';
import { randomValue } from '../../support/domain-arbitraries.js';

const settings: RotationSettings = {
  intervalMs: 120_000,
  minClassIntervalMs: 5_000,
  jitterFraction: 0.1,
  backoffBaseMs: 1_000,
};

const noJitter: RotationSettings = { ...settings, jitterFraction: 0 };
const fixed = (value: number) => () => value;

function schedule(overrides: Partial<BindingSchedule> = {}): BindingSchedule {
  return { nextDueAt: 0, consecutiveFailures: 0, handledRequests: {}, ...overrides };
}

const settingsArb: fc.Arbitrary<RotationSettings> = fc.record({
  intervalMs: fc.integer({ min: 1, max: 86_400_000 }),
  minClassIntervalMs: fc.integer({ min: 0, max: 60_000 }),
  jitterFraction: fc.oneof(fc.constantFrom(0, 0.1, 1, 2, -1), fc.double({ min: 0, max: 1, noNaN: true })),
  backoffBaseMs: fc.integer({ min: 1, max: 600_000 }),
});

describe('domain/rotation-policy', () => {
  it('uses the upstream annotation names', () => {
    expect(RotationAnnotation).to.deep.equal({
      pollInterval: 'secrets-store.csi.k8s.io/rotation-poll-interval',
      rotateRequestedAt: 'secrets-store.csi.k8s.io/rotate-requested-at',
    });
  });

  describe('effectiveInterval', () => {
    it('uses the global interval when the class has no annotation', () => {
      expect(effectiveInterval(settings, {})).to.deep.equal({ intervalMs: 120_000 });
    });

    it('uses the global interval when the annotation is empty or blank', () => {
      expect(effectiveInterval(settings, { [RotationAnnotation.pollInterval]: '' })).to.deep.equal({ intervalMs: 120_000 });
      expect(effectiveInterval(settings, { [RotationAnnotation.pollInterval]: '  ' })).to.deep.equal({ intervalMs: 120_000 });
    });

    it("uses the class's own interval when it is valid and not below the minimum", () => {
      expect(effectiveInterval(settings, { [RotationAnnotation.pollInterval]: '30s' })).to.deep.equal({ intervalMs: 30_000 });
      expect(effectiveInterval(settings, { [RotationAnnotation.pollInterval]: '1h' })).to.deep.equal({ intervalMs: 3_600_000 });
      expect(effectiveInterval(settings, { [RotationAnnotation.pollInterval]: '5s' })).to.deep.equal({ intervalMs: 5_000 });
    });

    it('raises an interval below the minimum to the minimum and says why', () => {
      const result = effectiveInterval(settings, { [RotationAnnotation.pollInterval]: '1s' });
      expect(result.intervalMs).to.equal(5_000);
      expect(result.problem).to.include('below the minimum');
    });

    it('raises a zero or negative interval to the minimum', () => {
      expect(effectiveInterval(settings, { [RotationAnnotation.pollInterval]: '0' }).intervalMs).to.equal(5_000);
      expect(effectiveInterval(settings, { [RotationAnnotation.pollInterval]: '-5m' }).intervalMs).to.equal(5_000);
    });

    it('falls back to the global interval for an unparsable annotation and names the annotation', () => {
      const result = effectiveInterval(settings, { [RotationAnnotation.pollInterval]: 'soon' });
      expect(result.intervalMs).to.equal(120_000);
      expect(result.problem).to.include(RotationAnnotation.pollInterval).and.include('soon');
    });

    it('never returns less than the minimum once a class sets an interval (property)', () => {
      fc.assert(
        fc.property(settingsArb, fc.stringMatching(/^-?[0-9]{1,4}(ms|s|m|h)$/), (s, text) => {
          const result = effectiveInterval(s, { [RotationAnnotation.pollInterval]: text });
          expect(result.intervalMs).to.be.at.least(s.minClassIntervalMs);
        }),
      );
    });
  });

  describe('jittered', () => {
    it('returns the delay unchanged without jitter', () => {
      expect(jittered(1000, 0, fixed(0.9))).to.equal(1000);
    });

    it('moves the delay by up to the fraction either way', () => {
      expect(jittered(1000, 0.1, fixed(0))).to.equal(900);
      expect(jittered(1000, 0.1, fixed(0.5))).to.equal(1000);
      expect(jittered(1000, 0.1, fixed(0.75))).to.equal(1050);
    });

    it('clamps the fraction to [0, 1]', () => {
      expect(jittered(1000, 5, fixed(0))).to.equal(0);
      expect(jittered(1000, 5, fixed(0.75))).to.equal(1500);
      expect(jittered(1000, -1, fixed(0))).to.equal(1000);
    });

    it('returns whole milliseconds', () => {
      expect(Number.isInteger(jittered(1001, 0.1, fixed(0.123)))).to.equal(true);
    });

    it('stays within delay +/- fraction x delay and is a non-negative integer (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1e9 }), fc.double({ min: -1, max: 2, noNaN: true }), randomValue, (delay, fraction, r) => {
          const spread = delay * Math.max(0, Math.min(1, fraction));
          const result = jittered(delay, fraction, () => r);
          expect(Number.isInteger(result)).to.equal(true);
          expect(result).to.be.at.least(Math.max(0, Math.floor(delay - spread)));
          expect(result).to.be.at.most(Math.ceil(delay + spread));
        }),
      );
    });

    it('is non-decreasing in the random value (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1e9 }), fc.double({ min: 0, max: 1, noNaN: true }), randomValue, randomValue, (delay, fraction, a, b) => {
          const [low, high] = a <= b ? [a, b] : [b, a];
          expect(jittered(delay, fraction, () => low)).to.be.at.most(jittered(delay, fraction, () => high));
        }),
      );
    });
  });

  describe('scheduleAfterSuccess', () => {
    it('schedules the next check one jittered interval from now and clears failures', () => {
      const result = scheduleAfterSuccess(settings, 60_000, 1_000_000, fixed(0));
      expect(result).to.deep.equal({ nextDueAt: 1_000_000 + 54_000, consecutiveFailures: 0, handledRequests: {} });
    });

    it('remembers the rotation requests it acted upon', () => {
      const handled = { 'class/default/app': '2026-01-01T00:00:00Z' };
      expect(scheduleAfterSuccess(settings, 60_000, 0, fixed(0.5), handled).handledRequests).to.deep.equal(handled);
    });

    it('is due again within interval +/- jitter (property)', () => {
      fc.assert(
        fc.property(settingsArb, fc.integer({ min: 0, max: 1e12 }), randomValue, (s, now, r) => {
          const next = scheduleAfterSuccess(s, s.intervalMs, now, () => r);
          const spread = s.intervalMs * Math.max(0, Math.min(1, s.jitterFraction));
          expect(next.nextDueAt - now).to.be.within(Math.max(0, Math.floor(s.intervalMs - spread)), Math.ceil(s.intervalMs + spread));
          expect(next.consecutiveFailures).to.equal(0);
        }),
      );
    });
  });

  describe('scheduleAfterRestart', () => {
    it('makes an adopted binding due at once without jitter', () => {
      expect(scheduleAfterRestart(noJitter, 60_000, 1_000_000, fixed(0.7))).to.deep.equal({ nextDueAt: 1_000_000, consecutiveFailures: 0, handledRequests: {} });
    });

    it('spreads the first checks over the jitter fraction of the interval', () => {
      const dueIn = [0, 0.5, 0.999999].map((r) => scheduleAfterRestart(settings, 60_000, 0, fixed(r)).nextDueAt);
      expect(dueIn).to.deep.equal([0, 3_000, 6_000]);
    });

    it('remembers the rotation requests its first check serves', () => {
      const handled = { 'pod:default/app-0': '2026-01-01T00:00:00Z' };
      expect(scheduleAfterRestart(settings, 60_000, 0, fixed(0.5), handled).handledRequests).to.deep.equal(handled);
    });

    it('is due within the jitter fraction of the interval, never later than a fresh mount would be (property)', () => {
      fc.assert(
        fc.property(settingsArb, fc.integer({ min: 0, max: 1e12 }), randomValue, (s, now, r) => {
          const adopted = scheduleAfterRestart(s, s.intervalMs, now, () => r);
          const spread = s.intervalMs * Math.max(0, Math.min(1, s.jitterFraction));
          expect(adopted.nextDueAt - now).to.be.within(0, Math.ceil(spread));
          expect(adopted.nextDueAt).to.be.at.most(scheduleAfterSuccess(s, s.intervalMs, now, () => r).nextDueAt);
          expect(adopted.consecutiveFailures).to.equal(0);
        }),
      );
    });
  });

  describe('scheduleAfterFailure', () => {
    it('doubles the delay from the base with each failure, beyond the interval up to ten intervals', () => {
      let current = schedule();
      const delays: number[] = [];
      for (let i = 0; i < 12; i++) {
        current = scheduleAfterFailure(noJitter, 30_000, current, 0, fixed(0.5));
        delays.push(current.nextDueAt);
      }
      expect(delays).to.deep.equal([1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000, 300000]);
      expect(current.consecutiveFailures).to.equal(12);
    });

    it('counts consecutive failures', () => {
      expect(scheduleAfterFailure(settings, 60_000, schedule({ consecutiveFailures: 3 }), 0, fixed(0)).consecutiveFailures).to.equal(4);
    });

    it('keeps the handled rotation requests unless told otherwise', () => {
      const previous = schedule({ handledRequests: { pod: 'a' } });
      expect(scheduleAfterFailure(settings, 60_000, previous, 0, fixed(0)).handledRequests).to.deep.equal({ pod: 'a' });
      expect(scheduleAfterFailure(settings, 60_000, previous, 0, fixed(0), { pod: 'b' }).handledRequests).to.deep.equal({ pod: 'b' });
    });

    it('stays finite after very many failures', () => {
      const result = scheduleAfterFailure(settings, 60_000, schedule({ consecutiveFailures: 10_000 }), 5, fixed(0.99));
      expect(result.nextDueAt).to.equal(5 + 600_000);
    });

    it('never waits longer than the backoff cap, whatever the jitter (property)', () => {
      fc.assert(
        fc.property(settingsArb, fc.nat(200), fc.integer({ min: 0, max: 1e12 }), randomValue, (s, failures, now, r) => {
          const next = scheduleAfterFailure(s, s.intervalMs, schedule({ consecutiveFailures: failures }), now, () => r);
          expect(next.nextDueAt - now).to.be.at.most(failureBackoffCap(s.intervalMs));
          expect(next.nextDueAt - now).to.be.at.least(0);
          expect(next.consecutiveFailures).to.equal(failures + 1);
        }),
      );
    });

    it('waits no less after more failures, before jitter (property)', () => {
      fc.assert(
        fc.property(settingsArb, fc.nat(60), fc.nat(60), (s, a, b) => {
          const [fewer, more] = a <= b ? [a, b] : [b, a];
          const delay = (failures: number) =>
            scheduleAfterFailure({ ...s, jitterFraction: 0 }, s.intervalMs, schedule({ consecutiveFailures: failures }), 0, fixed(0.5)).nextDueAt;
          expect(delay(fewer)).to.be.at.most(delay(more));
        }),
      );
    });
  });

  describe('failureBackoffCap', () => {
    const cases: ReadonlyArray<[string, number, number]> = [
      ['ten intervals for a short interval', 2_000, 20_000],
      ['ten intervals up to the ceiling', 60_000, 600_000],
      ['ten minutes for the default 2m interval', 120_000, 600_000],
      ['the interval itself when it is longer than ten minutes', 3_600_000, 3_600_000],
      ['the interval when it is exactly the ceiling', 600_000, 600_000],
    ];
    for (const [name, interval, cap] of cases) {
      it(`is ${name} (${interval} ms -> ${cap} ms)`, () => {
        expect(failureBackoffCap(interval)).to.equal(cap);
      });
    }

    it('is never below the interval nor above max(interval, 10 min) (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 86_400_000 }), (interval) => {
          const cap = failureBackoffCap(interval);
          expect(cap).to.be.at.least(interval);
          expect(cap).to.be.at.most(Math.max(interval, 600_000));
          expect(cap).to.be.at.most(10 * interval);
        }),
      );
    });
  });

  describe('isDue', () => {
    it('is due at and after the due time, not before', () => {
      const s = schedule({ nextDueAt: 1000 });
      expect(isDue(s, 999)).to.equal(false);
      expect(isDue(s, 1000)).to.equal(true);
      expect(isDue(s, 1001)).to.equal(true);
    });
  });

  describe('nextWakeAt', () => {
    const cases: readonly (readonly [string, RotationSettings, number, number, number])[] = [
      ['the first wake-up is at the earliest due time', settings, 50_000, -Infinity, 50_000],
      ['a due time a window after the last wake-up is kept', settings, 50_000, 49_000, 50_000],
      ['a due time within the window waits for its end', settings, 50_000, 49_500, 50_500],
      ['a due time already past waits for the window too', settings, 40_000, 49_500, 50_500],
      ['the window is a fifth of the shortest class interval below 5 s', { ...settings, minClassIntervalMs: 2_000 }, 50_000, 49_800, 50_200],
      ['no window without a shortest interval', { ...settings, minClassIntervalMs: 0 }, 50_000, 50_000, 50_000],
    ];
    for (const [what, given, dueAt, lastWakeAt, expected] of cases) {
      it(what, () => {
        expect(nextWakeAt(given, dueAt, lastWakeAt)).to.equal(expected);
      });
    }

    it('never wakes before the due time, nor holds a check back more than the window (at most 1 s) past it or the last wake-up', () => {
      fc.assert(
        fc.property(settingsArb, fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 1e12 }), (s, dueAt, lastWakeAt) => {
          const wakeAt = nextWakeAt(s, dueAt, lastWakeAt);
          expect(wakeAt).to.be.at.least(dueAt);
          expect(wakeAt - Math.max(dueAt, lastWakeAt)).to.be.at.most(MAX_WAKE_WINDOW_MS);
          expect(wakeAt - lastWakeAt).to.be.at.least(Math.min(MAX_WAKE_WINDOW_MS, Math.floor(s.minClassIntervalMs / 5)));
        }),
      );
    });
  });

  describe('pendingRotationRequests', () => {
    const at = (value: string) => ({ [RotationAnnotation.rotateRequestedAt]: value });

    it('is undefined when no object asks for a rotation', () => {
      expect(pendingRotationRequests(schedule(), { class: {}, pod: { other: 'x' } })).to.equal(undefined);
      expect(pendingRotationRequests(schedule(), {})).to.equal(undefined);
    });

    it('ignores an empty request value', () => {
      expect(pendingRotationRequests(schedule(), { class: at('') })).to.equal(undefined);
    });

    it('returns the values to remember when an object carries a new request', () => {
      expect(pendingRotationRequests(schedule(), { class: at('t1') })).to.deep.equal({ class: 't1' });
    });

    it('is undefined when every request was already acted upon', () => {
      expect(pendingRotationRequests(schedule({ handledRequests: { class: 't1', pod: 'p1' } }), { class: at('t1'), pod: at('p1') })).to.equal(
        undefined,
      );
    });

    it('asks again when a handled request value changes', () => {
      expect(pendingRotationRequests(schedule({ handledRequests: { class: 't1' } }), { class: at('t2') })).to.deep.equal({ class: 't2' });
    });

    it('returns all current values when only one object has a new request', () => {
      const handled = schedule({ handledRequests: { class: 't1' } });
      expect(pendingRotationRequests(handled, { class: at('t1'), pod: at('p1') })).to.deep.equal({ class: 't1', pod: 'p1' });
    });

    it('returns nothing new once its own answer is remembered (property)', () => {
      const annotations = fc.dictionary(
        fc.constantFrom('class', 'pod', 'other'),
        fc.oneof(fc.constant({}), fc.constantFrom('', 't1', 't2').map(at)),
      );
      fc.assert(
        fc.property(annotations, (byObject) => {
          const first = pendingRotationRequests(schedule(), byObject);
          const remembered = schedule({ handledRequests: first ?? {} });
          expect(pendingRotationRequests(remembered, byObject)).to.equal(undefined);
        }),
      );
    });
  });
});

describe('rotationSkipReason', () => {
  const cases: { pod: { phase: string; terminating: boolean }; reason: string | undefined }[] = [
    { pod: { phase: 'Running', terminating: false }, reason: undefined },
    { pod: { phase: 'Pending', terminating: false }, reason: undefined },
    { pod: { phase: 'Running', terminating: true }, reason: 'PodTerminating' },
    { pod: { phase: 'Succeeded', terminating: true }, reason: 'PodTerminating' },
    { pod: { phase: 'Succeeded', terminating: false }, reason: 'PodSucceeded' },
    { pod: { phase: 'Failed', terminating: false }, reason: 'PodFailed' },
  ];
  for (const { pod, reason } of cases) {
    it(`${reason ? `skips (${reason})` : 'rotates'} a ${pod.terminating ? 'terminating ' : ''}${pod.phase} pod`, () => {
      expect(rotationSkipReason(pod)).to.equal(reason);
    });
  }
});
