import { expect } from 'chai';
import { DRIVER_FLAGS } from '../../../src/app/config.js';
import { parseFlags, type FlagValue } from '../../../src/app/flags.js';
import { runInMemory } from '../../support/memory-cli-io.js';

/** A flag the upstream driver registers: its kind as Go sees it (bools take no separate value), its default, a value it accepts. */
interface UpstreamFlag {
  readonly name: string;
  readonly bool: boolean;
  /** Upstream's default, as this driver holds it (durations in milliseconds). */
  readonly default: FlagValue;
  readonly sample: string;
}

/**
 * Every flag upstream v1.6.0 has on its command line, read from its sources (Go module
 * sigs.k8s.io/secrets-store-csi-driver@v1.6.0): cmd/secrets-store-csi-driver/main.go, pkg/metrics/exporter.go
 * (`metrics-backend`), controller-runtime v0.18.7 pkg/client/config (`kubeconfig`), klog v2.120.1
 * `InitFlags`, and net/http/httptest's hook (registered only when given).
 */
const UPSTREAM_FLAGS: readonly UpstreamFlag[] = [
  // Upstream's default endpoint, unix://tmp/csi.sock, names a relative path; this driver's is unix:///tmp/csi.sock.
  { name: 'endpoint', bool: false, default: 'unix:///tmp/csi.sock', sample: 'unix:///csi/csi.sock' },
  { name: 'drivername', bool: false, default: 'secrets-store.csi.k8s.io', sample: 'secrets-store.csi.k8s.io' },
  { name: 'nodeid', bool: false, default: '', sample: 'node-1' },
  { name: 'log-format-json', bool: true, default: false, sample: 'true' },
  { name: 'provider-volume', bool: false, default: '/var/run/secrets-store-csi-providers', sample: '/providers' },
  { name: 'additional-provider-volume-paths', bool: false, default: ['/etc/kubernetes/secrets-store-csi-providers'], sample: '/a,/b' },
  { name: 'metrics-addr', bool: false, default: ':8095', sample: ':8095' },
  { name: 'enable-secret-rotation', bool: true, default: false, sample: 'true' },
  { name: 'rotation-poll-interval', bool: false, default: 120_000, sample: '2m0s' },
  { name: 'enable-pprof', bool: true, default: false, sample: 'true' },
  { name: 'pprof-port', bool: false, default: 6065, sample: '6060' },
  { name: 'max-call-recv-msg-size', bool: false, default: 4_194_304, sample: '8388608' },
  { name: 'version', bool: true, default: false, sample: 'false' },
  { name: 'provider-health-check', bool: true, default: false, sample: 'true' },
  { name: 'provider-health-check-interval', bool: false, default: 120_000, sample: '30s' },
  { name: 'metrics-backend', bool: false, default: 'Prometheus', sample: 'prometheus' },
  { name: 'kubeconfig', bool: false, default: '', sample: '/etc/kubernetes/kubelet.conf' },
  { name: 'log_dir', bool: false, default: '', sample: '/var/log/csi' },
  { name: 'log_file', bool: false, default: '', sample: '/var/log/csi.log' },
  { name: 'log_file_max_size', bool: false, default: 1800, sample: '100' },
  { name: 'logtostderr', bool: true, default: true, sample: 'false' },
  { name: 'alsologtostderr', bool: true, default: false, sample: 'true' },
  { name: 'v', bool: false, default: 0, sample: '5' },
  { name: 'add_dir_header', bool: true, default: false, sample: 'true' },
  { name: 'skip_headers', bool: true, default: false, sample: 'true' },
  { name: 'one_output', bool: true, default: false, sample: 'true' },
  { name: 'skip_log_headers', bool: true, default: false, sample: 'true' },
  { name: 'stderrthreshold', bool: false, default: '2', sample: 'INFO' },
  { name: 'vmodule', bool: false, default: '', sample: 'main=4,rotation*=5' },
  { name: 'log_backtrace_at', bool: false, default: '', sample: 'main.go:120' },
  { name: 'httptest.serve', bool: false, default: '', sample: '127.0.0.1:8000' },
];

describe('app/config upstream flag parity (v1.6.0)', () => {
  it('defines every upstream flag with upstream\'s default', () => {
    const defined = new Map(DRIVER_FLAGS.map((flag) => [flag.name, flag]));
    const problems = UPSTREAM_FLAGS.flatMap((flag) => {
      const ours = defined.get(flag.name);
      if (ours === undefined) return [`--${flag.name} is missing`];
      if ((ours.kind === 'bool') !== flag.bool) return [`--${flag.name}: bool is ${flag.bool} upstream`];
      return JSON.stringify(ours.default) === JSON.stringify(flag.default) ? [] : [`--${flag.name}: default ${JSON.stringify(ours.default)}, upstream ${JSON.stringify(flag.default)}`];
    });
    expect(problems).to.deep.equal([]);
  });

  for (const flag of UPSTREAM_FLAGS) {
    const spellings = flag.bool
      ? [[`-${flag.name}`], [`--${flag.name}`], [`-${flag.name}=${flag.sample}`], [`--${flag.name}=${flag.sample}`], [`--${flag.name}=false`]]
      : [[`-${flag.name}=${flag.sample}`], [`--${flag.name}=${flag.sample}`], [`-${flag.name}`, flag.sample], [`--${flag.name}`, flag.sample]];
    it(`accepts --${flag.name} in Go's spellings: ${spellings.map((argv) => argv.join(' ')).join(', ')}`, async () => {
      for (const argv of spellings) {
        const { code, io } = await runInMemory(['driver', ...argv, '--help']);
        expect(code, `${argv.join(' ')}: ${io.stderr}`).to.equal(0);
        expect(parseFlags(DRIVER_FLAGS, argv), argv.join(' ')).to.have.property(flag.name);
      }
    });
  }

  it('takes -h and -help as Go flag does', async () => {
    for (const spelling of ['-h', '-help', '--help']) {
      const { code, io } = await runInMemory(['driver', spelling]);
      expect(code).to.equal(0);
      expect(io.stdout).to.contain('Usage: secrets-store-csi driver [flags]');
    }
  });
});
