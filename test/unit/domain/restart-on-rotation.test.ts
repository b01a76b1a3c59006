import { expect } from 'chai';
import fc from 'fast-check';
import {
  decideRestart,
  describeRestart,
  parseOptIn,
  readSecretRotationMarker,
  restartHash,
  RestartAnnotation,
  rotationEvidence,
  secretRotationMarker,
  syncedVersionsDigest,
  type PendingRotation,
  type RestartDecision,
  type RestartSettings,
  type RotationEvidence,
  type WorkloadMount,
} from '../../../src/domain/restart-on-rotation.js';
import { fullBucket } from '../../../src/domain/token-bucket.js';
import type { Workload } from '../../../src/domain/workload.js';
import { aCompleteRollout, aWorkload } from '../../support/workload-builders.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const BOTH = { mount: true, secret: true };
const MOUNT_ONLY = { mount: true, secret: false };
const SECRET_ONLY = { mount: false, secret: true };

const mount = (overrides: Partial<WorkloadMount> = {}): WorkloadMount => ({
  className: 'app-secrets',
  objects: [{ id: 'db-password', version: 'v2' }],
  rotatedAt: T0,
  podCreatedAt: T0 - 3_600_000,
  ...overrides,
});

const ROTATED: RotationEvidence = rotationEvidence(MOUNT_ONLY, [mount()], []);
const HASH = restartHash(ROTATED);

