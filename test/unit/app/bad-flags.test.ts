import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKE_PROVIDER_FLAGS } from '../../../src/app/commands/fake-provider-command.js';
import { SIMULATE_FLAGS } from '../../../src/app/commands/simulate-command.js';
import { PUBLISH_FLAGS, UNPUBLISH_FLAGS } from '../../../src/app/commands/volume-commands.js';
import { DRIVER_FLAGS } from '../../../src/app/config.js';
import { RESTARTER_FLAGS } from '../../../src/app/restarter-config.js';
import type { FlagDefinition } from '../../../src/app/flags.js';
import { runInMemory } from '../../support/memory-cli-io.js';

/** One bad command line: the flags to add to a good one, and a fragment of the message. */
interface BadCase {
  readonly argv: readonly string[];
  readonly says: string;
}

/** Per flag: its bad values, or (as a string) why it has none. */
type FlagTable = Readonly<Record<string, readonly BadCase[] | string>>;

const bad = (flag: string, value: string, says: string, ...more: string[]): BadCase => ({ argv: [...more, `--${flag}=${value}`], says });
const notBool = (flag: string): BadCase[] => [bad(flag, 'maybe', 'expected true or false'), bad(flag, '', 'expected true or false')];

interface Context {
  readonly dir: string;
  readonly heldPort: number;
}

