import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { DRIVER_FLAGS, driverConfig } from '../../src/app/config.js';
import { parseFlags, type FlagDefinition, type FlagValue } from '../../src/app/flags.js';
import { RESTARTER_FLAGS, restarterConfig } from '../../src/app/restarter-config.js';
import { requireControlPlaneBinaries, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { requireHelm, runHelm } from '../support/helm.js';
import { projectRoot } from '../support/project-root.js';

/**
 * The install artefacts an operator applies: deploy/*.yaml (kubectl) and the Helm chart, rendered with its
 * defaults and with every feature on. Checked with `helm lint`, by reading the rendered DaemonSet against the
 * driver's own flag parser, and by a server-side dry run of every object against a real kube-apiserver.
 */
const ROOT = projectRoot(import.meta.url);
const CHART = 'deploy/charts/secrets-store-csi-driver';
const ALL_FEATURES = `${CHART}/ci/all-features-values.yaml`;
const KUBE_VERSION = '1.34.4';
const NODE = 'node-1';
/** The DaemonSet of Linux nodes, as the chart names it for the release `csi-secrets-store`. */
const LINUX_DAEMONSET = 'csi-secrets-store-secrets-store-csi-driver';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { privileged?: boolean };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
}

interface DaemonSet extends K8sObject {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName: string;
        priorityClassName?: string;
        containers: Container[];
        volumes: { name: string; hostPath?: { path: string }; emptyDir?: unknown }[];
      };
    };
  };
}

function documents(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((document) => {
    if (document.errors.length > 0) throw new Error(`${source}: ${document.errors[0]!.message}`);
    const object = document.toJSON() as K8sObject | null;
    return object ? [object] : [];
  });
}

/** Every deploy/**.yaml manifest file (not the chart), relative to the checkout. */
function deployFiles(dir = join(ROOT, 'deploy')): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'charts' ? [] : deployFiles(path);
      return entry.name.endsWith('.yaml') ? [relative(ROOT, path)] : [];
    })
    .sort();
}

const readValues = (file: string): Record<string, unknown> => parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>;
const find = (objects: readonly K8sObject[], kind: string, name?: string): K8sObject | undefined =>
  objects.find((object) => object.kind === kind && (name === undefined || object.metadata.name === name));

function driverContainer(daemonSet: DaemonSet): Container {
  const container = daemonSet.spec.template.spec.containers.find((c) => c.name === 'secrets-store');
  expect(container, 'the DaemonSet has a secrets-store container').not.to.equal(undefined);
  return container!;
}

/** Kubernetes' `$(VAR)` expansion of container args, with the pod's node name for fieldRef variables. */
function expandArgs(container: Container): string[] {
  const env = new Map<string, string>();
  for (const variable of container.env ?? []) env.set(variable.name, variable.value ?? (variable.valueFrom ? NODE : ''));
  return (container.args ?? []).map((arg) => arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env.get(name) ?? whole));
}

/**
 * The driver's own parse of the DaemonSet's command line: the subcommand, every flag it was given (by name)
 * and the parsed values; throws the driver's UsageError for an unknown flag or a bad value, and the config
 * validation error for a bad combination.
 */
function parseDriverArgs(container: Container): { given: Set<string>; values: Record<string, FlagValue> } {
  const [command, ...args] = expandArgs(container);
  expect(command, 'first argument: the subcommand').to.equal('driver');
  const values = parseFlags(DRIVER_FLAGS, args, {});
  driverConfig(values);
  const given = new Set(args.map((arg) => /^--?([^=]+)/.exec(arg)![1]!));
  return { given, values };
}

/** The value a single `--name=value` parses to, as the command with these flags sees it. */
const parsedFlag = (name: string, value: unknown, flags: readonly FlagDefinition[] = DRIVER_FLAGS): FlagValue => parseFlags(flags, [`--${name}=${String(value)}`], {})[name]!;

interface RestarterDeployment extends K8sObject {
  spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: Container[]; securityContext?: { runAsNonRoot?: boolean } } } };
}

