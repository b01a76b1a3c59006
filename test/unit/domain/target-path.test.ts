import { expect } from 'chai';
import fc from 'fast-check';
import { DomainError } from '../../../src/domain/errors.js';
import { checkTargetDirectories, parseTargetPath, targetDirectories, type TargetComponentKind } from '../../../src/domain/target-path.js';
import { KUBELET_ROOT, targetPathFor } from '../../support/builders.js';
import { codeOf } from '../../support/domain-error-code.js';


const UID = '8a1f2c3d-0000-4000-8000-123456789abc';

describe('domain/target-path', () => {
  describe('parseTargetPath', () => {
    it('extracts the pod uid and volume name from a kubelet target path', () => {
      const path = targetPathFor(UID, 'secrets-store-inline');
      expect(parseTargetPath(path, KUBELET_ROOT)).to.deep.equal({
        path,
        podUid: UID,
        volumeName: 'secrets-store-inline',
      });
    });

    it('accepts a kubelet root given with trailing slashes', () => {
      const path = targetPathFor(UID);
      expect(parseTargetPath(path, `${KUBELET_ROOT}//`).podUid).to.equal(UID);
    });

    it('accepts a custom kubelet root', () => {
      const path = targetPathFor(UID, 'vol', '/data/kubelet');
      expect(parseTargetPath(path, '/data/kubelet')).to.deep.equal({ path, podUid: UID, volumeName: 'vol' });
    });

    it('accepts the filesystem root as kubelet root', () => {
      const path = `/pods/${UID}/volumes/kubernetes.io~csi/vol/mount`;
      expect(parseTargetPath(path, '/')).to.deep.equal({ path, podUid: UID, volumeName: 'vol' });
    });

    it('accepts volume names and uids with dots, dashes and underscores inside', () => {
      const path = targetPathFor('a.b_c-d', 'v.1_x-y');
      expect(parseTargetPath(path, KUBELET_ROOT)).to.include({ podUid: 'a.b_c-d', volumeName: 'v.1_x-y' });
    });

    const rejected: Array<[string, string]> = [
      ['an empty path', ''],
      ['a relative path', `var/lib/kubelet/pods/${UID}/volumes/kubernetes.io~csi/vol/mount`],
      ['a path outside the kubelet root', `/var/lib/other/pods/${UID}/volumes/kubernetes.io~csi/vol/mount`],
      ['a path under a sibling of the kubelet root that shares its prefix', `/var/lib/kubelet2/pods/${UID}/volumes/kubernetes.io~csi/vol/mount`],
      ['the kubelet root itself', KUBELET_ROOT],
      ['the kubelet root with a slash', `${KUBELET_ROOT}/`],
      ['a path without the mount element', `${KUBELET_ROOT}/pods/${UID}/volumes/kubernetes.io~csi/vol`],
      ['a path with a trailing slash', `${targetPathFor(UID)}/`],
      ['a path below mount', `${targetPathFor(UID)}/extra`],
      ['a path of another volume plugin', `${KUBELET_ROOT}/pods/${UID}/volumes/kubernetes.io~secret/vol/mount`],
      ['a path with plugins instead of pods', `${KUBELET_ROOT}/plugins/${UID}/volumes/kubernetes.io~csi/vol/mount`],
      ['a path with a misspelt volumes element', `${KUBELET_ROOT}/pods/${UID}/volume/kubernetes.io~csi/vol/mount`],
      ['a path with a different last element', `${KUBELET_ROOT}/pods/${UID}/volumes/kubernetes.io~csi/vol/mnt`],
      ['a path with a doubled slash', `${KUBELET_ROOT}//pods/${UID}/volumes/kubernetes.io~csi/vol/mount`],
      ['a path with an empty pod uid', `${KUBELET_ROOT}/pods//volumes/kubernetes.io~csi/vol/mount`],
      ['a path whose pod uid is ..', `${KUBELET_ROOT}/pods/../volumes/kubernetes.io~csi/vol/mount`],
      ['a path whose pod uid is .', `${KUBELET_ROOT}/pods/./volumes/kubernetes.io~csi/vol/mount`],
      ['a path whose volume name is ..', `${KUBELET_ROOT}/pods/${UID}/volumes/kubernetes.io~csi/../mount`],
      ['a path that climbs out with ..', `${KUBELET_ROOT}/../../etc/pods/${UID}/volumes/kubernetes.io~csi/vol/mount`],
      ['a path whose volume name starts with a dot', `${KUBELET_ROOT}/pods/${UID}/volumes/kubernetes.io~csi/.vol/mount`],
      ['a path whose pod uid holds a space', `${KUBELET_ROOT}/pods/a b/volumes/kubernetes.io~csi/vol/mount`],
      ['a path whose volume name holds a NUL', `${KUBELET_ROOT}/pods/${UID}/volumes/kubernetes.io~csi/v\0l/mount`],
    ];
    for (const [name, path] of rejected) {
      it(`rejects ${name} with InvalidTargetPath`, () => {
        expect(codeOf(() => parseTargetPath(path, KUBELET_ROOT))).to.equal('InvalidTargetPath');
      });
    }

    it('names the offending path in its message', () => {
      expect(() => parseTargetPath('/tmp/x', KUBELET_ROOT)).to.throw(DomainError, '/tmp/x');
    });

    it('accepts exactly the paths of the kubelet shape (property, vs a reference reading)', () => {
      const segment = fc.oneof(
        fc.constantFrom(UID, 'vol', 'a', 'A-1', 'x.y', '', '.', '..', '.a', '-a', 'a b', 'a/b', 'é'),
        fc.stringMatching(/^[A-Za-z0-9._~-]{0,6}$/),
      );
      const root = fc.constantFrom('/var/lib/kubelet', '/var/lib/kubelet/', '/k', '/');
      const literal = (good: string, bad: string[]) => fc.oneof({ weight: 4, arbitrary: fc.constant(good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) });
      fc.assert(
        fc.property(
          root,
          literal('pods', ['pod', 'plugins', '']),
          segment,
          literal('volumes', ['volume', '']),
          literal('kubernetes.io~csi', ['kubernetes.io~secret', 'csi']),
          segment,
          literal('mount', ['mnt', 'mount/x', 'mount/', '']),
          (kubeletRoot, pods, uid, volumes, plugin, volume, mount) => {
            const base = kubeletRoot.replace(/\/+$/, '');
            const path = `${base}/${[pods, uid, volumes, plugin, volume, mount].join('/')}`;
            const isSegment = (s: string) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s);
            const expected =
              pods === 'pods' && volumes === 'volumes' && plugin === 'kubernetes.io~csi' && mount === 'mount' && isSegment(uid) && isSegment(volume);
            let parsed;
            try {
              parsed = parseTargetPath(path, kubeletRoot);
            } catch (error) {
              expect(error).to.be.instanceOf(DomainError);
              expect((error as DomainError).code).to.equal('InvalidTargetPath');
              expect(expected, `rejected ${path}`).to.equal(false);
              return;
            }
            expect(expected, `accepted ${path}`).to.equal(true);
            expect(parsed).to.deep.equal({ path, podUid: uid, volumeName: volume });
          },
        ),
        { numRuns: 500 },
      );
    });

    it('never accepts a path that is not under the kubelet root (property)', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 60 }), (suffix) => {
          const path = `/var/lib/kube${suffix}`;
          fc.pre(!path.startsWith(`${KUBELET_ROOT}/`));
          expect(codeOf(() => parseTargetPath(path, KUBELET_ROOT))).to.equal('InvalidTargetPath');
        }),
      );
    });
  });
});

