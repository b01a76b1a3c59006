import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { requireHelm, runHelm } from '../support/helm.js';
import { DOC, listedDifferences, Observations, unlistedOrStale, differences, type DocTable } from '../support/listed-differences.js';
import { projectRoot } from '../support/project-root.js';
import { requireUpstreamDriver, type UpstreamDriverPeer } from '../support/upstream-driver.js';

/**
 * The install artefacts against upstream v1.6.0's own (from the module source build-secrets-store-csi-driver.sh
 * links): every key of upstream's chart values with its default, the CSIDriver and DaemonSets both charts render
 * (Windows nodes run upstream's own driver, so that DaemonSet must be upstream's), and deploy/ against upstream's
 * deploy/. Every difference must be a row of docs/operations.md "What changes", with both values.
 */
const ROOT = projectRoot(import.meta.url);
const CHART = join(ROOT, 'deploy/charts/secrets-store-csi-driver');
const KUBE_VERSION = '1.34.4';
const RELEASE = 'csi-secrets-store';
const ARTEFACT_DIFFERENCES: DocTable = { section: 'What changes', table: 'Chart and manifests, checked against upstream\'s' };

interface K8sObject {
  kind: string;
  metadata: { name: string };
  [field: string]: unknown;
}

interface Container {
  name: string;
  image?: string;
  args?: string[];
  [field: string]: unknown;
}

interface PodSpec {
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string; type?: string } }[];
  [field: string]: unknown;
}

interface DaemonSet extends K8sObject {
  spec: { selector: unknown; updateStrategy?: unknown; template: { spec: PodSpec } };
}

function documents(text: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((document) => {
    const object = document.toJSON() as K8sObject | null;
    return object ? [object] : [];
  });
}

function yamlFiles(dir: string): K8sObject[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .flatMap((name) => documents(readFileSync(join(dir, name), 'utf8')));
}

const render = async (helm: string, chart: string, ...sets: string[]): Promise<K8sObject[]> =>
  documents(await runHelm(helm, ['template', RELEASE, chart, '--namespace', 'kube-system', '--kube-version', KUBE_VERSION, ...sets.flatMap((set) => ['--set', set])]));

const only = <T extends K8sObject>(objects: readonly K8sObject[], kind: string, name?: string): T => {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  expect(found, `one ${kind}${name ? ` ${name}` : ''}`).to.have.length(1);
  return found[0] as T;
};

/** `--flag=value` arguments as flag -> value (order does not matter to a Go flag set). */
function flagMap(args: readonly string[] = []): Record<string, string> {
  return Object.fromEntries(args.map((arg) => {
    const match = /^(-{1,2}[^=]+)(?:=(.*))?$/s.exec(arg);
    return match ? [match[1]!.replace(/^-+/, '--'), match[2] ?? ''] : [arg, ''];
  }));
}

/**
 * What a DaemonSet gives a node, keyed so that order does not matter: scheduling, the service account, each
 * container's mounts (and, for `withDriver` or a sidecar, its image and flags; the secrets-store container's
 * ports, probes and security context always), and the host paths of its volumes.
 */
function nodeFacts(daemonSet: DaemonSet, withDriver: boolean): Record<string, unknown> {
  const pod = daemonSet.spec.template.spec;
  const containers = Object.fromEntries(pod.containers.map((container) => {
    const mounts = Object.fromEntries(((container['volumeMounts'] ?? []) as { name: string }[]).map(({ name, ...mount }) => [name, mount]));
    const driver = container.name === 'secrets-store';
    return [
      container.name,
      {
        volumeMounts: mounts,
        ...(!driver || withDriver ? { image: container.image, args: flagMap(container.args), env: container['env'] ?? [] } : {}),
        ...(driver ? { ports: container['ports'], livenessProbe: container['livenessProbe'], readinessProbe: container['readinessProbe'], securityContext: container['securityContext'] } : {}),
      },
    ];
  }));
  return {
    name: daemonSet.metadata.name,
    selector: daemonSet.spec.selector,
    updateStrategy: daemonSet.spec.updateStrategy,
    serviceAccountName: pod['serviceAccountName'],
    automountServiceAccountToken: pod['automountServiceAccountToken'],
    nodeSelector: pod['nodeSelector'],
    affinity: pod['affinity'],
    tolerations: pod['tolerations'],
    containers,
    volumes: Object.fromEntries((pod.volumes ?? []).map((volume) => [volume.name, volume.hostPath ?? 'not a hostPath'])),
  };
}

