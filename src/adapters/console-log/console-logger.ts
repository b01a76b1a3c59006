import type { LogFields, Logger } from '../../ports/logger.js';
import { boundMessage, redact } from './redact.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

export interface ConsoleLoggerOptions {
  /** `--log-format-json`: one JSON object per line instead of `level message key=value`. */
  readonly json: boolean;
  /** `-v`: debug lines are written from verbosity 4 on, as klog's V(4) in the upstream driver. */
  readonly verbosity: number;
  readonly write: (line: string) => void;
  readonly now: () => Date;
}

/** Structured lines on a stream, with secret material redacted from every field and every value bounded (LogRecordLimit). */
export class ConsoleLogger implements Logger {
  constructor(private readonly options: ConsoleLoggerOptions) {}

  debug(message: string, fields?: LogFields): void {
    if (this.options.verbosity >= 4) this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  private log(level: Level, message: string, fields: LogFields = {}): void {
    const safe = redact(fields) as Record<string, unknown>;
    const msg = boundMessage(message);
    const time = this.options.now().toISOString();
    if (this.options.json) {
      this.options.write(JSON.stringify({ time, level, msg, ...safe }));
      return;
    }
    const pairs = Object.entries(safe).map(([key, value]) => `${key}=${formatValue(value)}`);
    this.options.write([time, level.toUpperCase().padEnd(5), msg, ...pairs].join(' '));
  }
}

function formatValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(text ?? '') ? JSON.stringify(text) : String(text);
}
