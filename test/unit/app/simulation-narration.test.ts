import { expect } from 'chai';
import { FakeSecretStore } from '../../../src/adapters/fake-provider/fake-secret-store.js';
import type { RotationOutcome } from '../../../src/application/rotate-binding.js';
import { demoDurations, immediateCheckWithinMs, queueWaitMs, scheduledCheckWithinMs, type CheckTiming } from '../../../src/app/simulation/check-timing.js';
import { Narrator } from '../../../src/app/simulation/narrator.js';
import { StoreChanges } from '../../../src/app/simulation/store-changes.js';
import { DomainError } from '../../../src/domain/errors.js';
import { parseVolumeRequest, type VolumeBinding } from '../../../src/domain/volume-binding.js';
import { aClass, aPublishCommand, KUBELET_ROOT } from '../../support/builders.js';

function aBinding(objectVersions: VolumeBinding['objectVersions'] = [{ id: 'db-password', version: 'v2' }]): VolumeBinding {
  return {
    request: parseVolumeRequest(aPublishCommand({ podName: 'web-0' }), KUBELET_ROOT),
    providerName: 'fake',
    objectVersions,
    classGeneration: 1,
    secretsInSync: true,
    mountedAt: 0,
    contentConfirmedAt: 0,
    rotationReport: {},
  };
}

const rotated: RotationOutcome = {
  kind: 'rotated',
  binding: aBinding(),
  spc: aClass(),
  versions: { changed: [{ id: 'db-password', from: 'v1', to: 'v2' }], added: [], removed: [] },
  filesChanged: true,
  secretsChanged: [],
  secretFailures: [],
};
const failed: RotationOutcome = { kind: 'failed', binding: aBinding(), error: new DomainError('ProviderUnavailable', 'provider "fake" is unavailable') };
const unchanged: RotationOutcome = { kind: 'unchanged', binding: aBinding(), spc: aClass(), secretFailures: [] };

function aNarrator(now = 1_000): { narrator: Narrator; lines: string[] } {
  const lines: string[] = [];
  return { narrator: new Narrator((line) => lines.push(line), () => now, 0), lines };
}

