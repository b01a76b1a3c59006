import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { InMemoryCluster } from '../../../../src/adapters/memory-cluster/cluster-store.js';
import { renderClusterState, StateFileWriter } from '../../../../src/adapters/memory-cluster/state-file.js';
import {
  aClassResource,
  anEventResource,
  aPodResource,
  aPodStatusResource,
  aSecretResource,
} from '../../../support/cluster-builders.js';

interface ParsedDocument {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly data?: Record<string, string>;
}

function parseDocuments(text: string): ParsedDocument[] {
  return parseAllDocuments(text).map((document) => document.toJS() as ParsedDocument);
}

function seed(cluster: InMemoryCluster): void {
  cluster.create(aPodResource({ namespace: 'b' }));
  cluster.create(aClassResource({ namespace: 'b' }));
  cluster.create(aSecretResource({ namespace: 'b', name: 'z-secret', data: { password: 'pässword' } }));
  cluster.create(aSecretResource({ namespace: 'a', name: 'y-secret' }));
  cluster.create(aPodStatusResource({ namespace: 'a', name: 'status' }));
  cluster.create(anEventResource({ namespace: 'b', name: 'app-0.2' }));
  cluster.create(anEventResource({ namespace: 'b', name: 'app-0.1' }));
}

describe('renderClusterState', () => {
  it('renders only pod statuses, Secrets and Events, sorted by kind, namespace and name', () => {
    const cluster = new InMemoryCluster();
    seed(cluster);
    const documents = parseDocuments(renderClusterState(cluster));
    expect(documents.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).to.deep.equal([
      'Event b/app-0.1',
      'Event b/app-0.2',
      'Secret a/y-secret',
      'Secret b/z-secret',
      'SecretProviderClassPodStatus a/status',
    ]);
  });

  it('writes each object as the API returns it, Secret data as base64', () => {
    const cluster = new InMemoryCluster();
    seed(cluster);
    const documents = parseDocuments(renderClusterState(cluster));
    const secret = documents.find((d) => d.metadata.name === 'z-secret')!;
    expect(secret).to.deep.equal(cluster.get('Secret', 'b', 'z-secret'));
    expect(secret.data!['password']).to.equal(Buffer.from('pässword').toString('base64'));
    expect(documents.find((d) => d.kind === 'SecretProviderClassPodStatus')).to.deep.equal(cluster.get('SecretProviderClassPodStatus', 'a', 'status'));
  });

  it('renders an empty cluster as an empty file', () => {
    expect(renderClusterState(new InMemoryCluster())).to.equal('');
  });
});

describe('StateFileWriter', () => {
  let dir: string;
  let path: string;
  let cluster: InMemoryCluster;
  let writer: StateFileWriter;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-file-'));
    path = join(dir, 'out', 'state.yaml');
    cluster = new InMemoryCluster();
    writer = new StateFileWriter(cluster, path, { debounceMs: 10 });
  });
  afterEach(async () => {
    await writer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const readState = async (): Promise<string> => readFile(path, 'utf8').catch(() => '<missing>');

  it('rewrites the file after a change, without being asked', async () => {
    writer.start();
    cluster.create(aSecretResource({ name: 'later' }));
    const deadline = Date.now() + 5000;
    while (!(await readState()).includes('later')) {
      if (Date.now() > deadline) throw new Error('state file never showed the Secret');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it('writes the current state on flush, through a temp file that does not stay behind', async () => {
    writer.start();
    cluster.create(aSecretResource({ name: 'flushed' }));
    await writer.flush();
    expect(parseDocuments(await readState()).map((d) => d.metadata.name)).to.deep.equal(['flushed']);
    expect(await readdir(join(dir, 'out'))).to.deep.equal(['state.yaml']);
  });

  it('includes every change of a burst of writes', async () => {
    writer.start();
    for (let i = 0; i < 20; i++) cluster.create(aSecretResource({ name: `s-${i}` }));
    await writer.flush();
    expect(parseDocuments(await readState())).to.have.length(20);
  });

  it('writes the final state on stop and nothing after it', async () => {
    writer.start();
    cluster.create(aSecretResource({ name: 'before-stop' }));
    await writer.stop();
    cluster.create(aSecretResource({ name: 'after-stop' }));
    await cluster.whenIdle();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await readState()).to.include('before-stop').and.not.include('after-stop');
  });
});
