import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseDuration } from '../../src/domain/duration.js';
import { docSteps, type DocStep } from '../support/doc-blocks.js';
import { projectRoot } from '../support/project-root.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { bundledMain } from './processes.js';

const DOC = join(projectRoot(import.meta.url), 'docs/providers.md');

/** Starting processes and first publishes on a loaded 2-core machine; rotation waits add the doc's own interval. */
const STEP_BASE_DEADLINE_MS = 60_000;

/** Each step's deadline: the base plus three rotation intervals of the driver command the doc runs. */
function stepDeadlineMs(steps: readonly DocStep[]): number {
  const interval = steps.map((step) => /--rotation-poll-interval[ =](\S+)/.exec(step.script)?.[1]).find((value) => value !== undefined);
  return STEP_BASE_DEADLINE_MS + 3 * (interval === undefined ? 0 : parseDuration(interval));
}

/**
 * One shell the doc's steps are pasted into, in order, as a reader would: variables and background jobs
 * carry over from step to step; `set -euo pipefail` makes any failing command end the session.
 */
class DocShell {
  private stdout = '';
  private stderr = '';
  private exited: number | null | undefined;
  private readonly child: ChildProcess;
  private steps = 0;

  constructor(env: NodeJS.ProcessEnv, cwd: string) {
    this.child = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.child.once('exit', (code) => (this.exited = code));
    this.child.stdin!.write('set -euo pipefail\n');
  }

  /** Runs a step; resolves what it printed on stdout, rejects when the shell ends or the deadline passes. */
  async run(script: string, deadlineMs: number): Promise<string> {
    const marker = `__DOC_STEP_${++this.steps}_DONE__`;
    const from = this.stdout.length;
    this.child.stdin!.write(`${script}\nprintf '\\n%s\\n' '${marker}'\n`);
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const at = this.stdout.indexOf(marker, from);
      if (at >= 0) return this.stdout.slice(from, at).replace(/\n$/, '');
      if (this.exited !== undefined) throw new Error(`the shell ended (exit ${this.exited}) in this step\nstderr:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`the step did not finish within ${deadlineMs} ms\nstdout:\n${this.stdout.slice(from)}\nstderr:\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Ends the shell and everything it started: its process group, also when the shell itself already
   * ended (a failed step) and left its background jobs (the driver, the provider) running.
   */
  async dispose(): Promise<void> {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (!this.groupAlive()) return;
      process.kill(-this.child.pid!, signal);
      const deadline = Date.now() + 5_000;
      while (this.groupAlive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private groupAlive(): boolean {
    try {
      process.kill(-this.child.pid!, 0);
      return true;
    } catch {
      return false; // no process of the group is left
    }
  }
}

/**
 * docs/providers.md, run: every ```` ```sh test ```` block in one shell, as written and in order, with the
 * `secrets-store-csi` command on the PATH and `$SSCSI` in a sandbox; each ```` ```text output ```` block is
 * what the step before it must print.
 */
describe('e2e: docs/providers.md runs as written', function () {
  const markdown = (): Promise<string> => readFile(DOC, 'utf8');
  let sandbox: TmpfsSandbox;
  let shell: DocShell | undefined;

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-doc-');
  });

  after(async () => {
    await shell?.dispose();
    await sandbox?.dispose();
  });

  it('marks its steps as the test runs them: top-level fences, each output after a step', async () => {
    const { steps, problems } = docSteps(await markdown());
    expect(problems).to.deep.equal([]);
    expect(steps.length).to.be.greaterThan(5);
    expect(steps.filter((step) => step.output !== undefined).length).to.be.greaterThan(3);
  });

  it('goes from nothing to a rotated file, on demand, through a failure, to unpublished', async function () {
    const { steps } = docSteps(await markdown());
    const deadlineMs = stepDeadlineMs(steps);
    this.timeout(deadlineMs * steps.length);
    const bin = join(sandbox.root, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'secrets-store-csi'), `#!/bin/sh\nexec "${process.execPath}" "${bundledMain()}" "$@"\n`);
    await chmod(join(bin, 'secrets-store-csi'), 0o755);
    const sscsi = join(sandbox.root, 'sscsi');
    shell = new DocShell({ ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, SSCSI: sscsi }, projectRoot(import.meta.url));
    for (const step of steps) {
      let printed: string;
      try {
        printed = await shell.run(step.script, deadlineMs);
      } catch (error) {
        throw new Error(`docs/providers.md line ${step.line}: ${(error as Error).message}${await logs(sscsi)}`);
      }
      if (step.output !== undefined) {
        expect(printed.trimEnd(), `output of the step at docs/providers.md line ${step.line}${await logs(sscsi)}`).to.equal(step.output.trimEnd());
      }
    }
  });
});

async function logs(dir: string): Promise<string> {
  const tail = async (name: string): Promise<string> => {
    const text = await readFile(join(dir, name), 'utf8').catch(() => '(none)');
    return `\n--- ${name} (last lines)\n${text.split('\n').slice(-30).join('\n')}`;
  };
  return (await tail('driver.log')) + (await tail('provider.log'));
}
