import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseMountInfo } from '../support/mount-table.js';

/**
 * The compiled CLI next to the compiled tests: tests compile to <out>/test/e2e/*.js (dist/ in CI,
 * .build/<x>/ in private runs) and the entry point to <out>/src/app/main.js.
 */
export function compiledMain(): string {
  const main = fileURLToPath(new URL('../../src/app/main.js', import.meta.url));
  if (!existsSync(main)) throw new Error(`compiled CLI not found at ${main}: compile with tsc before running the e2e tests`);
  return main;
}

/** The bundled CLI (scripts/bundle.mjs): what the image and the package's bin run, so what benches measure. */
export function bundledMain(): string {
  const main = fileURLToPath(new URL('../../bundle/main.js', import.meta.url));
  if (!existsSync(main)) throw new Error(`bundled CLI not found at ${main}: run npm run build first`);
  return main;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process of the CLI whose output is kept, with bounded waits and a stop that cannot hang. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.once('error', () => {
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  /** `node <main> ...args`: the compiled main unless told otherwise (benches run the bundled one). */
  static start(args: readonly string[], env: Record<string, string | undefined> = {}, main = compiledMain()): CliProcess {
    return CliProcess.startBinary(process.execPath, [main, ...args], env);
  }

  /** Any executable (a test peer such as the upstream driver), with the same kept output and bounded stops. */
  static startBinary(binary: string, args: readonly string[], env: Record<string, string | undefined> = {}): CliProcess {
    const child = spawn(binary, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new CliProcess(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The first match of `pattern` in stderr, waiting up to `timeoutMs`; fails early if the process exits. */
  async waitForStderr(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stderr);
      if (match) return match;
      if (!this.running) throw new Error(`process exited (${JSON.stringify(this.exit)}) before printing ${pattern}:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} on stderr within ${timeoutMs} ms:\n${this.stderr}`);
      await sleep(25);
    }
  }

  /** Waits up to `timeoutMs` for `path` to exist (a socket the process binds); fails early if the process exits. */
  async waitForPath(path: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(path)) {
      if (!this.running) throw new Error(`process exited (${JSON.stringify(this.exit)}) before creating ${path}:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${path} within ${timeoutMs} ms:\n${this.stderr}`);
      await sleep(25);
    }
  }

  /** Waits up to `timeoutMs` for the process to exit by itself; kills it (SIGKILL) and fails otherwise. */
  async waitForExit(timeoutMs: number): Promise<Exit> {
    const exit = await withTimeout(this.exited, timeoutMs);
    if (exit !== undefined) return exit;
    this.kill();
    throw new Error(`process did not exit within ${timeoutMs} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
  }

  /** Sends `signal` and waits up to `timeoutMs` for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<Exit> {
    if (this.running) this.child.kill(signal);
    return this.waitForExit(timeoutMs);
  }

  /** For after hooks: SIGKILL if still running, then wait (bounded) for the exit. */
  async dispose(): Promise<void> {
    if (!this.running) return;
    this.kill();
    await withTimeout(this.exited, 5_000);
  }

  private kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** Mount points at or under `dir`, from this process's mount table (shared with its children). */
export function mountsUnder(dir: string): string[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((entry) => entry.mountPoint)
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`'s value, or undefined after `ms`; the timer is cleared either way so it keeps no test process alive. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
