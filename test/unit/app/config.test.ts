import { expect } from 'chai';
import fc from 'fast-check';
import { DRIVER_FLAGS, driverConfig, validateEndpoint, type DriverConfig } from '../../../src/app/config.js';
import { parseFlags } from '../../../src/app/flags.js';
import { usageErrorOf } from '../../support/usage-error.js';

/** The config for a driver command line (`--nodeid` is added unless the case is about it). */
function configFor(argv: readonly string[], env: Record<string, string | undefined> = {}): DriverConfig {
  const withNode = argv.some((arg) => /^--?nodeid(=|$)/.test(arg)) ? argv : ['--nodeid=node-1', ...argv];
  return driverConfig(parseFlags(DRIVER_FLAGS, withNode, env));
}


/** A unix endpoint whose socket path is exactly `bytes` long. */
function endpointOfLength(bytes: number): string {
  const prefix = '/tmp/';
  const suffix = '.sock';
  return `unix://${prefix}${'a'.repeat(bytes - prefix.length - suffix.length)}${suffix}`;
}

describe('app/config driverConfig', () => {
  describe('upstream flags (wire.md section 5) and their defaults', () => {
    const config = configFor([]);
    const defaults: Array<[string, unknown, unknown]> = [
      ['--endpoint', config.endpoint, 'unix:///tmp/csi.sock'],
      ['--drivername', config.driverName, 'secrets-store.csi.k8s.io'],
      ['--provider-volume', config.providerVolume, '/var/run/secrets-store-csi-providers'],
      ['--additional-provider-volume-paths', config.additionalProviderVolumePaths, ['/etc/kubernetes/secrets-store-csi-providers']],
      ['--metrics-addr', config.metricsAddr, ':8095'],
      ['--metrics-backend', config.metricsBackend, 'prometheus'],
      ['--enable-secret-rotation', config.rotation.enabled, false],
      ['--rotation-poll-interval', config.rotation.intervalMs, 120_000],
      ['--max-call-recv-msg-size', config.maxCallRecvMsgSize, 4_194_304],
      ['--provider-health-check', config.providerHealthCheck, false],
      ['--provider-health-check-interval', config.providerHealthCheckIntervalMs, 120_000],
      ['--log-format-json', config.logFormatJson, false],
      ['-v', config.verbosity, 0],
      ['--kubeconfig', config.kubeconfig, ''],
    ];
    for (const [flag, actual, expected] of defaults) {
      it(`defaults ${flag} to ${JSON.stringify(expected)}`, () => {
        expect(actual).to.deep.equal(expected);
      });
    }

    it('defaults this driver\'s own flags', () => {
      expect(config.kubeletRoot).to.equal('/var/lib/kubelet');
      expect(config.cluster).to.equal('kubernetes');
      expect(config.manifests).to.deep.equal([]);
      expect(config.stateFile).to.equal('');
      expect(config.rotation).to.deep.include({ minClassIntervalMs: 5_000, jitterFraction: 0.1, workers: 4 });
    });

    const given: Array<[string[], (c: DriverConfig) => unknown, unknown]> = [
      [['--endpoint', 'unix:///csi/csi.sock'], (c) => c.endpoint, 'unix:///csi/csi.sock'],
      [['--drivername=secrets-store.example.com'], (c) => c.driverName, 'secrets-store.example.com'],
      [['--nodeid=worker-3'], (c) => c.nodeId, 'worker-3'],
      [['--provider-volume=/providers'], (c) => c.providerVolume, '/providers'],
      [['--additional-provider-volume-paths=/a,/b'], (c) => c.additionalProviderVolumePaths, ['/a', '/b']],
      [['--additional-provider-volume-paths='], (c) => c.additionalProviderVolumePaths, []],
      [['--metrics-addr=127.0.0.1:9000'], (c) => c.metricsAddr, '127.0.0.1:9000'],
      [['--metrics-backend=prometheus'], (c) => c.metricsBackend, 'prometheus'],
      [['--enable-secret-rotation'], (c) => c.rotation.enabled, true],
      [['--enable-secret-rotation=true'], (c) => c.rotation.enabled, true],
      [['--rotation-poll-interval=1h30m'], (c) => c.rotation.intervalMs, 5_400_000],
      [['--rotation-poll-interval', '30s'], (c) => c.rotation.intervalMs, 30_000],
      [['--max-call-recv-msg-size=8388608'], (c) => c.maxCallRecvMsgSize, 8_388_608],
      [['--provider-health-check'], (c) => c.providerHealthCheck, true],
      [['--provider-health-check-interval=45s'], (c) => c.providerHealthCheckIntervalMs, 45_000],
      [['--log-format-json'], (c) => c.logFormatJson, true],
      [['-v=5'], (c) => c.verbosity, 5],
      [['--v', '2'], (c) => c.verbosity, 2],
      [['--kubeconfig=/root/.kube/config'], (c) => c.kubeconfig, '/root/.kube/config'],
      [['--kubelet-root=/data/kubelet/'], (c) => c.kubeletRoot, '/data/kubelet'],
      [['--kubelet-root=/'], (c) => c.kubeletRoot, '/'],
      [['--min-rotation-poll-interval=1s'], (c) => c.rotation.minClassIntervalMs, 1_000],
      [['--rotation-jitter=0'], (c) => c.rotation.jitterFraction, 0],
      [['--rotation-jitter=1'], (c) => c.rotation.jitterFraction, 1],
      [['--rotation-workers=16'], (c) => c.rotation.workers, 16],
      [['--cluster=memory', '--manifests=/m/a.yaml', '--manifests', '/m/dir'], (c) => c.manifests, ['/m/a.yaml', '/m/dir']],
      [['--cluster', 'memory', '--state-file=/tmp/state.yaml'], (c) => c.stateFile, '/tmp/state.yaml'],
    ];
    for (const [argv, read, expected] of given) {
      it(`accepts ${argv.join(' ')}`, () => {
        expect(read(configFor(argv))).to.deep.equal(expected);
      });
    }

    it('reads CSI_ENDPOINT, KUBE_NODE_NAME and KUBECONFIG from the environment', () => {
      const config = driverConfig(
        parseFlags(DRIVER_FLAGS, [], { CSI_ENDPOINT: 'unix:///csi/csi.sock', KUBE_NODE_NAME: 'node-env', KUBECONFIG: '/kc' }),
      );
      expect(config).to.deep.include({ endpoint: 'unix:///csi/csi.sock', nodeId: 'node-env', kubeconfig: '/kc' });
    });
  });

  describe('--nodeid is required', () => {
    for (const argv of [[], ['--nodeid='], ['--nodeid', '  ']]) {
      it(`refuses ${argv.length === 0 ? 'no --nodeid' : JSON.stringify(argv.join(' '))}`, () => {
        expect(usageErrorOf(() => driverConfig(parseFlags(DRIVER_FLAGS, argv)))).to.contain('"--nodeid" is required');
      });
    }
  });

  describe('--endpoint', () => {
    it('accepts a socket path of 107 bytes, the most sockaddr_un holds', () => {
      const endpoint = endpointOfLength(107);
      expect(configFor([`--endpoint=${endpoint}`]).endpoint).to.equal(endpoint);
    });

    it('refuses a socket path of 108 bytes, naming the flag and the limit', () => {
      expect(usageErrorOf(() => configFor([`--endpoint=${endpointOfLength(108)}`]))).to.match(/"--endpoint".*107 bytes/);
    });

    it('counts bytes, not characters', () => {
      const path = `/tmp/${'é'.repeat(51)}`; // 5 + 102 bytes = 107
      expect(configFor([`--endpoint=unix://${path}`]).endpoint).to.equal(`unix://${path}`);
      expect(usageErrorOf(() => configFor([`--endpoint=unix://${path}x`]))).to.contain('107 bytes');
    });

    const refused: Array<[string, string]> = [
      ['a relative unix path (gRPC would read "tmp" as a host)', 'unix://tmp/csi.sock'],
      ['a bare path', '/tmp/csi.sock'],
      ['unix: with one slash', 'unix:/tmp/csi.sock'],
      ['a TCP address', 'tcp://127.0.0.1:10000'],
      ['nothing after the scheme', 'unix://'],
      ['only the root', 'unix:///'],
      ['a directory', 'unix:///tmp/csi/'],
      ['an empty value', ''],
    ];
    for (const [title, endpoint] of refused) {
      it(`refuses ${title}: "${endpoint}"`, () => {
        expect(usageErrorOf(() => configFor([`--endpoint=${endpoint}`]))).to.contain('"--endpoint"');
      });
    }

    it('validateEndpoint returns the socket path', () => {
      expect(validateEndpoint('unix:///var/lib/kubelet/plugins/csi-secrets-store/csi.sock')).to.equal(
        '/var/lib/kubelet/plugins/csi-secrets-store/csi.sock',
      );
    });
  });

  describe('--cluster and the in-memory profile', () => {
    it('accepts kubernetes and memory', () => {
      expect(configFor(['--cluster=kubernetes']).cluster).to.equal('kubernetes');
      expect(configFor(['--cluster=memory']).cluster).to.equal('memory');
    });

    it('refuses any other cluster, naming the flag and the choices', () => {
      expect(usageErrorOf(() => configFor(['--cluster=etcd']))).to.equal('invalid value "etcd" for flag "--cluster": expected kubernetes or memory');
    });

    for (const argv of [['--manifests=/m'], ['--state-file=/s.yaml'], ['--cluster=kubernetes', '--state-file=/s.yaml']]) {
      it(`refuses ${argv.join(' ')} without --cluster memory`, () => {
        expect(usageErrorOf(() => configFor(argv))).to.contain('need "--cluster memory"');
      });
    }
  });

  describe('numeric bounds (each message names the flag)', () => {
    const refused: Array<[string[], string]> = [
      [['--rotation-jitter=-0.01'], '--rotation-jitter'],
      [['--rotation-jitter=1.01'], '--rotation-jitter'],
      [['--rotation-poll-interval=0s'], '--rotation-poll-interval'],
      [['--rotation-poll-interval=-1m'], '--rotation-poll-interval'],
      [['--min-rotation-poll-interval=0'], '--min-rotation-poll-interval'],
      [['--provider-health-check-interval=0s'], '--provider-health-check-interval'],
      [['--max-call-recv-msg-size=0'], '--max-call-recv-msg-size'],
      [['--rotation-workers=0'], '--rotation-workers'],
      [['--kubelet-root=var/lib/kubelet'], '--kubelet-root'],
      [['--metrics-backend=opencensus'], '--metrics-backend'],
    ];
    for (const [argv, flag] of refused) {
      it(`refuses ${argv.join(' ')}`, () => {
        expect(usageErrorOf(() => configFor(argv))).to.contain(`"${flag}"`);
      });
    }

    it('accepts any jitter from 0 to 1 and refuses any outside', () => {
      fc.assert(
        fc.property(fc.double({ min: -10, max: 10, noNaN: true }), (jitter) => {
          const argv = [`--rotation-jitter=${jitter}`];
          if (jitter >= 0 && jitter <= 1) expect(configFor(argv).rotation.jitterFraction).to.equal(jitter);
          else expect(usageErrorOf(() => configFor(argv))).to.contain('"--rotation-jitter"');
        }),
      );
    });
  });

  describe('the result', () => {
    it('is frozen, with its nested parts', () => {
      const config = configFor(['--cluster=memory', '--manifests=/m']);
      expect(Object.isFrozen(config)).to.equal(true);
      expect(Object.isFrozen(config.rotation)).to.equal(true);
      expect(Object.isFrozen(config.additionalProviderVolumePaths)).to.equal(true);
      expect(Object.isFrozen(config.manifests)).to.equal(true);
      expect(() => {
        (config as { nodeId: string }).nodeId = 'other';
      }).to.throw(TypeError);
      expect(() => (config.manifests as string[]).push('/x')).to.throw(TypeError);
    });

    it('does not share arrays with the parsed values', () => {
      const values = parseFlags(DRIVER_FLAGS, ['--nodeid=n', '--cluster=memory', '--manifests=/m']);
      const config = driverConfig(values);
      (values['manifests'] as string[]).push('/later');
      expect(config.manifests).to.deep.equal(['/m']);
    });
  });
});
