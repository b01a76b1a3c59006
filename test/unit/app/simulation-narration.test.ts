import { expect } from 'chai';
import { FakeSecretStore } from '../../../src/adapters/fake-provider/fake-secret-store.js';
import type { RotationOutcome } from '../../../src/application/rotate-binding.js';
import { demoDurations } from '../../../src/app/simulation/rotation-demos.js';
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
    const cases: Array<{ name: string; outage: boolean; verified: boolean; line: RegExp; failures: number; outageFailures: number }> = [
      { name: 'outside an outage, a failure', outage: false, verified: true, line: /FAILED  default\/web-0 +ProviderUnavailable: provider "fake" is unavailable \(old files kept\)/, failures: 1, outageFailures: 0 },
      { name: 'during the outage, an expected failure', outage: true, verified: true, line: /failed  default\/web-0 +check failed during the provider outage: ProviderUnavailable +\[old files kept, verified unchanged\]/, failures: 0, outageFailures: 1 },
      { name: 'during the outage with changed files, a failure too', outage: true, verified: false, line: /failed  default\/web-0 +.*\[FILES CHANGED\]/, failures: 1, outageFailures: 1 },
    ];
    for (const { name, outage, verified, line, failures, outageFailures } of cases) {
      it(`narrates and counts ${name}`, () => {
        const { narrator, lines } = aNarrator();
        narrator.expectOutageFailures(outage);
        narrator.rotationOutcome(failed, verified);
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(line);
        expect(narrator.summary()).to.include({ failures, outageFailures });
      });
    }

    it('counts failures as failures again once the outage is over', () => {
      const { narrator } = aNarrator();
      narrator.expectOutageFailures(true);
      narrator.expectOutageFailures(false);
      narrator.rotationOutcome(failed, true);
      expect(narrator.summary()).to.include({ failures: 1, outageFailures: 0 });
    });
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

  describe('demoDurations', () => {
    const cases: Array<[string, { intervalMs: number; jitterFraction: number }, { onDemandMs: number; outageMs: number }]> = [
      ['the default 2s interval, 10% jitter', { intervalMs: 2_000, jitterFraction: 0.1 }, { onDemandMs: 2_700, outageMs: 5_400 }],
      ['a 1s interval without jitter', { intervalMs: 1_000, jitterFraction: 0 }, { onDemandMs: 1_500, outageMs: 3_000 }],
    ];
    for (const [name, timing, expected] of cases) {
      it(`bounds each demonstration by the checks it waits for: ${name}`, () => {
        const durations = demoDurations(timing);
        expect(durations.onDemandMs).to.be.closeTo(expected.onDemandMs, 1e-6);
        expect(durations.outageMs).to.be.closeTo(expected.outageMs, 1e-6);
      });
    }
  });
});
