import { expect } from 'chai';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { probeMountCapability } from '../../src/adapters/tmpfs/can-mount.js';
import { EventReason } from '../../src/domain/events.js';
import type { SecretFile } from '../../src/domain/secret-payload.js';
import { parseTargetPath, targetDirectories } from '../../src/domain/target-path.js';
import { csiCallErrorOf } from '../support/driver-assertions.js';
import { bindReadOnly, PayloadProvider, readAs, TmpfsNode, unmountPath, type NodePod } from '../support/tmpfs-node.js';

const MIB = 1024 * 1024;
const file = (path: string, text: string, mode = 0): SecretFile => ({ path, mode, contents: new TextEncoder().encode(text) });
const sized = (path: string, bytes: number, fill: number): SecretFile => ({ path, mode: 0, contents: new Uint8Array(bytes).fill(fill) });
const smallFiles = (count: number, version: string): SecretFile[] =>
  Array.from({ length: count }, (_, index) => file(`certs/item-${String(index).padStart(5, '0')}.pem`, `${version}-${index}`));

/** Everything under a directory (links not followed): path -> link target, file text, or 'dir'. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (path: string, relative: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink()) out[name] = `-> ${await readlink(child)}`;
      else if (entry.isDirectory()) {
        out[name] = 'dir';
        await visit(child, name);
      } else out[name] = await readFile(child, 'utf8');
    }
  };
  await visit(dir, '');
  return out;
}

describe('integration: the mount layer on real tmpfs, through the CSI socket', function () {
  this.timeout(120_000);
  const nodes: TmpfsNode[] = [];
  const startNode = async (...args: Parameters<typeof TmpfsNode.start>): Promise<TmpfsNode> => {
    const node = await TmpfsNode.start(...args);
    nodes.push(node);
    return node;
  };

  before(async function () {
    const capability = await probeMountCapability();
    if (!capability.canMount) {
      if (process.env['CI'] === 'true') throw new Error(`CI must be able to mount tmpfs: ${capability.reason}`);
      console.warn(`    skipping: this process cannot mount a tmpfs (${capability.reason})`);
      this.skip();
    }
  });
  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.dispose();
  });

  describe('a symbolic link below the kubelet root', () => {
    // pods/ is shared by every pod: a link there is covered by the mounter contract; here, each level of pod B's own path.
    const levels = [
      { name: '<pod-uid>', index: 1 },
      { name: 'volumes', index: 2 },
      { name: 'kubernetes.io~csi', index: 3 },
      { name: '<volume>', index: 4 },
      { name: 'mount', index: 5 },
    ];
    for (const level of levels) {
      it(`at ${level.name}, linked into pod A's volume: B's publish and unpublish are refused and nothing of A changes`, async () => {
        const provider = new PayloadProvider([file('password', 'pod-a-secret')]);
        const node = await startNode(provider);
        const podA = await node.addPod();
        await node.publish(podA);
        const targetA = podA.command.targetPath;
        const before = await tree(targetA);
        const podB = await node.addPod();
        const dirsA = targetDirectories(parseTargetPath(targetA, node.config.kubeletRoot));
        const dirsB = targetDirectories(parseTargetPath(podB.command.targetPath, node.config.kubeletRoot));
        await rm(dirsB[level.index]!, { recursive: true, force: true });
        await mkdir(dirname(dirsB[level.index]!), { recursive: true });
        await symlink(dirsA[level.index]!, dirsB[level.index]!);
        provider.replace([file('password', 'pod-b-secret')]);

        const published = await csiCallErrorOf(node.kubelet.publish(podB.command));
        expect(published.code).to.equal('INVALID_ARGUMENT');
        expect(published.details).to.equal(
          `refusing target path "${podB.command.targetPath}": "${dirsB[level.index]}" is a symbolic link, which kubelet never makes below its root`,
        );
        const unpublished = await csiCallErrorOf(node.kubelet.unpublish({ volumeId: podB.command.volumeId, targetPath: podB.command.targetPath }));
        expect(unpublished.code).to.equal('INVALID_ARGUMENT');

        expect(await tree(targetA), "pod A's files").to.deep.equal(before);
        expect(await readFile(join(targetA, 'password'), 'utf8')).to.equal('pod-a-secret');
        expect((await node.mountAt(targetA))?.fsType, "pod A's tmpfs").to.equal('tmpfs');
      });
    }

    it('is allowed at the kubelet root itself (the node configuration): volumes mount and unmount through it', async () => {
      const node = await startNode(new PayloadProvider([file('password', 'secret')]), {}, async (sandbox) => {
        const link = join(sandbox.root, 'kubelet-link');
        await symlink(sandbox.kubeletRoot, link);
        return link;
      });
      const pod = await node.addPod();
      await node.publish(pod);
      expect(await readFile(join(pod.command.targetPath, 'password'), 'utf8')).to.equal('secret');
      const real = pod.command.targetPath.replace(node.config.kubeletRoot, node.sandbox.kubeletRoot);
      expect((await node.mountAt(real))?.fsType).to.equal('tmpfs');
      await node.unpublish(pod);
      expect(await node.mountAt(real)).to.equal(undefined);
      expect(await lstat(real).then(() => true, () => false)).to.equal(false);
    });
  });

  describe('tmpfs sized from the payload', () => {
    const cases: { readonly name: string; readonly v1: SecretFile[]; readonly v2: SecretFile[] }[] = [
      { name: 'one 9 MiB file', v1: [sized('bundle.bin', 9 * MIB, 1)], v2: [sized('bundle.bin', 9 * MIB + 100, 2)] },
      { name: '2,500 small files', v1: smallFiles(2500, 'v1'), v2: smallFiles(2500, 'v2') },
      { name: '10,000 small files', v1: smallFiles(10_000, 'v1'), v2: smallFiles(10_000, 'v2') },
    ];
    for (const { name, v1, v2 } of cases) {
      it(`mounts ${name} and rotates it, growing the volume where the payload needs it`, async () => {
        const provider = new PayloadProvider(v1);
        const node = await startNode(provider);
        const pod = await node.addPod();
        await node.publish(pod);
        const target = pod.command.targetPath;
        const check = async (files: readonly SecretFile[]): Promise<void> => {
          for (const expected of [files[0]!, files[files.length - 1]!]) {
            expect(Buffer.compare(await readFile(join(target, expected.path)), expected.contents), expected.path).to.equal(0);
          }
        };
        await check(v1);
        provider.replace(v2);
        await node.rotate();
        await check(v2);
        expect(node.eventMessages(EventReason.mountRotationFailed)).to.deep.equal([]);
        expect(node.eventMessages(EventReason.mountRotationComplete)).to.have.length(1);
        const options = (await node.mountAt(target))!.superOptions;
        const size = Number(/^size=(\d+)k$/.exec(options.find((option) => option.startsWith('size='))!)![1]) * 1024;
        const bytes = v2.reduce((sum, one) => sum + one.contents.length, 0);
        expect(size, 'room for two versions').to.be.at.least(2 * bytes);
      });
    }

    it('reports a full volume to the pod with the numbers, keeping the mounted files', async () => {
      const provider = new PayloadProvider([sized('bundle.bin', 6 * MIB, 1)]);
      const node = await startNode(provider);
      const pod = await node.addPod();
      await node.publish(pod);
      const target = pod.command.targetPath;
      // Something else (a provider that writes its own files, say) takes the room of the next version.
      await writeFile(join(target, 'foreign.bin'), new Uint8Array(8 * MIB));
      provider.replace([sized('bundle.bin', 6 * MIB, 2)]);
      await node.rotate();
      const [message, ...more] = node.eventMessages(EventReason.mountRotationFailed);
      expect(more).to.deep.equal([]);
      expect(message).to.match(
        /^failed to rotate mounted contents: no space left in ".*" \(ENOSPC\): payload 6 MiB in 1 file needs 12 MiB and 9 inodes during a swap; the volume has 16 MiB \([0-9.]+ (KiB|MiB) free\) and 4096 inodes \(\d+ free\)$/,
      );
      expect((await readFile(join(target, 'bundle.bin')))[0]).to.equal(1);
      expect(node.logger.lines.some((line) => line.includes('internal error'))).to.equal(false);
    });
  });

  describe('who can read the files', () => {
    let view = '';
    afterEach(async () => {
      if (view) {
        await unmountPath(view);
        await rm(view, { recursive: true, force: true });
      }
      view = '';
    });
    /** Outside the sandbox (whose own directory is 0700): a container sees only its volume. */
    const containerView = async (): Promise<string> => {
      const dir = await mkdtemp(join(tmpdir(), 'container-view-'));
      await chmod(dir, 0o755);
      return dir;
    };

    it("without fsGroup: upstream's semantics, every file readable by any uid through a read-only bind mount", async () => {
      const node = await startNode(new PayloadProvider([file('password', 'p1'), file('tls/tls.crt', 'cert'), file('owner-only', 'x', 0o600)]));
      const pod = await node.addPod();
      await node.publish(pod);
      const target = pod.command.targetPath;
      expect((await stat(target)).mode & 0o7777).to.equal(0o755);
      view = await containerView();
      await bindReadOnly(target, view);
      const nobody = { uid: 65534, gid: 65534 };
      expect(await readAs(join(view, 'password'), nobody)).to.equal('p1');
      expect(await readAs(join(view, 'tls/tls.crt'), nobody)).to.equal('cert');
      expect(await readAs(join(view, 'owner-only'), nobody), "a provider's 0600 stays 0600").to.match(/Permission denied/);
      expect((await stat(join(target, 'password'))).mode & 0o777).to.equal(0o644);
      expect(node.provider instanceof PayloadProvider && node.provider.requests[0]!.permission).to.equal('420');
    });

    it('with fsGroup 2000: files root:2000 0640 (a provider 0600 stays), readable through the group only, after rotation and after a restart', async () => {
      const provider = new PayloadProvider([file('password', 'p1'), file('owner-only', 'x', 0o600)]);
      const node = await startNode(provider);
      const pod: NodePod = await node.addPod(2000);
      await node.publish(pod);
      const target = pod.command.targetPath;
      view = await containerView();
      await bindReadOnly(target, view);
      const inGroup = { uid: 1000, gid: 1000, groups: [2000] };
      const outside = { uid: 1000, gid: 1000 };

      const expectOwnership = async (password: string, when: string): Promise<void> => {
        const root = await stat(target);
        expect([root.mode & 0o7777, root.gid], `${when}: volume root`).to.deep.equal([0o750, 2000]);
        const files = await stat(join(target, 'password'));
        expect([files.uid, files.gid, files.mode & 0o777], `${when}: password`).to.deep.equal([0, 2000, 0o640]);
        const ownerOnly = await stat(join(target, 'owner-only'));
        expect([ownerOnly.gid, ownerOnly.mode & 0o777], `${when}: owner-only`).to.deep.equal([2000, 0o600]);
        expect(await readAs(join(view, 'password'), inGroup), `${when}: uid 1000 in group 2000`).to.equal(password);
        expect(await readAs(join(view, 'password'), outside), `${when}: uid 1000 without the group`).to.match(/Permission denied/);
      };
      await expectOwnership('p1', 'first publish');
      expect(provider.requests[0]!.permission, 'the default mode providers are told').to.equal(String(0o640));

      provider.replace([file('password', 'p2'), file('owner-only', 'y', 0o600)]);
      await node.rotate();
      await expectOwnership('p2', 'after a rotation');

      await node.stopAgent();
      await node.startAgent();
      expect((await node.agent.recovery)?.recovered).to.have.length(1);
      provider.replace([file('password', 'p3'), file('owner-only', 'z', 0o600)]);
      await node.rotate();
      await expectOwnership('p3', 'after a restart and a rotation');
    });
  });

  describe('unpublish', () => {
    it('removes the tmpfs and the directory it made', async () => {
      const node = await startNode(new PayloadProvider([file('password', 'p1')]));
      const pod = await node.addPod();
      await node.publish(pod);
      await node.unpublish(pod);
      expect(await node.mountAt(pod.command.targetPath)).to.equal(undefined);
      expect(await lstat(pod.command.targetPath).then(() => true, () => false)).to.equal(false);
    });

    it('leaves a target that is not mounted but holds foreign files where it is, with a warning', async () => {
      const node = await startNode(new PayloadProvider([file('password', 'p1')]));
      const pod = await node.addPod();
      const target = pod.command.targetPath;
      await mkdir(target);
      await writeFile(join(target, 'not-ours.txt'), 'keep me');
      await node.unpublish(pod);
      expect(await readFile(join(target, 'not-ours.txt'), 'utf8')).to.equal('keep me');
      expect(node.logger.lines.filter((line) => line.startsWith('warn target directory left in place'))).to.deep.equal([
        `warn target directory left in place: it holds files the driver did not write ${JSON.stringify({ target, entries: 1 })}`,
      ]);
    });

    it("removes the driver's own files from a target whose tmpfs is gone, but not the others", async () => {
      const node = await startNode(new PayloadProvider([file('password', 'p1')]));
      const pod = await node.addPod();
      await node.publish(pod);
      const target = pod.command.targetPath;
      // The tmpfs went away (a crash between mount and write would look alike) and left a copy of the layout behind.
      const layout = await tree(target);
      const copy = join(node.sandbox.root, 'copy');
      await mkdir(copy);
      for (const [name, value] of Object.entries(layout)) {
        if (value === 'dir') await mkdir(join(copy, name), { recursive: true });
        else if (value.startsWith('-> ')) await symlink(value.slice(3), join(copy, name));
        else await writeFile(join(copy, name), value);
      }
      await unmountPath(target);
      await rm(target, { recursive: true });
      await rename(copy, target);
      await writeFile(join(target, 'not-ours.txt'), 'keep me');
      await node.unpublish(pod);
      expect(await readdir(target)).to.deep.equal(['not-ours.txt']);
    });
  });
});