/** The restarter's own parse of its Deployment's command line (its pod's env: POD_NAME, POD_NAMESPACE). */
function parseRestarterArgs(deployment: RestarterDeployment): { given: Set<string>; values: Record<string, FlagValue>; container: Container } {
  const container = deployment.spec.template.spec.containers.find((c) => c.name === 'restarter')!;
  expect(container, 'the Deployment has a restarter container').not.to.equal(undefined);
  const [command, ...args] = container.args ?? [];
  expect(command, 'first argument: the subcommand').to.equal('restarter');
  const values = parseFlags(RESTARTER_FLAGS, args, { POD_NAME: 'restarter-abc12', POD_NAMESPACE: deployment.metadata.namespace });
  restarterConfig(values);
  expect((container.env ?? []).map((variable) => variable.name)).to.include.members(['POD_NAME', 'POD_NAMESPACE']);
  return { given: new Set(args.map((arg) => /^--?([^=]+)/.exec(arg)![1]!)), values, container };
}

/** What the chart's values ask the driver for, as flag name -> the value given in the values file. */
function flagsAskedFor(values: Record<string, unknown>): Map<string, unknown> {
  const linux = (values['linux'] ?? {}) as Record<string, unknown>;
  const asked = new Map<string, unknown>();
  const set = (flag: string, value: unknown): void => {
    if (value !== undefined && value !== null && value !== '') asked.set(flag, value);
  };
  set('provider-volume', linux['providersDir']);
  if (Array.isArray(linux['additionalProvidersDirs'])) set('additional-provider-volume-paths', (linux['additionalProvidersDirs'] as string[]).join(','));
  set('kubelet-root', typeof linux['kubeletRootDir'] === 'string' ? (linux['kubeletRootDir'] as string).replace(/\/+$/, '') : undefined);
  set('metrics-addr', linux['metricsAddr']);
  set('health-addr', linux['healthAddr']);
  set('v', values['logVerbosity']);
  if (values['logFormatJSON'] === true) set('log-format-json', true);
  set('max-call-recv-msg-size', values['maxCallRecvMsgSize']);
  set('enable-secret-rotation', values['enableSecretRotation']);
  set('rotation-poll-interval', values['rotationPollInterval']);
  set('min-rotation-poll-interval', values['minRotationPollInterval']);
  set('rotation-jitter', values['rotationJitter']);
  set('rotation-workers', values['rotationWorkers']);
  set('rotation-call-timeout', values['rotationCallTimeout']);
  set('payload-memory-budget', values['payloadMemoryBudget']);
  set('provider-qps', values['providerQPS']);
  set('provider-burst', values['providerBurst']);
  set('provider-health-check', values['providerHealthCheck']);
  set('provider-health-check-interval', values['providerHealthCheckInterval']);
  return asked;
}

/**
 * The kubelet-facing wiring every install must get right: registration path and plugin dir under the kubelet
 * root, the pods dir mounted Bidirectional at the same path, provider dirs from the host at the paths the
 * flags name, the liveness port shared by the sidecar and the driver's probe.
 */
function expectNodeWiring(daemonSet: DaemonSet, kubeletRoot: string, providerDirs: readonly string[]): void {
  const spec = daemonSet.spec.template.spec;
  const volumes = new Map(spec.volumes.map((volume) => [volume.name, volume]));
  const hostPathOf = (mount: { name: string }): string | undefined => volumes.get(mount.name)?.hostPath?.path?.replace(/\/+$/, '');
  const registrar = spec.containers.find((c) => c.name === 'node-driver-registrar')!;
  const probe = spec.containers.find((c) => c.name === 'liveness-probe')!;
  const driver = driverContainer(daemonSet);
  expect(registrar.args).to.include('--csi-address=/csi/csi.sock');
  expect(registrar.args).to.include(`--kubelet-registration-path=${kubeletRoot}/plugins/csi-secrets-store/csi.sock`);
  for (const container of [registrar, driver, probe]) {
    const csi = container.volumeMounts!.find((mount) => mount.mountPath === '/csi')!;
    expect(hostPathOf(csi), `${container.name} /csi`).to.equal(`${kubeletRoot}/plugins/csi-secrets-store`);
  }
  expect(hostPathOf(registrar.volumeMounts!.find((mount) => mount.mountPath === '/registration')!)).to.equal(`${kubeletRoot}/plugins_registry`);
  const pods = driver.volumeMounts!.find((mount) => mount.mountPath === `${kubeletRoot}/pods`);
  expect(pods, 'the kubelet pods dir is mounted at its host path').not.to.equal(undefined);
  expect(pods!.mountPropagation).to.equal('Bidirectional');
  expect(hostPathOf(pods!)).to.equal(`${kubeletRoot}/pods`);
  for (const dir of providerDirs) {
    const mount = driver.volumeMounts!.find((m) => m.mountPath === dir);
    expect(mount, `provider dir ${dir} mounted`).not.to.equal(undefined);
    expect(hostPathOf(mount!)).to.equal(dir);
  }
  expect(driver.securityContext?.privileged).to.equal(true);
  expect(driver.env).to.deep.include({ name: 'CSI_ENDPOINT', value: 'unix:///csi/csi.sock' });
  const healthz = driver.ports!.find((port) => port.name === 'healthz')!;
  expect(driver.livenessProbe?.httpGet).to.deep.equal({ path: '/healthz', port: 'healthz' });
  expect(probe.args).to.include('--csi-address=/csi/csi.sock');
  expect(probe.args).to.include(`--http-endpoint=0.0.0.0:${healthz.containerPort}`);
  expect(driver.resources?.requests?.['memory'], 'memory request').to.be.a('string');
  expect(driver.resources?.limits?.['memory'], 'memory limit').to.be.a('string');
}