/** Every flag of the driver, with what a bad value of it is told. */
function driverTable({ dir, heldPort }: Context): FlagTable {
  const duration = (flag: string): BadCase[] => [
    bad(flag, 'soon', 'expected a duration such as 30s, 2m or 1h30m'),
    bad(flag, '5', 'expected a duration such as'),
    bad(flag, '0s', 'expected a duration greater than zero'),
    bad(flag, '-1m', 'expected a duration greater than zero'),
  ];
  const address = (flag: string): BadCase[] => [
    bad(flag, '8095', 'expected host:port such as :8095'),
    bad(flag, ':http', 'expected host:port'),
    bad(flag, ':70000', 'out of range'),
    bad(flag, '', 'expected host:port'),
  ];
  return {
    endpoint: [
      bad('endpoint', 'unix://tmp/csi.sock', 'expected unix:///absolute/path.sock'),
      bad('endpoint', '/tmp/csi.sock', 'expected unix:///absolute/path.sock'),
      bad('endpoint', 'unix:///tmp/dir/', 'expected unix:///absolute/path.sock'),
      bad('endpoint', '', 'expected unix:///absolute/path.sock'),
      bad('endpoint', `unix:///tmp/${'a'.repeat(110)}.sock`, 'at most 107 bytes'),
    ],
    drivername: [
      bad('drivername', '', 'expected a CSI driver name'),
      bad('drivername', '-secrets-store', 'expected a CSI driver name'),
      bad('drivername', 'secrets store', 'expected a CSI driver name'),
      bad('drivername', 'd'.repeat(64), 'expected a CSI driver name'),
    ],
    nodeid: [bad('nodeid', '', '"--nodeid" is required'), bad('nodeid', '  ', '"--nodeid" is required'), bad('nodeid', 'node/1', 'expected a node name'), bad('nodeid', 'n'.repeat(64), 'expected a node name')],
    'provider-volume': [bad('provider-volume', '', 'expected a directory (it may not be empty)'), bad('provider-volume', ' ', 'may not be empty')],
    'additional-provider-volume-paths': 'any list of directories; empty items are dropped and an empty list is allowed',
    'metrics-addr': address('metrics-addr'),
    'metrics-backend': [bad('metrics-backend', 'otel', 'expected prometheus'), bad('metrics-backend', '', 'expected prometheus')],
    'enable-secret-rotation': notBool('enable-secret-rotation'),
    'rotation-poll-interval': duration('rotation-poll-interval'),
    'max-call-recv-msg-size': [
      bad('max-call-recv-msg-size', '4MB', 'expected an integer'),
      bad('max-call-recv-msg-size', '0', 'expected a size in bytes from 1 to 2147483647'),
      bad('max-call-recv-msg-size', '2147483648', 'expected a size in bytes from 1 to 2147483647'),
    ],
    'provider-health-check': notBool('provider-health-check'),
    'provider-health-check-interval': duration('provider-health-check-interval'),
    'log-format-json': notBool('log-format-json'),
    v: [bad('v', '-1', 'expected a verbosity of 0 or more'), bad('v', 'loud', 'expected an integer'), bad('v', '1.5', 'expected an integer')],
    'enable-pprof': notBool('enable-pprof'),
    'pprof-port': [
      bad('pprof-port', '-1', 'expected a port from 0 to 65535'),
      bad('pprof-port', '65536', 'expected a port from 0 to 65535'),
      bad('pprof-port', 'x', 'expected an integer'),
      bad('pprof-port', String(heldPort), `"--pprof-port" and "--metrics-addr" name the same port ${heldPort}`, '--enable-pprof'),
    ],
    kubeconfig: [
      bad('kubeconfig', join(dir, 'no-such-kubeconfig'), `invalid value "${join(dir, 'no-such-kubeconfig')}" for flag "--kubeconfig"`, '--cluster=kubernetes'),
      bad('kubeconfig', join(dir, 'not-a-kubeconfig.yaml'), 'for flag "--kubeconfig"', '--cluster=kubernetes'),
      bad('kubeconfig', '', 'no kubeconfig: pass --kubeconfig (or set KUBECONFIG)', '--cluster=kubernetes'),
    ],
    version: notBool('version'),
    help: notBool('help'),
    add_dir_header: notBool('add_dir_header'),
    alsologtostderr: notBool('alsologtostderr'),
    log_backtrace_at: [bad('log_backtrace_at', 'main', 'expected file.go:N'), bad('log_backtrace_at', 'main.go', 'expected file.go:N'), bad('log_backtrace_at', 'main.go:0', 'expected file.go:N')],
    log_dir: 'any directory (accepted and ignored, as logs go to stderr)',
    log_file: 'any file (accepted and ignored, as logs go to stderr)',
    log_file_max_size: [bad('log_file_max_size', '-1', 'expected a size in megabytes'), bad('log_file_max_size', '1MB', 'expected an integer')],
    logtostderr: notBool('logtostderr'),
    one_output: notBool('one_output'),
    skip_headers: notBool('skip_headers'),
    skip_log_headers: notBool('skip_log_headers'),
    stderrthreshold: [bad('stderrthreshold', 'DEBUG', 'expected INFO, WARNING, ERROR or FATAL'), bad('stderrthreshold', '', 'expected INFO, WARNING, ERROR or FATAL')],
    vmodule: [bad('vmodule', 'csi-server', 'expected a comma-separated list of pattern=N'), bad('vmodule', 'a=', 'pattern=N'), bad('vmodule', '=1', 'pattern=N'), bad('vmodule', 'a=b', 'pattern=N')],
    'httptest.serve': 'any address (a Go test hook, accepted and ignored)',
    'health-addr': [...address('health-addr'), bad('health-addr', '0', 'expected host:port')],
    'kubelet-root': [bad('kubelet-root', 'var/lib/kubelet', 'expected an absolute path'), bad('kubelet-root', '', 'expected an absolute path')],
    'min-rotation-poll-interval': [
      ...duration('min-rotation-poll-interval'),
      bad('min-rotation-poll-interval', '10s', '"--min-rotation-poll-interval" (10s) must not exceed "--rotation-poll-interval" (5s)', '--rotation-poll-interval=5s'),
    ],
    'rotation-jitter': [bad('rotation-jitter', '2', 'expected a fraction from 0 to 1'), bad('rotation-jitter', '-0.1', 'expected a fraction from 0 to 1'), bad('rotation-jitter', 'x', 'expected a number')],
    'rotation-workers': [bad('rotation-workers', '0', 'expected a number greater than zero'), bad('rotation-workers', '1.5', 'expected an integer')],
    'provider-qps': [bad('provider-qps', '-1', 'expected calls per second (0 = unlimited)'), bad('provider-qps', 'fast', 'expected a number')],
    'provider-burst': [bad('provider-burst', '0', 'expected a number greater than zero'), bad('provider-burst', '1.5', 'expected an integer')],
    'rotation-call-timeout': duration('rotation-call-timeout'),
    'payload-memory-budget': [
      bad('payload-memory-budget', '-1', 'expected a size in bytes of 0 or more'),
      bad('payload-memory-budget', '64MiB', 'expected an integer'),
      bad('payload-memory-budget', '1000', 'must be 0 (derived) or at least'),
    ],
    cluster: [bad('cluster', 'etcd', 'expected kubernetes or memory'), bad('cluster', 'Memory', 'expected kubernetes or memory')],
    manifests: [
      bad('manifests', join(dir, 'objects.yaml'), 'flags "--manifests" and "--state-file" need "--cluster memory"', '--cluster=kubernetes', `--kubeconfig=${join(dir, 'no-such-kubeconfig')}`),
      bad('manifests', join(dir, 'no-such-manifests.yaml'), 'for flag "--manifests": '),
      bad('manifests', join(dir, 'broken.yaml'), 'broken.yaml, document 1: invalid YAML'),
    ],
    'builtin-kubelet': [...notBool('builtin-kubelet'), bad('builtin-kubelet', 'true', 'flag "--builtin-kubelet" needs "--cluster memory"', '--cluster=kubernetes')],
    'state-file': [
      bad('state-file', join(dir, 'state.yaml'), 'flags "--manifests" and "--state-file" need "--cluster memory"', '--cluster=kubernetes'),
      bad('state-file', dir, `invalid value "${dir}" for flag "--state-file": cannot read`),
      bad('state-file', join(dir, 'broken.yaml'), 'broken.yaml, document 1: invalid YAML'),
    ],
  };
}

