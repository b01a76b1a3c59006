/** What a command may touch of its process: output streams, environment and a stop signal. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT). */
  readonly stopRequested: Promise<void>;
}
