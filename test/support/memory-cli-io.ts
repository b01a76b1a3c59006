import type { CliIo } from '../../src/app/cli-io.js';
import { runCli } from '../../src/app/cli.js';

/** A CliIo that keeps what a command writes; its stop signal fires only when `stop()` is called. */
export class MemoryCliIo implements CliIo {
  stdout = '';
  stderr = '';
  readonly stopRequested: Promise<void>;
  readonly stop: () => void;
  readonly out = (text: string): void => {
    this.stdout += text;
  };
  readonly err = (text: string): void => {
    this.stderr += text;
  };

  constructor(readonly env: Record<string, string | undefined> = {}) {
    let stop!: () => void;
    this.stopRequested = new Promise<void>((resolve) => (stop = resolve));
    this.stop = stop;
  }
}

/** Runs the CLI in this process, as `secrets-store-csi <argv>` would. */
export async function runInMemory(argv: readonly string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; io: MemoryCliIo }> {
  const io = new MemoryCliIo(env);
  const code = await runCli(argv, io);
  return { code, io };
}
