import { Volume } from 'memfs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryVolumeMounter } from '../../src/adapters/files/directory-volume-mounter.js';
import { memfsFileSystem, nodeFileSystem } from '../../src/adapters/files/file-system.js';
import { KUBELET_ROOT, targetPathFor } from '../support/builders.js';
import { volumeMounterContract } from './volume-mounter.contract.js';

describe('DirectoryVolumeMounter', () => {
  volumeMounterContract('plain directory on memfs', async () => {
    const fs = memfsFileSystem(new Volume());
    await fs.mkdir('/elsewhere', { mode: 0o755 });
    await fs.mkdir(KUBELET_ROOT, { mode: 0o755, recursive: true });
    return {
      mounter: new DirectoryVolumeMounter(fs),
      kubeletRoot: KUBELET_ROOT,
      target: targetPathFor('pod-uid-1'),
      elsewhere: '/elsewhere',
      fs,
      close: async () => undefined,
    };
  });

  volumeMounterContract('plain directory in a temp dir', async () => {
    const root = await mkdtemp(join(tmpdir(), 'directory-mounter-'));
    await mkdir(join(root, 'elsewhere'));
    await mkdir(join(root, 'kubelet'));
    return {
      mounter: new DirectoryVolumeMounter(nodeFileSystem()),
      kubeletRoot: join(root, 'kubelet'),
      target: targetPathFor('pod-uid-1', 'secrets', join(root, 'kubelet')),
      elsewhere: join(root, 'elsewhere'),
      fs: nodeFileSystem(),
      close: () => rm(root, { recursive: true, force: true }),
    };
  });
});