function simulateTable(): FlagTable {
  return {
    pods: [bad('pods', '0', 'expected a number of pods from 1 to 500'), bad('pods', '501', 'from 1 to 500'), bad('pods', 'many', 'expected an integer')],
    interval: [bad('interval', '0s', 'expected a duration greater than zero'), bad('interval', 'fast', 'expected a duration such as')],
    'rotate-every': [bad('rotate-every', '-1s', 'expected a duration greater than zero'), bad('rotate-every', '4', 'expected a duration such as')],
    duration: [bad('duration', '-1s', 'expected auto, 0 or a duration such as 30s or 2m'), bad('duration', '10', 'expected auto, 0 or a duration'), bad('duration', 'forever', 'expected auto')],
    'kubelet-root': [bad('kubelet-root', 'relative/root', 'expected an absolute path')],
    v: [bad('v', '-1', 'expected a verbosity of 0 or more'), bad('v', 'x', 'expected an integer')],
    keep: notBool('keep'),
    help: notBool('help'),
  };
}

function fakeProviderTable(): FlagTable {
  return {
    endpoint: [bad('endpoint', 'unix://relative/fake.sock', 'expected unix:///absolute/path.sock'), bad('endpoint', '', 'expected unix:///absolute/path.sock')],
    'control-port': [bad('control-port', 'any', 'expected an integer'), bad('control-port', '-2', 'expected a port from -1 to 65535'), bad('control-port', '65536', 'from -1 to 65535')],
    latency: [bad('latency', '-1s', 'expected a duration of 0 or more'), bad('latency', 'slow', 'expected a duration such as')],
    help: notBool('help'),
  };
}

function volumeTable({ dir }: Context, command: 'publish' | 'unpublish'): FlagTable {
  const common: FlagTable = {
    endpoint: [bad('endpoint', 'unix://tmp/csi.sock', 'expected unix:///absolute/path.sock')],
    'kubelet-root': [bad('kubelet-root', 'kubelet', 'expected an absolute path')],
    'pod-namespace': [bad('pod-namespace', 'Default', 'expected a namespace name'), bad('pod-namespace', '', 'expected a namespace name')],
    'pod-name': [bad('pod-name', '', '"--pod-name" is required'), bad('pod-name', 'App_0', 'expected a pod name')],
    'pod-uid': [bad('pod-uid', '../other-pod', 'expected a uid of letters'), bad('pod-uid', 'a/b', 'expected a uid of letters')],
    volume: [bad('volume', '..', 'expected a volume name of letters'), bad('volume', 'a/b', 'expected a volume name')],
    timeout: [bad('timeout', '0s', 'expected a duration greater than zero'), bad('timeout', 'soon', 'expected a duration such as')],
    nodeid: 'any text: it only goes into the volume directory\'s vol_data.json, as kubelet writes its node name there',
    help: notBool('help'),
  };
  if (command === 'unpublish') return common;
  return {
    ...common,
    class: [bad('class', '', '"--class" is required'), bad('class', ' ', '"--class" is required')],
    'service-account': [bad('service-account', 'App', 'expected a service account name')],
    attribute: [bad('attribute', 'objects', 'expected key=value'), bad('attribute', '=x', 'expected key=value')],
    'secrets-file': [
      bad('secrets-file', join(dir, 'no-such-secrets.yaml'), 'for flag "--secrets-file": ENOENT'),
      bad('secrets-file', join(dir, 'secrets-list.yaml'), 'expected a map of names to string values'),
      bad('secrets-file', join(dir, 'secrets-number.yaml'), 'the value of "port" is not a string'),
      bad('secrets-file', join(dir, 'secrets-broken.yaml'), 'not YAML or JSON (line 2)'),
    ],
    readonly: notBool('readonly'),
  };
}