/** `vX.Y.Z` tags, compared numerically. */
function atLeast(tag: string, minimum: string): boolean {
  const numbers = (text: string): number[] => text.replace(/^v/, '').split('.').map(Number);
  const [a, b] = [numbers(tag), numbers(minimum)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/** Every leaf path of a YAML value (`a.b[0].c`) with each prefix of it, to keep ours' leaves where upstream has keys. */
function paths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((item, index) => paths(item, `${prefix}[${index}]`))];
  if (typeof value === 'object' && value !== null) {
    return [prefix, ...Object.entries(value).flatMap(([key, item]) => paths(item, prefix === '' ? key : `${prefix}.${key}`))];
  }
  return [prefix];
}

/** `a`, `a.b`, `a.b[0]`, `a.b[0].c` for `a.b[0].c`. */
function prefixes(path: string): string[] {
  return [...path.matchAll(/(?=[.[])|$/g)].map((match) => path.slice(0, match.index));
}

describe('chart and deploy/ against the upstream driver v1.6.0\'s (parity)', function () {
  this.timeout(120_000);
  let helm: string;
  let peer: UpstreamDriverPeer;
  const upstream = new Observations((text) => text);
  const ours = new Observations((text) => text);

  before(function () {
    helm = requireHelm(this);
    peer = requireUpstreamDriver(this);
  });

  it('keeps every key of upstream\'s values.yaml with upstream\'s default', () => {
    const theirs = parse(readFileSync(join(peer.chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const mine = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    upstream.recordJson('values', theirs);
    const theirPaths = new Set(paths(theirs));
    const mineOnShared = new Observations((text) => text);
    mineOnShared.recordJson('values', mine);
    // This chart's own keys are documented with the values; here only the keys upstream has count: a leaf of
    // ours at a path upstream has, or below one of upstream's leaves (a list or map where upstream has null).
    const theirLeaves = new Set([...upstream.leaves.keys()].map((aspect) => aspect.replace(/^values: /, '')));
    for (const [aspect, value] of mineOnShared.leaves) {
      const path = aspect.replace(/^values: /, '');
      if (theirPaths.has(path) || prefixes(path).some((prefix) => theirLeaves.has(prefix))) ours.leaves.set(aspect, value);
    }
    expect(upstream.leaves.size).to.be.greaterThan(100);
  });

  it('runs sidecars at least as new as upstream\'s, in the chart and in deploy/', () => {
    const theirs = parse(readFileSync(join(peer.chart, 'values.yaml'), 'utf8')) as Record<string, Record<string, { tag: string }>>;
    const mine = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, Record<string, { tag: string }>>;
    for (const os of ['linux', 'windows']) {
      for (const image of ['registrarImage', 'livenessProbeImage']) {
        expect(atLeast(mine[os]![image]!.tag, theirs[os]![image]!.tag), `${os}.${image}.tag ${mine[os]![image]!.tag} >= ${theirs[os]![image]!.tag}`).to.equal(true);
      }
    }
    const sidecarTags = (daemonSet: DaemonSet): Record<string, string> =>
      Object.fromEntries(daemonSet.spec.template.spec.containers.filter((container) => container.name !== 'secrets-store').map((container) => [container.name, container.image!.split(':').pop()!]));
    const upstreamTags = sidecarTags(only(documents(readFileSync(join(peer.source, 'deploy/secrets-store-csi-driver.yaml'), 'utf8')), 'DaemonSet'));
    const ourTags = sidecarTags(only(yamlFiles(join(ROOT, 'deploy')), 'DaemonSet'));
    for (const [name, tag] of Object.entries(upstreamTags)) expect(atLeast(ourTags[name] ?? 'v0', tag), `deploy/daemonset.yaml ${name} ${ourTags[name]} >= ${tag}`).to.equal(true);
  });

  it('renders the CSIDriver and the DaemonSets of Linux and Windows nodes as upstream\'s chart does', async () => {
    for (const [label, sets] of [
      ['defaults', []],
      ['enableSecretRotation=true', ['enableSecretRotation=true']],
    ] as const) {
      upstream.recordJson(`chart csidriver (${label})`, only(await render(helm, peer.chart, ...sets), 'CSIDriver')['spec']);
      ours.recordJson(`chart csidriver (${label})`, only(await render(helm, CHART, ...sets), 'CSIDriver')['spec']);
    }
    const theirs = await render(helm, peer.chart, 'windows.enabled=true');
    const mine = await render(helm, CHART, 'windows.enabled=true');
    const linux = `${RELEASE}-secrets-store-csi-driver`;
    upstream.recordJson('chart linux daemonset', nodeFacts(only(theirs, 'DaemonSet', linux), false));
    ours.recordJson('chart linux daemonset', nodeFacts(only(mine, 'DaemonSet', linux), false));
    upstream.recordJson('chart windows daemonset', nodeFacts(only(theirs, 'DaemonSet', `${linux}-windows`), true));
    ours.recordJson('chart windows daemonset', nodeFacts(only(mine, 'DaemonSet', `${linux}-windows`), true));
  });

  it('honours image digests for every image, as upstream\'s chart does', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const images = ['linux.image', 'linux.registrarImage', 'linux.livenessProbeImage', 'windows.image', 'windows.registrarImage', 'windows.livenessProbeImage'];
    const rendered = await render(helm, CHART, 'windows.enabled=true', ...images.map((image) => `${image}.digest=${digest}`));
    const used = rendered
      .filter((object) => object.kind === 'DaemonSet')
      .flatMap((daemonSet) => (daemonSet as DaemonSet).spec.template.spec.containers.map((container) => container.image!));
    expect(used).to.have.length(6);
    for (const image of used) expect(image, image).to.match(new RegExp(`@${digest}$`));
  });

  it('ships in deploy/ the CSIDriver, DaemonSet and ClusterRoles of upstream\'s deploy/', () => {
    const theirs = yamlFiles(join(peer.source, 'deploy'));
    const mine = ['deploy', 'deploy/rbac'].flatMap((dir) => yamlFiles(join(ROOT, dir)));
    upstream.recordJson('deploy csidriver', only(theirs, 'CSIDriver')['spec']);
    ours.recordJson('deploy csidriver', only(mine, 'CSIDriver')['spec']);
    const linuxDaemonSet = (objects: K8sObject[]): DaemonSet => only(objects.filter((object) => !object.metadata.name.endsWith('-windows')), 'DaemonSet');
    upstream.recordJson('deploy daemonset', nodeFacts(linuxDaemonSet(theirs), false));
    ours.recordJson('deploy daemonset', nodeFacts(linuxDaemonSet(mine), false));
    for (const [side, objects] of [[upstream, theirs], [ours, mine]] as const) {
      for (const role of objects.filter((object) => object.kind === 'ClusterRole')) side.record(`deploy clusterrole ${role.metadata.name}`, 'shipped');
      for (const daemonSet of objects.filter((object) => object.kind === 'DaemonSet')) side.record(`deploy daemonset ${daemonSet.metadata.name}`, 'shipped');
    }
  });

  it(`differs from upstream's only where ${DOC} "${ARTEFACT_DIFFERENCES.table}" says so, with the values it gives`, () => {
    const problems = unlistedOrStale(differences(upstream, ours), listedDifferences(ARTEFACT_DIFFERENCES));
    expect(problems, `${problems.length} problems:\n${problems.join('\n')}`).to.deep.equal([]);
  });
});
