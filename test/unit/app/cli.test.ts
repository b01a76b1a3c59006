import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { DRIVER_FLAGS } from '../../../src/app/config.js';
import { runInMemory } from '../../support/memory-cli-io.js';
import { projectRoot } from '../../support/project-root.js';

const run = runInMemory;

/** `--name` -> the kind and the default shown for it, for each flag listed by `--help`. */
function listedFlags(help: string): Map<string, { kind: string; shownDefault: string }> {
  const listed = new Map<string, { kind: string; shownDefault: string }>();
  for (const match of help.matchAll(/^ {2}--([a-z0-9_.-]+) ([a-z]+)\n {8}.*\(default (.*?)\)(?: \(env [A-Z_]+\))?$/gm)) {
    listed.set(match[1]!, { kind: match[2]!, shownDefault: match[3]! });
  }
  return listed;
}

/** Flags each command must list (at least). */
const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  driver: DRIVER_FLAGS.filter((flag) => !flag.hidden).map((flag) => flag.name),
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
      it('exits 0 and lists every flag with its kind and one default', async () => {
        const { code, io } = await run([command, '--help']);
        expect(code).to.equal(0);
        expect(io.stdout).to.contain(`Usage: secrets-store-csi ${command} [flags]`);
        const listed = [...listedFlags(io.stdout).keys()];
        // The driver's flags are exported and must match exactly; other commands may grow flags.
        if (command === 'driver') expect(listed).to.have.members([...flags]);
        else expect(listed).to.include.members([...flags]);
        expect(io.stdout.match(/^ {8}.*$/gm)!.every((line) => line.match(/\(default /g)?.length === 1)).to.equal(true);
      });
    });
  }

  it('driver --help shows defaults in the documented form, each reading back as the default', async () => {
    const { io } = await run(['driver', '--help']);
    const listed = listedFlags(io.stdout);
    for (const flag of DRIVER_FLAGS.filter((definition) => !definition.hidden)) {
      const { kind, shownDefault } = listed.get(flag.name)!;
      expect(kind, flag.name).to.equal(flag.kind);
      const typed = shownDefault.startsWith('"') ? (JSON.parse(shownDefault) as string) : shownDefault;
      const { code, io: parsed } = await run(['driver', `--${flag.name}=${typed}`, '--help']);
      expect(code, `${flag.name}=${typed}: ${parsed.stderr}`).to.equal(0);
    }
    expect(listed.get('rotation-poll-interval')!.shownDefault).to.equal('2m');
    expect(listed.get('enable-secret-rotation')!.shownDefault).to.equal('false');
    expect(listed.get('endpoint')!.shownDefault).to.equal('"unix:///tmp/csi.sock"');
    expect(io.stdout).to.contain('(env CSI_ENDPOINT)');
  });

  it('simulate --help shows one default for --kubelet-root, in words', async () => {
    const { io } = await run(['simulate', '--help']);
    expect(listedFlags(io.stdout).get('kubelet-root')!.shownDefault).to.equal('a new temporary directory, removed at the end');
  });

  it('driver --cluster kubernetes without a kubeconfig, outside a pod, exits 2 naming what is missing', async () => {
    const { code, io } = await run(['driver', '--nodeid=n', '--cluster=kubernetes']);
    expect(code).to.equal(2);
    expect(io.stderr).to.contain('secrets-store-csi driver: no kubeconfig: pass --kubeconfig (or set KUBECONFIG)');
  });

  it('reads CSI_ENDPOINT from the environment it is given, not from process.env', async () => {
    const { code, io } = await run(['driver', '--nodeid=n'], { CSI_ENDPOINT: 'unix://relative.sock' });
    expect(code).to.equal(2);
    expect(io.stderr).to.contain('invalid value "unix://relative.sock" for flag "--endpoint"');
  });
});