/** What every command line of a command starts with: good values, pointing at things held by the test. */
function goodArgs(command: string, { dir, heldPort }: Context): string[] {
  switch (command) {
    case 'driver':
      return [
        '--nodeid=node-1',
        '--cluster=memory',
        `--endpoint=unix://${join(dir, 'csi.sock')}`,
        `--metrics-addr=127.0.0.1:${heldPort}`,
        `--health-addr=127.0.0.1:${heldPort}`,
        `--kubelet-root=${join(dir, 'kubelet')}`,
        `--provider-volume=${join(dir, 'providers')}`,
        '--additional-provider-volume-paths=',
      ];
    case 'publish':
      return [`--endpoint=unix://${join(dir, 'csi.sock')}`, `--kubelet-root=${join(dir, 'kubelet')}`, '--pod-name=app-0', '--class=app-secrets'];
    case 'unpublish':
      return [`--endpoint=unix://${join(dir, 'csi.sock')}`, `--kubelet-root=${join(dir, 'kubelet')}`, '--pod-name=app-0'];
    case 'restarter':
      return [`--kubeconfig=${join(dir, 'no-such-kubeconfig')}`, `--metrics-addr=127.0.0.1:${heldPort}`, `--health-addr=127.0.0.1:${heldPort}`];
    default:
      return [];
  }
}

function restarterTable({ dir }: Context): FlagTable {
  const duration = (flag: string, says: string): BadCase[] => [bad(flag, 'soon', 'expected a duration such as'), bad(flag, '-1s', says)];
  return {
    kubeconfig: [
      bad('kubeconfig', join(dir, 'no-such-kubeconfig'), `invalid value "${join(dir, 'no-such-kubeconfig')}" for flag "--kubeconfig"`),
      bad('kubeconfig', '', 'no kubeconfig: pass --kubeconfig (or set KUBECONFIG)'),
    ],
    'metrics-addr': [bad('metrics-addr', 'nowhere', 'expected host:port'), bad('metrics-addr', ':70000', 'out of range')],
    'health-addr': [bad('health-addr', '9809', 'expected host:port'), bad('health-addr', '0', 'expected host:port')],
    'debounce-window': duration('debounce-window', 'expected a duration of 0 or more'),
    'min-restart-interval': duration('min-restart-interval', 'expected a duration of 0 or more'),
    'cluster-restart-qps': [bad('cluster-restart-qps', '-1', 'expected restarts per second (0 = unlimited) of 0 or more'), bad('cluster-restart-qps', 'x', 'expected a number')],
    'cluster-restart-burst': [bad('cluster-restart-burst', '0', 'expected a number greater than zero'), bad('cluster-restart-burst', '1.5', 'expected an integer')],
    'leader-elect': notBool('leader-elect'),
    'leader-election-namespace': [bad('leader-election-namespace', 'Kube_System', 'expected a namespace name'), bad('leader-election-namespace', '', 'expected a namespace name')],
    'leader-election-lease-name': [bad('leader-election-lease-name', 'a/b', 'expected a Lease name'), bad('leader-election-lease-name', '', 'expected a Lease name')],
    'leader-election-identity': 'any text (empty: the host name and a random suffix)',
    'leader-election-lease-duration': [
      ...duration('leader-election-lease-duration', 'expected a duration greater than zero'),
      bad('leader-election-lease-duration', '10s', 'lease duration must be longer than the renew deadline'),
    ],
    'leader-election-renew-deadline': [
      ...duration('leader-election-renew-deadline', 'expected a duration greater than zero'),
      bad('leader-election-renew-deadline', '2s', 'renew deadline must be longer than 1.2 x the retry period'),
    ],
    'leader-election-retry-period': duration('leader-election-retry-period', 'expected a duration greater than zero'),
    'log-format-json': notBool('log-format-json'),
    v: [bad('v', '-1', 'expected a verbosity of 0 or more'), bad('v', 'x', 'expected an integer')],
    version: notBool('version'),
    help: notBool('help'),
  };
}