describe('checkTargetDirectories', () => {
  const target = parseTargetPath(targetPathFor('uid-b', 'vol'), KUBELET_ROOT);
  const directories = targetDirectories(target);

  it('names the six directories kubelet makes below its root, root-most first', () => {
    expect(directories).to.deep.equal([
      `${KUBELET_ROOT}/pods`,
      `${KUBELET_ROOT}/pods/uid-b`,
      `${KUBELET_ROOT}/pods/uid-b/volumes`,
      `${KUBELET_ROOT}/pods/uid-b/volumes/kubernetes.io~csi`,
      `${KUBELET_ROOT}/pods/uid-b/volumes/kubernetes.io~csi/vol`,
      `${KUBELET_ROOT}/pods/uid-b/volumes/kubernetes.io~csi/vol/mount`,
    ]);
  });

  const probe = (kinds: readonly TargetComponentKind[]) => {
    const asked: string[] = [];
    const kindOf = async (path: string): Promise<TargetComponentKind> => {
      asked.push(path);
      return kinds[directories.indexOf(path)]!;
    };
    return { asked, run: () => checkTargetDirectories(target, kindOf) };
  };
  const D = 'directory';
  const cases: { name: string; kinds: TargetComponentKind[]; refused?: number; reason?: string; probed: number }[] = [
    { name: 'all real directories', kinds: [D, D, D, D, D, D], probed: 6 },
    { name: 'the target not made yet', kinds: [D, D, D, D, D, 'missing'], probed: 6 },
    { name: 'nothing below pods yet (the rest is not probed)', kinds: [D, 'missing', 'symbolic link', D, D, D], probed: 2 },
    ...[0, 1, 2, 3, 4, 5].map((index) => ({
      name: `a link at level ${index}`,
      kinds: directories.map((_, i): TargetComponentKind => (i === index ? 'symbolic link' : D)),
      refused: index,
      reason: 'a symbolic link, which kubelet never makes below its root',
      probed: index + 1,
    })),
    { name: 'a file where the volume directory belongs', kinds: [D, D, D, D, 'not a directory', 'missing'], refused: 4, reason: 'not a directory', probed: 5 },
  ];
  for (const { name, kinds, refused, reason, probed } of cases) {
    it(`${refused === undefined ? 'accepts' : 'refuses'} ${name}`, async () => {
      const { asked, run } = probe(kinds);
      const outcome = await run().then(() => undefined, (error: unknown) => error);
      if (refused === undefined) expect(outcome).to.equal(undefined);
      else {
        expect(outcome).to.be.instanceOf(DomainError).with.property('code', 'InvalidTargetPath');
        expect((outcome as DomainError).message).to.equal(`refusing target path "${target.path}": "${directories[refused]}" is ${reason}`);
      }
      expect(asked).to.deep.equal(directories.slice(0, probed));
    });
  }
});
