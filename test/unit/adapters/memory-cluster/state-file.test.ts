import { expect } from 'chai';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { InMemoryCluster } from '../../../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryPodStatusStore } from '../../../../src/adapters/memory-cluster/memory-pod-status-store.js';
import { renderClusterState, restoreClusterState, StateFileError, StateFileWriter } from '../../../../src/adapters/memory-cluster/state-file.js';
import { eventually } from '../../../contract/eventually.js';
import {
  aClassResource,
  anEventResource,
  aPodResource,
  aPodStatusFor,
  aPodStatusResource,
  aSecretResource,
  ownerOf,
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
  it('renders Pods, pod statuses, Secrets and Events, in that order, each by namespace and name', () => {
    const cluster = new InMemoryCluster();
    seed(cluster);
    const documents = parseDocuments(renderClusterState(cluster));
    expect(documents.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).to.deep.equal([
      'Pod b/app-0',
      'SecretProviderClassPodStatus a/status',
      'Secret a/y-secret',
      'Secret b/z-secret',
      'Event b/app-0.1',
      'Event b/app-0.2',
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

  it('renders an empty cluster as a comment line: the file is never empty', () => {
    const text = renderClusterState(new InMemoryCluster());
    expect(text).to.match(/^# .*\n$/);
    expect(parseDocuments(text).filter((d) => d !== null)).to.deep.equal([]);
  });
});

describe('restoreClusterState', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-restore-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('takes back pod statuses, Secrets and Events, not Pods, and keeps what the cluster already holds', async () => {
    const before = new InMemoryCluster();
    seed(before);
    const path = join(dir, 'state.yaml');
    await writeFile(path, renderClusterState(before));
    const after = new InMemoryCluster();
    after.create(aSecretResource({ namespace: 'a', name: 'y-secret', data: { from: 'manifest' } }));
    expect(restoreClusterState(after, path)).to.equal(4);
    expect(after.list('Pod')).to.deep.equal([]);
    expect(after.get('SecretProviderClassPodStatus', 'a', 'status')!.status).to.deep.equal(before.get('SecretProviderClassPodStatus', 'a', 'status')!.status);
    expect(after.get('Secret', 'b', 'z-secret')!.data).to.deep.equal(before.get('Secret', 'b', 'z-secret')!.data);
    expect(after.get('Secret', 'a', 'y-secret')!.data).to.deep.equal({ from: Buffer.from('manifest').toString('base64') });
    expect(after.list('Event').map((event) => event.metadata.name)).to.deep.equal(['app-0.1', 'app-0.2']);
  });

  it('restores nothing from a file that does not exist yet', () => {
    expect(restoreClusterState(new InMemoryCluster(), join(dir, 'missing.yaml'))).to.equal(0);
  });

  for (const [title, text, message] of [
    ['invalid YAML', 'kind: [', /state\.yaml, document 1: invalid YAML/],
    ['an object of an unknown kind', 'kind: CronTab\nmetadata: {name: x}\n', /document 1: not an object of a kind the cluster knows/],
    ['an object the cluster refuses', 'apiVersion: v1\nkind: Secret\nmetadata: {name: "Bad_Name"}\n', /document 1: .*must be a lowercase DNS subdomain/],
  ] as const) {
    it(`refuses ${title}, naming the file and the document`, async () => {
      const path = join(dir, 'state.yaml');
      await writeFile(path, text);
      expect(() => restoreClusterState(new InMemoryCluster(), path)).to.throw(StateFileError, message);
    });
  }

  it('refuses a path that is a directory, naming it', () => {
    expect(() => restoreClusterState(new InMemoryCluster(), dir)).to.throw(StateFileError, /cannot read/);
  });
});

describe('StateFileWriter', () => {
  let dir: string;
  let path: string;
  let cluster: InMemoryCluster;
  let writer: StateFileWriter;
  let failures: string[];
  let recoveries: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-file-'));
    path = join(dir, 'out', 'state.yaml');
    cluster = new InMemoryCluster();
    failures = [];
    recoveries = 0;
    writer = new StateFileWriter(cluster, path, {
      onFailure: (error) => failures.push(error.message),
      onRecovered: () => recoveries++,
      retryDelayMs: 10,
    });
  });
  afterEach(async () => {
    await writer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const readState = async (): Promise<string> => readFile(path, 'utf8').catch(() => '<missing>');
  const names = async (): Promise<string[]> => parseDocuments(await readState()).filter((d) => d !== null).map((d) => d.metadata.name);

  it('writes the state at start, with mode 0600', async () => {
    cluster.create(aPodResource({ name: 'web-0' }));
    writer.start();
    expect(await names()).to.deep.equal(['web-0']);
    expect((await stat(path)).mode & 0o777).to.equal(0o600);
  });

  it('has the file written before the code that made a change resumes from its await', async () => {
    writer.start();
    const pod = cluster.create(aPodResource({ uid: 'pod-uid-1' }));
    await new MemoryPodStatusStore(cluster).save(aPodStatusFor(pod), ownerOf(pod));
    expect(await readState()).to.contain('kind: SecretProviderClassPodStatus');
  });

  it('writes a burst of changes, leaving no temp file behind', async () => {
    writer.start();
    for (let i = 0; i < 20; i++) cluster.create(aSecretResource({ name: `s-${i}` }));
    await writer.flush();
    expect(await names()).to.have.length(20);
    expect(await readdir(join(dir, 'out'))).to.deep.equal(['state.yaml']);
  });

  it('shows a deletion: after the last object goes the file is the comment line, not stale', async () => {
    writer.start();
    cluster.create(aSecretResource({ name: 'gone-soon' }));
    await writer.flush();
    cluster.delete('Secret', 'default', 'gone-soon');
    await writer.flush();
    expect(await names()).to.deep.equal([]);
    expect(await readState()).to.match(/^# /);
  });

  it('removes temp files a crashed run left beside the file, and only those', async () => {
    await mkdir(join(dir, 'out'));
    for (const name of ['state.yaml.4242.tmp', 'state.yaml.4242.3.tmp', 'state.yaml.notes', 'other.yaml.4242.tmp']) await writeFile(join(dir, 'out', name), 'x');
    writer.start();
    expect((await readdir(join(dir, 'out'))).sort()).to.deep.equal(['other.yaml.4242.tmp', 'state.yaml', 'state.yaml.notes']);
  });

  // Whatever sits at the temp path once the writer runs (a stale file, a link planted by another user of the
  // directory), the state file is a new regular file with mode 0600, and nothing is written through a link.
  const inTheWay = [
    { what: 'a file readable by all', place: (temp: string) => writeFile(temp, 'stale', { mode: 0o644 }) },
    { what: 'a symbolic link to another file', place: (temp: string) => symlink(join(dir, 'elsewhere'), temp) },
  ];
  for (const { what, place } of inTheWay) {
    it(`writes a new file of mode 0600 when ${what} sits at the temp path, leaving no temp file`, async () => {
      await writeFile(join(dir, 'elsewhere'), 'not the state');
      writer.start();
      await place(`${path}.${process.pid}.tmp`);

      cluster.create(aSecretResource({ name: 'written' }));
      await writer.flush();

      const written = await lstat(path);
      expect(written.isFile(), 'a regular file').to.equal(true);
      expect(written.mode & 0o777).to.equal(0o600);
      expect(await names()).to.deep.equal(['written']);
      expect(await readFile(join(dir, 'elsewhere'), 'utf8')).to.equal('not the state');
      expect(await readdir(join(dir, 'out'))).to.deep.equal(['state.yaml']);
      expect(failures).to.deep.equal([]);
    });
  }

  it('reports a failed write once, keeps the last good file, says why in failure, and recovers by itself', async () => {
    writer.start();
    cluster.create(aSecretResource({ name: 'kept' }));
    await writer.flush();
    // A directory where the temp file goes makes every write fail, whoever runs the test.
    const blocker = `${path}.${process.pid}.tmp`;
    await mkdir(join(blocker, 'in-the-way'), { recursive: true });
    cluster.create(aSecretResource({ name: 'not-written-yet' }));
    await writer.flush();
    cluster.create(aSecretResource({ name: 'nor-this' }));
    await writer.flush();
    expect(failures).to.have.length(1);
    expect(writer.failure).to.match(/^writing the state file .*state\.yaml failed: EISDIR/);
    expect(await names()).to.deep.equal(['kept']);
    await rm(blocker, { recursive: true });
    await eventually(async () => expect(await names()).to.deep.equal(['kept', 'nor-this', 'not-written-yet']), 5000, 10);
    expect(writer.failure).to.equal(undefined);
    expect(recoveries).to.equal(1);
  });

  it('writes the final state on stop and nothing after it', async () => {
    writer.start();
    cluster.create(aSecretResource({ name: 'before-stop' }));
    await writer.stop();
    cluster.create(aSecretResource({ name: 'after-stop' }));
    await cluster.whenIdle();
    expect(await readState()).to.include('before-stop').and.not.include('after-stop');
  });
});
