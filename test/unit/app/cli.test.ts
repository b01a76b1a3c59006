import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { CliIo } from '../../../src/app/cli-io.js';
import { runCli } from '../../../src/app/cli.js';
import { DRIVER_FLAGS } from '../../../src/app/config.js';
import { projectRoot } from '../../support/project-root.js';

/** A CliIo that keeps what a command writes; its stop signal never fires. */
class MemoryCliIo implements CliIo {
  stdout = '';
  stderr = '';
  readonly out = (text: string): void => {
    this.stdout += text;
  };
  readonly err = (text: string): void => {
    this.stderr += text;
  };
  readonly stopRequested = new Promise<void>(() => {});
  constructor(readonly env: Record<string, string | undefined> = {}) {}
}

async function run(argv: readonly string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; io: MemoryCliIo }> {
  const io = new MemoryCliIo(env);
  const code = await runCli(argv, io);
  return { code, io };
}

/** `--name` -> the default shown on its description line, for each flag listed by `--help`. */
function listedDefaults(help: string): Map<string, string> {
  const listed = new Map<string, string>();
  for (const match of help.matchAll(/^ {2}--([a-z0-9-]+)\n {8}.*\(default "([^"]*)"\)/gm)) listed.set(match[1]!, match[2]!);
  return listed;
}

/** Flags each command must list (at least). */
const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  driver: DRIVER_FLAGS.map((flag) => flag.name),
  simulate: ['pods', 'interval', 'rotate-every', 'duration', 'kubelet-root', 'v', 'help'],
  'fake-provider': ['endpoint', 'control-port', 'help'],
};

