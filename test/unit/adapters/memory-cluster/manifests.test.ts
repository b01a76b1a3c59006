import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryCluster } from '../../../../src/adapters/memory-cluster/cluster-store.js';
import { ManifestApplier, ManifestError, stablePodUid } from '../../../../src/adapters/memory-cluster/manifests.js';

const CLASS = (name: string, objects = 'db-password', extra = ''): string => `apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: ${name}
spec:
  provider: fake
  parameters:
    objects: ${objects}${extra}
`;
const POD = (name: string, namespace = 'apps'): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  nodeName: node-1
status:
  phase: Running
`;

describe('ManifestApplier', () => {
  let dir: string;
  let cluster: InMemoryCluster;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'manifests-'));
    cluster = new InMemoryCluster();
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): Promise<void> => writeFile(join(dir, name), text);
  const names = (kind: 'Pod' | 'SecretProviderClass'): string[] =>
    cluster.list(kind).map((o) => `${o.metadata.namespace}/${o.metadata.name}`);

  it('creates every object of a multi-document file, in namespace "default" unless one is given', async () => {
    await write('all.yaml', `${CLASS('one')}---\n${POD('web-0')}---\n`);
    const result = await new ManifestApplier(cluster, [join(dir, 'all.yaml')]).apply();
    expect(result.errors).to.deep.equal([]);
    expect(result.created).to.deep.equal(['SecretProviderClass default/one', 'Pod apps/web-0']);
    expect(names('SecretProviderClass')).to.deep.equal(['default/one']);
    expect(cluster.get('Pod', 'apps', 'web-0')!.status?.phase).to.equal('Running');
  });

  it('loads the *.yaml, *.yml and *.json files of a directory in name order and ignores the rest', async () => {
    await write('b.yml', POD('from-yml'));
    await write('a.json', JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'from-json', namespace: 'apps' } }));
    await write('c.yaml', POD('from-yaml'));
    await write('notes.txt', 'kind: Nonsense');
    await mkdir(join(dir, 'nested.yaml'));
    const result = await new ManifestApplier(cluster, [dir]).apply();
    expect(result.errors).to.deep.equal([]);
    expect(result.created).to.deep.equal(['Pod apps/from-json', 'Pod apps/from-yml', 'Pod apps/from-yaml']);
  });

  it('updates a changed object in place, keeping its uid', async () => {
    await write('spc.yaml', CLASS('one', 'a'));
    const applier = new ManifestApplier(cluster, [dir]);
    await applier.apply();
    const before = cluster.get('SecretProviderClass', 'default', 'one')!;
    await write('spc.yaml', CLASS('one', 'b'));
    const result = await applier.apply();
    const after = cluster.get('SecretProviderClass', 'default', 'one')!;
    expect(result.updated).to.deep.equal(['SecretProviderClass default/one']);
    expect(after.spec?.parameters).to.deep.equal({ objects: 'b' });
    expect(after.metadata.uid).to.equal(before.metadata.uid);
    expect(after.metadata.generation).to.equal(2);
  });

  it('removes a field dropped from the manifest and keeps fields others wrote', async () => {
    await write('spc.yaml', CLASS('one', 'a', '\n    extra: x'));
    const applier = new ManifestApplier(cluster, [dir]);
    await applier.apply();
    cluster.patch('SecretProviderClass', 'default', 'one', { metadata: { labels: { written: 'by-someone-else' } } });
    await write('spc.yaml', CLASS('one', 'a'));
    await applier.apply();
    const spc = cluster.get('SecretProviderClass', 'default', 'one')!;
    expect(spc.spec?.parameters).to.deep.equal({ objects: 'a' });
    expect(spc.metadata.labels).to.deep.equal({ written: 'by-someone-else' });
  });

  it('writes nothing for an unchanged manifest', async () => {
    await write('spc.yaml', CLASS('one'));
    const applier = new ManifestApplier(cluster, [dir]);
    await applier.apply();
    const before = cluster.get('SecretProviderClass', 'default', 'one')!.metadata.resourceVersion;
    const result = await applier.apply();
    expect(result).to.deep.include({ created: [], updated: [], deleted: [] });
    expect(cluster.get('SecretProviderClass', 'default', 'one')!.metadata.resourceVersion).to.equal(before);
  });

  it('deletes objects it applied that the manifests no longer contain, and only those', async () => {
    await write('pods.yaml', `${POD('stay')}---\n${POD('go')}`);
    await write('gone.yaml', POD('file-removed'));
    const applier = new ManifestApplier(cluster, [dir]);
    await applier.apply();
    cluster.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'not-from-manifests', namespace: 'apps' } });
    await write('pods.yaml', POD('stay'));
    await rm(join(dir, 'gone.yaml'));
    const result = await applier.apply();
    expect(result.deleted).to.have.members(['Pod apps/go', 'Pod apps/file-removed']);
    expect(names('Pod')).to.deep.equal(['apps/not-from-manifests', 'apps/stay']);
  });

  it('reports an unknown kind with the file and document number, and loads nothing from that file', async () => {
    await write('bad.yaml', `${POD('first')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n`);
    await write('good.yaml', POD('fine'));
    const result = await new ManifestApplier(cluster, [dir]).apply();
    expect(result.errors).to.have.length(1);
    expect(result.errors[0]).to.be.instanceOf(ManifestError).and.include({ file: join(dir, 'bad.yaml'), document: 2 });
    expect(result.errors[0]!.message).to.include('bad.yaml, document 2').and.include('unknown kind "ConfigMap"');
    expect(names('Pod')).to.deep.equal(['apps/fine']);
  });

  it('reports a document without metadata.name', async () => {
    await write('noname.yaml', 'apiVersion: v1\nkind: Secret\nmetadata:\n  namespace: x\n');
    const [error] = (await new ManifestApplier(cluster, [dir]).apply()).errors;
    expect(error!.message).to.include('noname.yaml, document 1').and.include('metadata.name');
  });

  it('reports invalid YAML, values the API would refuse and objects defined twice', async () => {
    await write('a.yaml', 'kind: Pod\nmetadata: [unclosed\n');
    await write('b.yaml', CLASS('typed', 'x', '\n    usePodIdentity: false'));
    await write('c.yaml', POD('twice'));
    await write('d.yaml', POD('twice'));
    const messages = (await new ManifestApplier(cluster, [dir]).apply()).errors.map((e) => e.message);
    expect(messages[0]).to.include('a.yaml, document 1: invalid YAML');
    expect(messages[1]).to.include('b.yaml, document 1').and.include('spec.parameters.usePodIdentity');
    expect(messages[2]).to.include('d.yaml, document 1').and.include('already defined in').and.include('c.yaml');
    expect(names('Pod')).to.deep.equal(['apps/twice']);
  });

  it('keeps what a file applied before when an edit breaks it', async () => {
    await write('pods.yaml', POD('kept'));
    const applier = new ManifestApplier(cluster, [dir]);
    await applier.apply();
    await write('pods.yaml', `${POD('kept')}---\nkind: Unknown\n`);
    const result = await applier.apply();
    expect(result.errors).to.have.length(1);
    expect(result.deleted).to.deep.equal([]);
    expect(names('Pod')).to.deep.equal(['apps/kept']);
  });

  it('reports a path that does not exist', async () => {
    const result = await new ManifestApplier(cluster, [join(dir, 'missing.yaml')]).apply();
    expect(result.errors[0]!.message).to.include('missing.yaml').and.include('cannot read');
  });

  it('ignores server-owned fields copied from `kubectl get -o yaml`', async () => {
    await write('class.yaml', CLASS('copied').replace('  name: copied', '  name: copied\n  uid: copied-uid\n  resourceVersion: "42"'));
    const result = await new ManifestApplier(cluster, [dir]).apply();
    expect(result.errors).to.deep.equal([]);
    expect(cluster.get('SecretProviderClass', 'default', 'copied')!.metadata.uid).not.to.equal('copied-uid');
  });

  it("keeps a Pod's uid, so a manifest can name the uid kubelet sends for it", async () => {
    await write('pod.yaml', POD('pinned').replace('  namespace: apps', '  namespace: apps\n  uid: 6c1e0f2a-pinned'));
    await new ManifestApplier(cluster, [dir]).apply();
    expect(cluster.get('Pod', 'apps', 'pinned')!.metadata.uid).to.equal('6c1e0f2a-pinned');
  });

  it('gives a Pod without a uid one derived from namespace and name: the same in every run and after edits', async () => {
    await write('pods.yaml', `${POD('web-0')}---\n${POD('web-1')}---\n${POD('web-0', 'other')}`);
    await new ManifestApplier(cluster, [dir]).apply();
    const uid = (namespace: string, name: string): string => cluster.get('Pod', namespace, name)!.metadata.uid!;
    expect(uid('apps', 'web-0')).to.equal(stablePodUid('apps', 'web-0'));
    expect(uid('apps', 'web-0')).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set([uid('apps', 'web-0'), uid('apps', 'web-1'), uid('other', 'web-0')]).size).to.equal(3);

    const restarted = new InMemoryCluster();
    await new ManifestApplier(restarted, [dir]).apply();
    expect(restarted.get('Pod', 'apps', 'web-0')!.metadata.uid).to.equal(uid('apps', 'web-0'));

    const applier = new ManifestApplier(cluster, [dir]);
    await applier.apply();
    await write('pods.yaml', `${POD('web-0').replace('phase: Running', 'phase: Succeeded')}`);
    const result = await applier.apply();
    expect(result.errors).to.deep.equal([]);
    expect(cluster.get('Pod', 'apps', 'web-0')!.status?.phase).to.equal('Succeeded');
    expect(uid('apps', 'web-0')).to.equal(stablePodUid('apps', 'web-0'));
  });
});