describe('deploy/daemonset.yaml read back by the driver flag parser', () => {
  it('deploy/daemonset.yaml passes the driver only flags it accepts, with the kubelet wiring of the default paths', () => {
    const [daemonSet] = documents(readFileSync(join(ROOT, 'deploy/daemonset.yaml'), 'utf8'), 'deploy/daemonset.yaml') as DaemonSet[];
    const { values } = parseDriverArgs(driverContainer(daemonSet!));
    expect(values['endpoint']).to.equal('unix:///csi/csi.sock');
    expect(values['nodeid']).to.equal(NODE);
    expectNodeWiring(daemonSet!, '/var/lib/kubelet', ['/var/run/secrets-store-csi-providers', '/etc/kubernetes/secrets-store-csi-providers']);
  });

  it('deploy/restarter.yaml passes the restarter only flags it accepts, as its ServiceAccount of deploy/rbac/restarter.yaml, not as root', () => {
    const [deployment] = documents(readFileSync(join(ROOT, 'deploy/restarter.yaml'), 'utf8'), 'deploy/restarter.yaml') as RestarterDeployment[];
    const { values, container } = parseRestarterArgs(deployment!);
    expect(values['debounce-window']).to.equal(30_000);
    expect(deployment!.spec.template.spec.serviceAccountName).to.equal('secrets-store-csi-restarter');
    expect(deployment!.spec.template.spec.securityContext?.runAsNonRoot).to.equal(true);
    const rbac = documents(readFileSync(join(ROOT, 'deploy/rbac/restarter.yaml'), 'utf8'), 'deploy/rbac/restarter.yaml');
    expect(find(rbac, 'ServiceAccount', 'secrets-store-csi-restarter')?.metadata.namespace).to.equal(deployment!.metadata.namespace);
    const chart = readValues(`${CHART}/values.yaml`)['restarter'] as { resources: unknown; maxOldSpaceSizeMiB: number };
    expect(container.resources, 'the measured resources of the chart defaults').to.deep.equal(chart.resources);
    expect(container.env).to.deep.include({ name: 'NODE_OPTIONS', value: `--max-old-space-size=${chart.maxOldSpaceSizeMiB}` });
  });

  it('has the measured resources and heap cap of the chart defaults', () => {
    const [daemonSet] = documents(readFileSync(join(ROOT, 'deploy/daemonset.yaml'), 'utf8'), 'deploy/daemonset.yaml') as DaemonSet[];
    const driver = driverContainer(daemonSet!);
    const chartDriver = (readValues(`${CHART}/values.yaml`)['linux'] as {
      driver: { resources: unknown; maxOldSpaceSizeMiB: number; maxSemiSpaceSizeMiB: number; mallocTunables: string };
    }).driver;
    expect(driver.resources).to.deep.equal(chartDriver.resources);
    expect(driver.env).to.deep.include({
      name: 'NODE_OPTIONS',
      value: `--max-old-space-size=${chartDriver.maxOldSpaceSizeMiB} --max-semi-space-size=${chartDriver.maxSemiSpaceSizeMiB}`,
    });
    expect(chartDriver.mallocTunables).to.match(/^glibc\.malloc\./);
    expect(driver.env).to.deep.include({ name: 'GLIBC_TUNABLES', value: chartDriver.mallocTunables });
  });
});