describe('domain/restart-on-rotation', () => {
  describe('parseOptIn (the workload annotation)', () => {
    const cases: [string | undefined, string][] = [
      [undefined, 'off'],
      ['', 'off'],
      ['false', 'off'],
      ['true', 'mount+secret'],
      [' true ', 'mount+secret'],
      ['mount', 'mount'],
      ['secret', 'secret'],
      ['True', 'invalid'],
      ['yes', 'invalid'],
      ['constructor', 'invalid'],
    ];
    for (const [value, expected] of cases) {
      it(`${JSON.stringify(value)} -> ${expected}`, () => {
        const optIn = parseOptIn(value === undefined ? {} : { [RestartAnnotation.restartOnRotation]: value });
        const shown = optIn.kind === 'on' ? [optIn.mode.mount ? 'mount' : '', optIn.mode.secret ? 'secret' : ''].filter(Boolean).join('+') : optIn.kind;
        expect(shown).to.equal(expected);
        if (optIn.kind === 'invalid') expect(optIn.problem).to.match(/expected "true", "mount" or "secret"/);
      });
    }

    it('quotes an excerpt of a bad value, never all of it', () => {
      const optIn = parseOptIn({ [RestartAnnotation.restartOnRotation]: `${'x'.repeat(10_000)}\n` });
      expect(optIn.kind === 'invalid' && optIn.problem).to.match(/^invalid value "x+… \(truncated, 10001 bytes\)" for annotation/);
    });
  });

  describe('rotationEvidence', () => {
    it('counts a mount once it has rotated, never a fresh one', () => {
      expect(rotationEvidence(MOUNT_ONLY, [mount({ rotatedAt: undefined })], []).mounts).to.deep.equal([]);
      expect(rotationEvidence(MOUNT_ONLY, [mount()], []).mounts).to.deep.equal([{ className: 'app-secrets', objects: [{ id: 'db-password', version: 'v2' }] }]);
    });

    it('gives the same evidence for two nodes that report the same versions, in any order', () => {
      const nodeA = mount({ objects: [{ id: 'b', version: '1' }, { id: 'a', version: '2' }], rotatedAt: T0 });
      const nodeB = mount({ objects: [{ id: 'a', version: '2' }, { id: 'b', version: '1' }], rotatedAt: T0 + 40_000 });
      const one = rotationEvidence(BOTH, [nodeA], []);
      expect(rotationEvidence(BOTH, [nodeA, nodeB], [])).to.deep.equal(one);
      expect(rotationEvidence(BOTH, [nodeB, nodeA], [])).to.deep.equal(one);
    });

    it('counts a synced Secret only when a rotation changed it after the oldest pod was created', () => {
      const pods = [mount({ rotatedAt: undefined, podCreatedAt: T0 })];
      const secret = (at: number) => ({ namespace: 'shop', name: 'db', rotation: { versions: 'abc', at } });
      expect(rotationEvidence(SECRET_ONLY, pods, [secret(T0 + 1)]).secrets).to.deep.equal([{ secretName: 'db', versions: 'abc' }]);
      expect(rotationEvidence(SECRET_ONLY, pods, [secret(T0)]).secrets, 'changed as the pod was created').to.deep.equal([]);
      expect(rotationEvidence(SECRET_ONLY, pods, [{ namespace: 'shop', name: 'db' }]).secrets, 'never rotated').to.deep.equal([]);
      expect(rotationEvidence(SECRET_ONLY, [], [secret(T0)]).secrets, 'no pods known').to.deep.equal([]);
    });

    it('looks only at what the mode asks for', () => {
      const secrets = [{ namespace: 'shop', name: 'db', rotation: { versions: 'abc', at: T0 } }];
      expect(rotationEvidence(MOUNT_ONLY, [mount()], secrets).secrets).to.deep.equal([]);
      expect(rotationEvidence(SECRET_ONLY, [mount()], secrets).mounts).to.deep.equal([]);
    });
  });

  describe('restartHash', () => {
    it('is 16 hex digits that change with the class, an object, a version or a Secret marker', () => {
      expect(HASH).to.match(/^[0-9a-f]{16}$/);
      const variants = [
        rotationEvidence(MOUNT_ONLY, [mount({ className: 'other' })], []),
        rotationEvidence(MOUNT_ONLY, [mount({ objects: [{ id: 'db-password', version: 'v3' }] })], []),
        rotationEvidence(MOUNT_ONLY, [mount({ objects: [{ id: 'api-key', version: 'v2' }] })], []),
        { ...ROTATED, secrets: [{ secretName: 'db', versions: 'abc' }] },
      ];
      expect(new Set([HASH, ...variants.map(restartHash)]).size).to.equal(5);
    });

    it('depends only on the facts, not on how they were listed', () => {
      const objects = fc.uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 8 }), version: fc.string({ maxLength: 8 }) }), { selector: (o) => o.id, maxLength: 6 });
      fc.assert(
        fc.property(fc.array(fc.record({ className: fc.constantFrom('a', 'b'), objects }), { maxLength: 5 }), (mounts) => {
          const listed = mounts.map((m) => mount({ className: m.className, objects: m.objects }));
          expect(restartHash(rotationEvidence(MOUNT_ONLY, [...listed].reverse(), []))).to.equal(restartHash(rotationEvidence(MOUNT_ONLY, listed, [])));
        }),
      );
    });
  });

  describe('decideRestart', () => {
    const SETTINGS: RestartSettings = { debounceMs: 30_000, minIntervalMs: 300_000, clusterLimit: { qps: 0.1, burst: 2 } };
    const settled: PendingRotation = { hash: HASH, since: T0 - 30_000 };
    const decide = (workload: Workload, options: { evidence?: RotationEvidence; pending?: PendingRotation; now?: number; bucket?: { tokens: number; at: number } } = {}): RestartDecision =>
      decideRestart(SETTINGS, {
        workload,
        evidence: options.evidence ?? ROTATED,
        pending: 'pending' in options ? options.pending : settled,
        clusterBucket: options.bucket ?? fullBucket(SETTINGS.clusterLimit, T0),
        now: options.now ?? T0,
      });
    const outcome = (decision: RestartDecision): string => (decision.kind === 'restart' ? 'restart' : `${decision.kind} ${decision.reason}`);

    const cases: [string, Workload, Parameters<typeof decide>[1], string][] = [
      ['not opted in', aWorkload({ annotations: {} }), {}, 'skip NotOptedIn'],
      ['a bad opt-in value', aWorkload({ annotations: { [RestartAnnotation.restartOnRotation]: 'always' } }), {}, 'skip InvalidOptIn'],
      ['nothing rotated', aWorkload(), { evidence: { mounts: [], secrets: [] } }, 'skip NoRotation'],
      ['this rotation is already on the template', aWorkload({ templateAnnotations: { [RestartAnnotation.restartedFor]: HASH } }), {}, 'skip AlreadyRestarted'],
      ['a paused Deployment', aWorkload({ rollout: aCompleteRollout({ paused: true }) }), {}, 'skip RolloutPaused'],
      ['a rollout in progress', aWorkload({ rollout: aCompleteRollout({ availableReplicas: 1 }) }), {}, 'skip RolloutInProgress'],
      ['a rotation first seen now', aWorkload(), { pending: undefined }, 'wait Debounce'],
      ['a rotation that moved again (new evidence)', aWorkload(), { pending: { hash: 'older', since: T0 - 3_600_000 } }, 'wait Debounce'],
      ['a rotation inside the debounce window', aWorkload(), { pending: { hash: HASH, since: T0 - 29_999 } }, 'wait Debounce'],
      ['a settled rotation', aWorkload(), {}, 'restart'],
      [
        'a settled rotation right after another restart',
        aWorkload({ templateAnnotations: { [RestartAnnotation.restartedFor]: 'before', [RestartAnnotation.restartedAt]: new Date(T0 - 60_000).toISOString() } }),
        {},
        'wait WorkloadRateLimit',
      ],
      [
        'a settled rotation once the workload interval has passed',
        aWorkload({ templateAnnotations: { [RestartAnnotation.restartedFor]: 'before', [RestartAnnotation.restartedAt]: new Date(T0 - 300_000).toISOString() } }),
        {},
        'restart',
      ],
      ['an unreadable restarted-at (no limit from it)', aWorkload({ templateAnnotations: { [RestartAnnotation.restartedAt]: 'yesterday' } }), {}, 'restart'],
      ['no cluster-wide token left', aWorkload(), { bucket: { tokens: 0, at: T0 } }, 'wait ClusterRateLimit'],
    ];
    for (const [name, workload, options, expected] of cases) {
      it(`${expected}: ${name}`, () => expect(outcome(decide(workload, options))).to.equal(expected));
    }

    it('restarts by writing the hash and the time on the pod template, and spends a cluster token', () => {
      const decision = decide(aWorkload());
      expect(decision).to.deep.include({ kind: 'restart', hash: HASH });
      if (decision.kind !== 'restart') return;
      expect(decision.templateAnnotations).to.deep.equal({ [RestartAnnotation.restartedFor]: HASH, [RestartAnnotation.restartedAt]: '2026-12-01T10:00:00.000Z' });
      expect(decision.clusterBucket.tokens).to.equal(1);
    });

    it('says until when to wait: the end of the debounce window, of the workload interval, or the next cluster token', () => {
      const debounce = decide(aWorkload(), { pending: { hash: HASH, since: T0 - 10_000 } });
      expect(debounce).to.deep.include({ kind: 'wait', until: T0 + 20_000, pending: { hash: HASH, since: T0 - 10_000 } });
      const fresh = decide(aWorkload(), { pending: { hash: 'older', since: T0 - 3_600_000 } });
      expect(fresh).to.deep.include({ until: T0 + 30_000, pending: { hash: HASH, since: T0 } });
      const restartedAt = new Date(T0 - 60_000).toISOString();
      expect(decide(aWorkload({ templateAnnotations: { [RestartAnnotation.restartedAt]: restartedAt } }))).to.deep.include({ until: T0 + 240_000 });
      expect(decide(aWorkload(), { bucket: { tokens: 0.5, at: T0 } })).to.deep.include({ until: T0 + 5_000 });
    });

    it('keeps counting the debounce window through a rollout, and forgets it once nothing is left to restart for', () => {
      const during = decide(aWorkload({ rollout: aCompleteRollout({ updatedReplicas: 1 }) }), { pending: undefined });
      expect(during).to.deep.include({ kind: 'skip', reason: 'RolloutInProgress', pending: { hash: HASH, since: T0 } });
      expect(decide(aWorkload(), { evidence: { mounts: [], secrets: [] } })).to.deep.include({ pending: undefined });
      expect(decide(aWorkload({ templateAnnotations: { [RestartAnnotation.restartedFor]: HASH } }))).to.deep.include({ pending: undefined });
    });

    it('never restarts twice for the same evidence, whatever else holds (idempotent through the template)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 5 }), fc.boolean(), (elapsed, tokens, inProgress) => {
          const workload = aWorkload({
            templateAnnotations: { [RestartAnnotation.restartedFor]: HASH },
            rollout: aCompleteRollout(inProgress ? { availableReplicas: 0 } : {}),
          });
          const decision = decide(workload, { now: T0 + elapsed, pending: { hash: HASH, since: T0 }, bucket: { tokens, at: T0 } });
          expect(outcome(decision)).to.equal('skip AlreadyRestarted');
        }),
      );
    });
  });

  describe('the synced Secret marker', () => {
    it('carries the digest of the mount versions and the time, and reads back', () => {
      const objects = [{ id: 'b', version: '2' }, { id: 'a', version: '1' }];
      const marker = secretRotationMarker(objects, T0);
      expect(marker).to.deep.equal({ [RestartAnnotation.secretRotatedTo]: syncedVersionsDigest([...objects].reverse()), [RestartAnnotation.secretRotatedAt]: '2026-12-01T10:00:00.000Z' });
      expect(readSecretRotationMarker(marker)).to.deep.equal({ versions: syncedVersionsDigest(objects), at: T0 });
    });

    it('reads a half or broken marker as none', () => {
      expect(readSecretRotationMarker({})).to.equal(undefined);
      expect(readSecretRotationMarker({ [RestartAnnotation.secretRotatedTo]: 'abc' })).to.equal(undefined);
      expect(readSecretRotationMarker({ [RestartAnnotation.secretRotatedTo]: '', [RestartAnnotation.secretRotatedAt]: new Date(T0).toISOString() })).to.equal(undefined);
      expect(readSecretRotationMarker({ [RestartAnnotation.secretRotatedTo]: 'abc', [RestartAnnotation.secretRotatedAt]: 'soon' })).to.equal(undefined);
    });
  });

  describe('describeRestart (the event message)', () => {
    it('names the class and the objects that changed with their versions when the change was seen', () => {
      const changes = new Map([['app-secrets', { added: [], removed: [], changed: [{ id: 'db-password', from: 'v1', to: 'v2' }] }]]);
      expect(describeRestart(ROTATED, changes)).to.equal('restarting pods after a rotation of SecretProviderClass app-secrets (db-password v1 -> v2)');
    });

    it('names the versions now mounted when the change happened before the restarter saw it, then the synced Secrets', () => {
      const evidence = { ...ROTATED, secrets: [{ secretName: 'db', versions: 'abc' }] };
      expect(describeRestart(evidence, new Map())).to.equal('restarting pods after a rotation of SecretProviderClass app-secrets (now db-password v2); synced Secret db');
    });
  });
});