describe('app/simulation narration', () => {
  describe('Narrator: failed checks', () => {
    const simulated: RotationOutcome = { ...failed, error: new DomainError('ProviderUnavailable', 'provider "fake" is unavailable: injected') };
    const causedBySimulation = (error: DomainError): boolean => error.message.endsWith(': injected');
    const cases: Array<{ name: string; outcome: RotationOutcome; verified: boolean; line: RegExp; failures: number; outageFailures: number }> = [
      { name: 'a failure the simulation did not cause', outcome: failed, verified: true, line: /FAILED  default\/web-0 +ProviderUnavailable: provider "fake" is unavailable \(old files kept\)/, failures: 1, outageFailures: 0 },
      { name: 'a failure of the simulated outage, whenever it is reported', outcome: simulated, verified: true, line: /failed  default\/web-0 +check failed during the provider outage: ProviderUnavailable +\[old files kept, verified unchanged\]/, failures: 0, outageFailures: 1 },
      { name: 'a failure of the simulated outage that changed the files, a failure too', outcome: simulated, verified: false, line: /failed  default\/web-0 +.*\[FILES CHANGED\]/, failures: 1, outageFailures: 1 },
    ];
    for (const { name, outcome, verified, line, failures, outageFailures } of cases) {
      it(`narrates and counts ${name}`, () => {
        const lines: string[] = [];
        const narrator = new Narrator((text) => lines.push(text), () => 1_000, 0, causedBySimulation);
        narrator.rotationOutcome(outcome, verified);
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(line);
        expect(narrator.summary()).to.include({ failures, outageFailures });
      });
    }
  });

  describe('Narrator: the answer to an on-demand request', () => {
    it('reports a rotation before the schedule with its latency, and keeps the latency for the summary', () => {
      const { narrator, lines } = aNarrator();
      narrator.onDemandAnswered(rotated, 7, 1_800);
      expect(lines[0]).to.match(/demand  default\/web-0 +on demand: db-password v1 -> v2 rotated in 7 ms +\(its poll interval would not have checked it for another 1\.80s\)/);
      expect(narrator.summary()).to.include({ onDemandLatencyMs: 7, failures: 0 });
    });

    it('does not claim the request brought a rotation its schedule may have brought', () => {
      const { narrator, lines } = aNarrator();
      narrator.onDemandAnswered(rotated, 1_900, 1_800);
      expect(lines[0]).to.match(/rotated in 1900 ms +\(its scheduled check was due by then too: whichever came first\)/);
    });

    for (const outcome of [unchanged, failed]) {
      it(`counts a check that ended ${outcome.kind} as a failure: the request must rotate`, () => {
        const { narrator, lines } = aNarrator();
        narrator.onDemandAnswered(outcome, 5, 1_800);
        expect(lines[0]).to.match(new RegExp(`FAILED  default/web-0 +on demand: the check 5 ms after the request ended ${outcome.kind}, nothing rotated`));
        expect(narrator.summary()).to.include({ onDemandLatencyMs: undefined, failures: 1 });
      });
    }
  });

  describe('StoreChanges', () => {
    it('keeps the contents of every version, so files of a check can be verified after the store moved on', () => {
      const store = new FakeSecretStore();
      const { narrator, lines } = aNarrator();
      const changes = new StoreChanges({ store, rotate: (name) => store.rotate(name) }, narrator);
      const first = store.read('db-password').contents;
      changes.change('db-password');
      const second = store.read('db-password').contents;
      changes.change('db-password');

      expect(changes.versionOf('db-password')).to.equal('v3');
      expect(changes.contentsAt('db-password', 'v1')).to.deep.equal(first);
      expect(changes.contentsAt('db-password', 'v2')).to.deep.equal(second);
      expect(changes.contentsAt('db-password', 'v3')).to.deep.equal(store.read('db-password').contents);
      expect(changes.contentsAt('db-password', 'v4')).to.equal(undefined);
      expect(lines).to.have.length(2);
      expect(lines[1]).to.match(/store   db-password +v2 -> v3 +\(changed in the external store\)/);
    });
  });

  describe('check timing', () => {
    const timing = (mounts: number, workers = 4): CheckTiming => ({ intervalMs: 2_000, jitterFraction: 0.1, workers, mounts });

    it('lets a due check wait for every mount ahead of it, a worker taking each in turn', () => {
      expect(queueWaitMs(timing(4))).to.equal(queueWaitMs(timing(1)));
      expect(queueWaitMs(timing(5))).to.equal(2 * queueWaitMs(timing(4)));
      expect(queueWaitMs(timing(50))).to.equal(13 * queueWaitMs(timing(1)));
      expect(queueWaitMs(timing(50, 50))).to.equal(queueWaitMs(timing(1)));
    });

    it('allows a scheduled check the interval plus its jitter plus the queue', () => {
      for (const mounts of [1, 3, 20, 50]) expect(scheduledCheckWithinMs(timing(mounts))).to.equal(2_200 + queueWaitMs(timing(mounts)));
    });

    it('bounds each demonstration by the checks it waits for, growing with the mounts that share the workers', () => {
      for (const mounts of [1, 3, 20, 50]) {
        const durations = demoDurations(timing(mounts));
        expect(durations.onDemandMs).to.equal(scheduledCheckWithinMs(timing(mounts)) + immediateCheckWithinMs(timing(mounts)));
        expect(durations.outageMs).to.equal(2 * scheduledCheckWithinMs(timing(mounts)));
      }
      expect(demoDurations(timing(50)).outageMs).to.be.greaterThan(demoDurations(timing(3)).outageMs);
    });
  });
});
