import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

const COMMAND_TIMEOUT_MS = 30_000;
const SEPARATOR = '\0';

interface PendingCommand {
  readonly description: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Runs mount(8) and umount(8) from one long-lived /bin/sh instead of a fresh child process per
 * command: forking the driver (a large process) blocks its event loop for milliseconds per command,
 * forking the small shell costs the driver nothing. Every argument is single-quoted, so the shell
 * interprets none of it. Commands run one at a time; a shell that dies or hangs is replaced.
 */
export class CommandShell {
  private shell: ChildProcessWithoutNullStreams | undefined;
  private output = '';
  private pending: PendingCommand | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /** Resolves when the command exits 0; rejects with its output (stderr and stdout) otherwise. */
  run(command: string, args: readonly string[]): Promise<void> {
    const result = this.queue.then(() => this.execute(command, args));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private execute(command: string, args: readonly string[]): Promise<void> {
    const shell = this.ensureShell();
    const description = [command, ...args].join(' ');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replaceShell(new Error(`${description}: timed out after ${COMMAND_TIMEOUT_MS / 1000}s`));
      }, COMMAND_TIMEOUT_MS);
      this.pending = { description, resolve, reject, timer };
      const line = [command, ...args].map(quote).join(' ');
      shell.stdin.write(`out=$(LC_ALL=C ${line} 2>&1); printf '%s\\0%s\\0' "$?" "$out"\n`);
    });
  }

  private ensureShell(): ChildProcessWithoutNullStreams {
    if (this.shell !== undefined) return this.shell;
    const shell = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    shell.stdout.setEncoding('utf8');
    shell.stdout.on('data', (chunk: string) => this.receive(chunk));
    shell.once('exit', () => this.replaceShell(new Error('the command shell exited'), shell));
    shell.on('error', (error) => this.replaceShell(error, shell));
    // The shell must not keep the process alive; it exits when its stdin closes with the driver.
    for (const stream of [shell.stdin, shell.stdout, shell.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    shell.unref();
    this.shell = shell;
    this.output = '';
    return shell;
  }

  /** Parses `<status>\0<output>\0` answers, one per command. */
  private receive(chunk: string): void {
    this.output += chunk;
    const parts = this.output.split(SEPARATOR);
    if (parts.length < 3 || this.pending === undefined) return;
    const [status, text] = parts;
    this.output = parts.slice(2).join(SEPARATOR);
    const { description, resolve, reject, timer } = this.pending;
    this.pending = undefined;
    clearTimeout(timer);
    if (status === '0') resolve();
    else reject(new Error(`${description}: ${text!.trim() || `exit status ${status}`}`));
  }

  /** Ends the shell now (a later command starts a new one). */
  close(): void {
    this.replaceShell(new Error('the command shell was closed'));
  }

  /** Fails the running command and drops the shell; the next command starts a new one. */
  private replaceShell(error: Error, only?: ChildProcessWithoutNullStreams): void {
    if (only !== undefined && this.shell !== only) return;
    const shell = this.shell;
    this.shell = undefined;
    shell?.kill('SIGKILL');
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(Object.assign(new Error(`${pending.description}: ${error.message}`), { cause: error }));
    }
  }
}

/** Single-quotes a word for sh: nothing inside single quotes is special except the quote itself. */
export function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