describe('deploy/ and the Helm chart: rendered, linted, read back by the driver flag parser', function () {
  this.timeout(120_000);
  let helm: string;
  let byDefault: K8sObject[];
  let allFeatures: K8sObject[];

  const template = async (namespace: string, ...extra: string[]): Promise<K8sObject[]> =>
    documents(await runHelm(helm, ['template', 'csi-secrets-store', CHART, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...extra]), 'helm template');

  before(async function () {
    helm = requireHelm(this);
    byDefault = await template('kube-system');
    allFeatures = await template('kube-system', '-f', ALL_FEATURES);
  });

  it('passes helm lint --strict with the default values and with every feature on', async () => {
    await runHelm(helm, ['lint', '--strict', CHART]);
    await runHelm(helm, ['lint', '--strict', CHART, '-f', ALL_FEATURES]);
  });

  it('renders the CRDs of deploy/crds unchanged, kept on uninstall', () => {
    for (const file of readdirSync(join(ROOT, 'deploy/crds')).filter((name) => name.endsWith('.yaml'))) {
      expect(readFileSync(join(ROOT, CHART, 'files/crds', file), 'utf8'), `${CHART}/files/crds/${file} = deploy/crds/${file}`).to.equal(
        readFileSync(join(ROOT, 'deploy/crds', file), 'utf8'),
      );
      const [source] = documents(readFileSync(join(ROOT, 'deploy/crds', file), 'utf8'), file);
      const rendered = find(byDefault, 'CustomResourceDefinition', source!.metadata.name)!;
      expect(rendered, source!.metadata.name).not.to.equal(undefined);
      expect(rendered['spec']).to.deep.equal(source!['spec']);
      expect(rendered.metadata.annotations).to.include({ 'helm.sh/resource-policy': 'keep' });
    }
  });

  it('renders the upstream object names: CSIDriver, ServiceAccount and ClusterRoles, sync, rotation and token roles only when asked for', () => {
    const names = (objects: K8sObject[]): string[] => objects.map((object) => `${object.kind}/${object.metadata.name}`).sort();
    expect(names(byDefault)).to.deep.equal([
      'CSIDriver/secrets-store.csi.k8s.io',
      'ClusterRole/secretproviderclasses-admin-role',
      'ClusterRole/secretproviderclasses-role',
      'ClusterRole/secretproviderclasses-viewer-role',
      'ClusterRole/secretproviderclasspodstatuses-viewer-role',
      'ClusterRoleBinding/secretproviderclasses-rolebinding',
      'CustomResourceDefinition/secretproviderclasses.secrets-store.csi.x-k8s.io',
      'CustomResourceDefinition/secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io',
      'DaemonSet/csi-secrets-store-secrets-store-csi-driver',
      'ServiceAccount/secrets-store-csi-driver',
    ]);
    expect(names(allFeatures)).to.include.members([
      'ClusterRole/secretprovidersyncing-role',
      'ClusterRoleBinding/secretprovidersyncing-rolebinding',
      'ClusterRole/secretproviderrotation-role',
      'ClusterRoleBinding/secretproviderrotation-rolebinding',
      'ClusterRole/secretprovidertokenrequest-role',
      'ClusterRoleBinding/secretprovidertokenrequest-rolebinding',
      'ServiceAccount/secrets-store-csi-restarter',
      'ClusterRole/secretproviderrestarter-role',
      'ClusterRoleBinding/secretproviderrestarter-rolebinding',
      'Role/secretproviderrestarter-leader-election-role',
      'RoleBinding/secretproviderrestarter-leader-election-rolebinding',
      'Deployment/secrets-store-csi-restarter',
    ]);
    const csiDriver = (objects: K8sObject[]): Record<string, unknown> => find(objects, 'CSIDriver')!['spec'] as Record<string, unknown>;
    // requiresRepublish follows enableSecretRotation, as upstream's chart has it, unless set.
    expect(csiDriver(byDefault)).to.deep.equal({ attachRequired: false, podInfoOnMount: true, fsGroupPolicy: 'File', volumeLifecycleModes: ['Ephemeral'], requiresRepublish: false });
    expect(csiDriver(allFeatures)['requiresRepublish']).to.equal(true);
    expect(csiDriver(allFeatures)['tokenRequests']).to.deep.equal(readValues(ALL_FEATURES)['tokenRequests']);
    const daemonSet = find(byDefault, 'DaemonSet', LINUX_DAEMONSET) as DaemonSet;
    expect(daemonSet.spec.selector.matchLabels, 'the selector upstream releases of this chart use (immutable on upgrade)').to.deep.equal({ app: 'secrets-store-csi-driver' });
  });

  it('grants in the chart exactly the ClusterRole and Role rules of deploy/rbac, each role by the same name', () => {
    const files = deployFiles().filter((file) => file.startsWith('deploy/rbac/'));
    const roles = files.flatMap((file) => documents(readFileSync(join(ROOT, file), 'utf8'), file)).filter((object) => object.kind === 'ClusterRole' || object.kind === 'Role');
    expect(roles.map((role) => role.metadata.name)).to.include.members([
      'secretproviderclasses-role',
      'secretproviderrotation-role',
      'secretprovidertokenrequest-role',
      'secretproviderrestarter-role',
      'secretproviderrestarter-leader-election-role',
    ]);
    for (const role of roles) {
      const rendered = find(allFeatures, role.kind, role.metadata.name);
      expect(rendered, `the chart renders ${role.kind} ${role.metadata.name}`).not.to.equal(undefined);
      expect(rendered!['rules'], `rules of ${role.metadata.name}`).to.deep.equal(role['rules']);
    }
  });

  it('renders the restarter only with restarter.enabled, passing it every flag its values ask for', () => {
    expect(byDefault.filter((object) => object.metadata.name.includes('restarter'))).to.deep.equal([]);
    const deployment = find(allFeatures, 'Deployment', 'secrets-store-csi-restarter') as RestarterDeployment;
    const { given, values } = parseRestarterArgs(deployment);
    const asked = (readValues(ALL_FEATURES)['restarter'] ?? {}) as Record<string, unknown>;
    const flags: Record<string, string> = {
      debounceWindow: 'debounce-window',
      minRestartInterval: 'min-restart-interval',
      clusterRestartQPS: 'cluster-restart-qps',
      clusterRestartBurst: 'cluster-restart-burst',
      metricsAddr: 'metrics-addr',
      healthAddr: 'health-addr',
    };
    for (const [key, flag] of Object.entries(flags)) {
      expect(given.has(flag), `--${flag} is passed`).to.equal(true);
      expect(values[flag], `--${flag}`).to.deep.equal(parsedFlag(flag, asked[key], RESTARTER_FLAGS));
    }
    expect(values['leader-election-lease-name']).to.equal('secrets-store-csi-restarter');
    expect(deployment.spec.replicas).to.equal(asked['replicas']);
    expect(deployment.spec.template.spec.serviceAccountName).to.equal('secrets-store-csi-restarter');
  });

  for (const [label, valuesFile] of [
    ['default values', `${CHART}/values.yaml`],
    ['all-features values', ALL_FEATURES],
  ] as const) {
    it(`passes the driver every flag the ${label} ask for, each one the driver accepts`, () => {
      const objects = label === 'default values' ? byDefault : allFeatures;
      const values = { ...readValues(`${CHART}/values.yaml`), ...readValues(valuesFile) };
      values['linux'] = { ...(readValues(`${CHART}/values.yaml`)['linux'] as object), ...(readValues(valuesFile)['linux'] as object | undefined) };
      const daemonSet = find(objects, 'DaemonSet', LINUX_DAEMONSET) as DaemonSet;
      const { given, values: parsed } = parseDriverArgs(driverContainer(daemonSet));
      const asked = flagsAskedFor(values);
      expect(asked.size).to.be.greaterThan(label === 'default values' ? 8 : 16);
      for (const [flag, value] of asked) {
        expect(given.has(flag), `--${flag} is passed`).to.equal(true);
        expect(parsed[flag], `--${flag}`).to.deep.equal(parsedFlag(flag, value));
      }
      const linux = values['linux'] as { kubeletRootDir: string; providersDir: string; additionalProvidersDirs: string[] };
      expectNodeWiring(daemonSet, linux.kubeletRootDir.replace(/\/+$/, ''), [linux.providersDir, ...linux.additionalProvidersDirs]);
    });
  }

  it('wires the all-features values into the pod: image, priority, node selection, extra env and volumes, readiness', () => {
    const daemonSet = find(allFeatures, 'DaemonSet', LINUX_DAEMONSET) as DaemonSet;
    const driver = driverContainer(daemonSet);
    const spec = daemonSet.spec.template.spec;
    expect(driver.image).to.equal('registry.example.com/secrets-store-csi:0.1.0-test');
    expect(spec.priorityClassName).to.equal('system-node-critical');
    expect(driver.env).to.deep.include({ name: 'EXTRA', value: '1' });
    expect(driver.env).to.deep.include({ name: 'NODE_OPTIONS', value: '--max-old-space-size=192 --max-semi-space-size=1' });
    expect(driver.env).to.deep.include({ name: 'GLIBC_TUNABLES', value: 'glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=131072' });
    expect(driver.volumeMounts).to.deep.include({ name: 'scratch', mountPath: '/scratch' });
    expect(spec.volumes).to.deep.include({ name: 'scratch', emptyDir: {} });
    expect(driver.readinessProbe?.httpGet).to.deep.equal({ path: '/readyz', port: 'health' });
    expect(driver.ports).to.deep.include({ name: 'health', containerPort: 9810, protocol: 'TCP' });
    expect(daemonSet.spec.template.metadata.labels).to.include({ tier: 'node', team: 'platform', app: 'secrets-store-csi-driver' });
  });

  it('serves Windows nodes, when asked, with the upstream driver\'s Windows image in a second DaemonSet', () => {
    expect(find(byDefault, 'DaemonSet', `${LINUX_DAEMONSET}-windows`)).to.equal(undefined);
    const windows = find(allFeatures, 'DaemonSet', `${LINUX_DAEMONSET}-windows`) as DaemonSet | undefined;
    expect(windows, 'the Windows DaemonSet').not.to.equal(undefined);
    expect(windows!.spec.template.spec.containers.map((container) => container.image)).to.include('registry.k8s.io/csi-secrets-store/driver:v1.6.0');
    expect(windows!.spec.template.spec.serviceAccountName).to.equal('secrets-store-csi-driver');
  });
});