describe('app/cli runCli', () => {
  describe('top level', () => {
    it('prints the commands and exits 2 when no command is given', async () => {
      const { code, io } = await run([]);
      expect(code).to.equal(2);
      for (const command of Object.keys(COMMAND_FLAGS)) expect(io.stdout).to.contain(`  ${command} `);
    });

    for (const spelling of ['--help', '-h', 'help']) {
      it(`prints the commands and exits 0 for ${spelling}`, async () => {
        const { code, io } = await run([spelling]);
        expect(code).to.equal(0);
        expect(io.stdout).to.match(/^Usage: secrets-store-csi <command> \[flags\]/);
        expect(io.stderr).to.equal('');
      });
    }

    it('refuses an unknown command with exit 2, naming it', async () => {
      const { code, io } = await run(['mount', '--nodeid=n']);
      expect(code).to.equal(2);
      expect(io.stderr).to.contain('unknown command "mount"').and.contain('Commands:');
      expect(io.stdout).to.equal('');
    });
  });

  describe('--version', () => {
    const packageVersion = (JSON.parse(readFileSync(join(projectRoot(import.meta.url), 'package.json'), 'utf8')) as { version: string }).version;

    for (const argv of [['--version'], ['-version'], ['driver', '--version'], ['driver', '-version=true']]) {
      it(`prints {version, commit, buildDate} as JSON for ${argv.join(' ')}`, async () => {
        const { code, io } = await run(argv, { BUILD_COMMIT: 'abc1234', BUILD_DATE: '2026-11-27T18:30:00Z' });
        expect(code).to.equal(0);
        expect(io.stdout.endsWith('\n')).to.equal(true);
        expect(JSON.parse(io.stdout)).to.deep.equal({ version: packageVersion, commit: 'abc1234', buildDate: '2026-11-27T18:30:00Z' });
      });
    }

    it('says "unknown" for a commit and build date the build did not set', async () => {
      const { io } = await run(['--version']);
      expect(JSON.parse(io.stdout)).to.deep.include({ commit: 'unknown', buildDate: 'unknown' });
    });
  });

  for (const [command, flags] of Object.entries(COMMAND_FLAGS)) {
    describe(`${command} --help`, () => {
      it('exits 0 and lists every flag with its default', async () => {
        const { code, io } = await run([command, '--help']);
        expect(code).to.equal(0);
        expect(io.stdout).to.contain(`Usage: secrets-store-csi ${command} [flags]`);
        const listed = [...listedDefaults(io.stdout).keys()];
        // The driver's flags are exported and must match exactly; other commands may grow flags.
        if (command === 'driver') expect(listed).to.have.members([...flags]);
        else expect(listed).to.include.members([...flags]);
      });
    });
  }

  it('driver --help shows each default as a value the flag reads back as that default', async () => {
    const { io } = await run(['driver', '--help']);
    const listed = listedDefaults(io.stdout);
    for (const flag of DRIVER_FLAGS) {
      const shown = listed.get(flag.name)!;
      const expected = Array.isArray(flag.default) ? flag.default.join(',') : flag.kind === 'duration' ? undefined : String(flag.default);
      if (expected !== undefined) expect(shown, flag.name).to.equal(expected);
    }
    expect(listed.get('rotation-poll-interval')).to.match(/^(120s|2m0s)$/);
    expect(listed.get('endpoint')).to.equal('unix:///tmp/csi.sock');
    expect(io.stdout).to.contain('(env CSI_ENDPOINT)');
  });

  describe('bad command lines exit 2 with a message naming the flag', () => {
    const cases: Array<[string[], string]> = [
      [['driver', '--nodeid=n', '--bogus'], 'unknown flag "--bogus"'],
      [['driver', '--nodeid=n', '--rotation-poll-interval=soon'], '"--rotation-poll-interval"'],
      [['driver', '--nodeid=n', '--rotation-poll-interval=0s'], '"--rotation-poll-interval"'],
      [['driver', '--nodeid=n', '-v=loud'], '"--v"'],
      [['driver', '--nodeid=n', '--rotation-jitter=2'], '"--rotation-jitter"'],
      [['driver', '--nodeid=n', '--enable-secret-rotation=maybe'], '"--enable-secret-rotation"'],
      [['driver', '--nodeid=n', '--max-call-recv-msg-size=4MB'], '"--max-call-recv-msg-size"'],
      [['driver', '--nodeid=n', '--endpoint=unix://tmp/csi.sock'], '"--endpoint"'],
      [['driver', '--nodeid=n', '--cluster=etcd'], '"--cluster"'],
      [['driver', '--nodeid=n', '--manifests=/m'], '"--manifests"'],
      [['driver', '--nodeid=n', '--cluster=memory', '--manifests'], '"--manifests" needs a value'],
      [['driver'], '"--nodeid" is required'],
      [['driver', '--nodeid=n', 'extra'], 'unexpected argument "extra"'],
      [['simulate', '--bogus=1'], 'unknown flag "--bogus"'],
      [['simulate', '--pods=0'], '"--pods"'],
      [['simulate', '--pods=501'], '"--pods"'],
      [['simulate', '--pods=many'], '"--pods"'],
      [['simulate', '--interval=0s'], '"--interval"'],
      [['simulate', '--interval=fast'], '"--interval"'],
      [['simulate', '--rotate-every=-1s'], '"--rotate-every"'],
      [['simulate', '--duration=-1s'], '"--duration"'],
      [['simulate', '--duration=10'], '"--duration"'],
      [['simulate', '-v=x'], '"--v"'],
      [['fake-provider', '--bogus'], 'unknown flag "--bogus"'],
      [['fake-provider', '--control-port=any'], '"--control-port"'],
      [['fake-provider', '--endpoint=unix://relative/fake.sock'], '"--endpoint"'],
      [['fake-provider', '--endpoint'], '"--endpoint" needs a value'],
    ];
    for (const [argv, message] of cases) {
      it(`${argv.join(' ')}`, async () => {
        const { code, io } = await run(argv);
        expect(code).to.equal(2);
        expect(io.stderr).to.contain(`secrets-store-csi ${argv[0]}: `).and.contain(message);
        expect(io.stderr).to.contain(`Run 'secrets-store-csi ${argv[0]} --help' for usage.`);
        expect(io.stdout).to.equal('');
      });
    }
  });

  it('driver --cluster kubernetes without a kubeconfig, outside a pod, exits 1 naming what is missing', async () => {
    const { code, io } = await run(['driver', '--nodeid=n', '--cluster=kubernetes']);
    expect(code).to.equal(1);
    expect(io.stderr).to.contain('secrets-store-csi driver: no kubeconfig: pass --kubeconfig (or set KUBECONFIG)');
  });

  it('reads CSI_ENDPOINT from the environment it is given, not from process.env', async () => {
    const { code, io } = await run(['driver', '--nodeid=n'], { CSI_ENDPOINT: 'unix://relative.sock' });
    expect(code).to.equal(2);
    expect(io.stderr).to.contain('invalid value "unix://relative.sock" for flag "--endpoint"');
  });
});