const COMMANDS: ReadonlyArray<[string, readonly FlagDefinition[], (context: Context) => FlagTable]> = [
  ['driver', DRIVER_FLAGS, driverTable],
  ['simulate', SIMULATE_FLAGS, simulateTable],
  ['fake-provider', FAKE_PROVIDER_FLAGS, fakeProviderTable],
  ['publish', PUBLISH_FLAGS, (context) => volumeTable(context, 'publish')],
  ['unpublish', UNPUBLISH_FLAGS, (context) => volumeTable(context, 'unpublish')],
  ['restarter', RESTARTER_FLAGS, restarterTable],
];

/**
 * Every bad value of every flag of every command exits 2 with a message naming the flag and the expected
 * form, before anything listens: the test holds the port the driver's endpoints are given and puts a
 * directory where its CSI socket goes, so a command that started a listener first would exit 1 instead.
 */
describe('app/cli bad flag values (every flag of every command)', () => {
  let dir: string;
  let held: Server;
  let context: Context;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bad-flags-'));
    await mkdir(join(dir, 'csi.sock'));
    await writeFile(join(dir, 'not-a-kubeconfig.yaml'), 'clusters: [\n');
    await writeFile(join(dir, 'broken.yaml'), 'kind: [\n');
    await writeFile(join(dir, 'secrets-list.yaml'), '- a\n- b\n');
    await writeFile(join(dir, 'secrets-number.yaml'), 'port: 5432\n');
    await writeFile(join(dir, 'secrets-broken.yaml'), 'password: "hunter2\n');
    held = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    context = { dir, heldPort: (held.address() as { port: number }).port };
  });

  after(async () => {
    await new Promise((resolve) => held.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  for (const [command, flags, tableFor] of COMMANDS) {
    describe(command, () => {
      it('has a row for every flag it defines', () => {
        const table = tableFor({ dir, heldPort: 1 });
        expect(Object.keys(table).sort()).to.deep.equal(flags.map((flag) => flag.name).sort());
      });

      it('refuses each bad value with exit 2, naming the flag and the expected form, before listening', async () => {
        const problems: string[] = [];
        for (const [flag, cases] of Object.entries(tableFor(context))) {
          if (typeof cases === 'string') continue;
          for (const { argv, says } of cases) {
            const line = [command, ...goodArgs(command, context), ...argv];
            const { code, io } = await runInMemory(line);
            const shown = `${line.slice(goodArgs(command, context).length + 1).join(' ')} -> exit ${code}: ${io.stderr.trim()}`;
            if (code !== 2) problems.push(`${shown} (expected exit 2)`);
            else if (!io.stderr.includes(says)) problems.push(`${shown} (expected "${says}")`);
            else if (!io.stderr.includes(`"--${flag}"`) && !io.stderr.includes('--kubeconfig')) problems.push(`${shown} (flag not named)`);
            else if (!io.stderr.includes(`Run 'secrets-store-csi ${command} --help' for usage.`)) problems.push(`${shown} (no usage hint)`);
            if (io.stdout !== '') problems.push(`${shown}: wrote to stdout: ${io.stdout}`);
            if (io.stderr.includes('hunter2')) problems.push(`${shown}: a secret of the secrets file reached the message`);
          }
        }
        expect(problems).to.deep.equal([]);
      });
    });
  }

  it('the good driver command line reaches its listeners (and so exits 1 on the held port): the cases above stop before', async () => {
    const { code, io } = await runInMemory(['driver', ...goodArgs('driver', context)]);
    expect(code, io.stderr).to.equal(1);
    expect(io.stderr).to.contain('address already in use');
  });

  const general: Array<[string[], string]> = [
    [['driver', '--bogus'], 'unknown flag "--bogus"'],
    [['driver', '--nodeid=n', 'extra'], 'unexpected argument "extra"'],
    [['driver', '---nodeid=n'], 'unexpected argument "---nodeid=n"'],
    [['driver', '--nodeid'], 'flag "--nodeid" needs a value'],
    [['simulate', '--bogus=1'], 'unknown flag "--bogus"'],
    [['fake-provider', '--endpoint'], 'flag "--endpoint" needs a value'],
    [['publish', '--pod-name=x', '--class'], 'flag "--class" needs a value'],
    [['unpublish', 'app-0'], 'unexpected argument "app-0"'],
  ];
  for (const [argv, message] of general) {
    it(`refuses ${argv.join(' ')} with exit 2`, async () => {
      const { code, io } = await runInMemory(argv);
      expect(code).to.equal(2);
      expect(io.stderr).to.contain(message);
    });
  }
});