describe('deploy/ and the Helm chart: server-side dry run on a real API server', function () {
  this.timeout(180_000);
  let plane: ControlPlane | undefined;
  let helm: string;
  const resourcePaths = new Map<string, { plural: string; namespaced: boolean }>();

  before(async function () {
    helm = requireHelm(this);
    plane = await startControlPlane(requireControlPlaneBinaries(this));
  });
  after(async () => plane?.stop());

  function call(method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${plane!.server}${path}`,
        {
          method,
          rejectUnauthorized: false,
          headers: { authorization: `Bearer ${plane!.adminToken}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': contentType }) },
          timeout: 30_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.end(body);
    });
  }

  /** Discovery, as kubectl does it: the resource name and scope of a kind. */
  async function resourceOf(apiVersion: string, kind: string): Promise<{ base: string; plural: string; namespaced: boolean }> {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const key = `${base}|${kind}`;
    if (!resourcePaths.has(key)) {
      const response = await call('GET', base);
      expect(response.status, `discovery ${base}: ${response.body}`).to.equal(200);
      const list = JSON.parse(response.body) as { resources: { name: string; kind: string; namespaced: boolean }[] };
      for (const resource of list.resources.filter((r) => !r.name.includes('/'))) {
        resourcePaths.set(`${base}|${resource.kind}`, { plural: resource.name, namespaced: resource.namespaced });
      }
    }
    const found = resourcePaths.get(key);
    if (!found) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
    return { base, ...found };
  }

  /**
   * Server-side apply with dryRun=All and strict field validation: admission, defaulting, schema and
   * field validation all run, nothing is stored. Resolves the object the server would have stored.
   */
  async function dryRunApply(object: K8sObject, source: string): Promise<K8sObject> {
    const { base, plural, namespaced } = await resourceOf(object.apiVersion, object.kind);
    const namespace = object.metadata.namespace;
    if (namespaced && !namespace) throw new Error(`${source}: ${object.kind}/${object.metadata.name} has no namespace`);
    if (!namespaced && namespace) throw new Error(`${source}: cluster-scoped ${object.kind}/${object.metadata.name} has a namespace`);
    const path = `${base}/${namespaced ? `namespaces/${namespace}/` : ''}${plural}/${object.metadata.name}`;
    const query = 'dryRun=All&fieldManager=deploy-manifests-test&force=true&fieldValidation=Strict';
    const response = await call('PATCH', `${path}?${query}`, JSON.stringify(object), 'application/apply-patch+yaml');
    if (response.status !== 200 && response.status !== 201) {
      throw new Error(`${source}: ${object.kind}/${object.metadata.name} rejected by the API server (${response.status}): ${response.body}`);
    }
    const stored = await call('GET', path);
    const preexisting = object.kind === 'CustomResourceDefinition'; // test/support/control-plane.ts applies deploy/crds itself
    if (!preexisting) expect(stored.status, `${source}: dry run stored ${object.kind}/${object.metadata.name}`).to.equal(404);
    return JSON.parse(response.body) as K8sObject;
  }

  async function dryRunAll(objects: readonly K8sObject[], source: string): Promise<K8sObject[]> {
    expect(objects.length, `${source} has objects`).to.be.greaterThan(0);
    const accepted: K8sObject[] = [];
    for (const object of objects) accepted.push(await dryRunApply(object, source));
    return accepted;
  }

  it('accepts every object of every deploy/*.yaml file', async () => {
    const files = deployFiles();
    expect(files).to.include.members(['deploy/csidriver.yaml', 'deploy/daemonset.yaml', 'deploy/rbac/base.yaml', 'deploy/crds/secretproviderclasses.yaml']);
    for (const file of files) {
      const accepted = await dryRunAll(documents(readFileSync(join(ROOT, file), 'utf8'), file), file);
      const daemonSet = accepted.find((object) => object.kind === 'DaemonSet') as DaemonSet | undefined;
      if (daemonSet) expect(driverContainer(daemonSet).resources?.limits?.['memory']).to.be.a('string');
    }
  });

  it('accepts every object the chart renders with its default values, in any release namespace', async () => {
    const namespace = await plane!.createNamespace('chart-default');
    const objects = documents(
      await runHelm(helm, ['template', 'csi-secrets-store', CHART, '--namespace', namespace, '--kube-version', KUBE_VERSION]),
      'helm template (default values)',
    );
    const accepted = await dryRunAll(objects, 'helm template (default values)');
    const binding = accepted.find((object) => object.kind === 'ClusterRoleBinding')!;
    expect((binding['subjects'] as { namespace: string }[])[0]!.namespace).to.equal(namespace);
  });

  it('accepts every object the chart renders with every feature on', async () => {
    const objects = documents(
      await runHelm(helm, ['template', 'csi-secrets-store', CHART, '--namespace', 'kube-system', '--kube-version', KUBE_VERSION, '-f', ALL_FEATURES]),
      'helm template (all features)',
    );
    const accepted = await dryRunAll(objects, 'helm template (all features)');
    const daemonSet = accepted.find((object) => object.kind === 'DaemonSet' && object.metadata.name === LINUX_DAEMONSET) as DaemonSet;
    // The server kept every field the chart set, the driver's arguments included.
    expect(daemonSet.spec.template.spec.priorityClassName).to.equal('system-node-critical');
    expect(driverContainer(daemonSet).args).to.deep.equal(driverContainer(find(objects, 'DaemonSet', LINUX_DAEMONSET) as DaemonSet).args);
  });

  it('rejects a broken object (the dry run is not a rubber stamp)', async () => {
    const [daemonSet] = documents(readFileSync(join(ROOT, 'deploy/daemonset.yaml'), 'utf8'), 'deploy/daemonset.yaml') as DaemonSet[];
    const broken = structuredClone(daemonSet!);
    (broken.spec.template.spec.containers[1] as unknown as Record<string, unknown>)['mountPropagaton'] = 'Bidirectional';
    const failure = await dryRunApply(broken, 'broken').then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(failure).to.match(/mountPropagaton: field not declared in schema|unknown field "mountPropagaton"/);
  });
});
