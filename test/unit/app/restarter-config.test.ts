import { expect } from 'chai';
import { runCli } from '../../../src/app/cli.js';
import { parseFlags } from '../../../src/app/flags.js';
import { RESTARTER_FLAGS, restarterConfig } from '../../../src/app/restarter-config.js';

const config = (args: readonly string[], env: Record<string, string> = {}) => restarterConfig(parseFlags(RESTARTER_FLAGS, args, env));

describe('app/restarter-config (secrets-store-csi restarter flags)', () => {
  it('defaults: a 30 s debounce window, 5 min between restarts of a workload, 0.1 restarts/s cluster-wide, client-go lease timing', () => {
    const defaults = config([]);
    expect(defaults.restart).to.deep.equal({ debounceMs: 30_000, minIntervalMs: 300_000, clusterLimit: { qps: 0.1, burst: 5 } });
    expect(defaults.leaderElection).to.deep.include({ enabled: true, namespace: 'kube-system', leaseName: 'secrets-store-csi-restarter' });
    expect(defaults.leaderElection.timing).to.deep.equal({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    expect(defaults.leaderElection.identity).to.match(/^.+_[0-9a-f]{8}$/);
    expect(Object.isFrozen(defaults) && Object.isFrozen(defaults.restart)).to.equal(true);
  });

  it('takes the pod name and namespace from POD_NAME and POD_NAMESPACE (the Deployment sets them)', () => {
    const fromPod = config([], { POD_NAME: 'restarter-7d9c-x2', POD_NAMESPACE: 'secrets' });
    expect(fromPod.leaderElection).to.deep.include({ identity: 'restarter-7d9c-x2', namespace: 'secrets' });
  });

  const refusals: [string, readonly string[], RegExp][] = [
    ['a negative debounce window', ['--debounce-window=-1s'], /"--debounce-window": expected a duration of 0 or more/],
    ['a negative cluster qps', ['--cluster-restart-qps=-1'], /"--cluster-restart-qps": expected restarts per second \(0 = unlimited\)/],
    ['a zero burst', ['--cluster-restart-burst=0'], /"--cluster-restart-burst": expected a number greater than zero/],
    ['a namespace that is no namespace name', ['--leader-election-namespace=Kube_System'], /--leader-election-namespace/],
    ['a lease name that is no object name', ['--leader-election-lease-name=a/b'], /--leader-election-lease-name/],
    ['a lease duration not above the renew deadline', ['--leader-election-lease-duration=10s'], /lease duration must be longer than the renew deadline/],
    ['a renew deadline too close to the retry period', ['--leader-election-renew-deadline=2s'], /renew deadline must be longer than 1.2 x the retry period/],
    ['a bad metrics address', ['--metrics-addr=nowhere'], /--metrics-addr/],
    ['a flag of the node agent', ['--nodeid=node-1'], /unknown flag "--nodeid"/],
  ];
  for (const [name, args, message] of refusals) {
    it(`refuses ${name}, naming the flag`, () => expect(() => config(args)).to.throw(message));
  }

  it('is a command of the CLI: --help lists its flags, a bad flag exits 2', async () => {
    const out: string[] = [];
    const io = { out: (text: string) => void out.push(text), err: (text: string) => void out.push(text), env: {}, stopRequested: new Promise<void>(() => undefined) };
    expect(await runCli(['restarter', '--help'], io)).to.equal(0);
    for (const flag of RESTARTER_FLAGS) expect(out.join(''), flag.name).to.include(`--${flag.name}`);
    out.length = 0;
    expect(await runCli(['restarter', '--debounce-window=soon'], io)).to.equal(2);
    expect(out.join('')).to.match(/secrets-store-csi restarter: invalid value "soon" for flag "--debounce-window"/);
    out.length = 0;
    expect(await runCli(['--help'], io)).to.equal(0);
    expect(out.join('')).to.match(/restarter\s+restarts opted-in workloads/);
  });
});
