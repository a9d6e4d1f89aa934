/**
 * What `gavel serve` says about itself — started, reloaded, a rejected change, a failure
 * inside a request — for operators. Decisions are not here: they go to the decision log.
 *
 * Two formats (`log_format`, GAVEL_LOG_FORMAT). `text`, the default, is a line a person
 * reads: `gavel: …` on stdout for news, `gavel: warning: …` and failures on stderr, detail
 * lines indented after them. `json` is one object a line on the same streams, for log
 * collectors (Loki, Elasticsearch, Cloud Logging), with the time and a level they can filter
 * on: `{"time": "2026-11-24T10:00:00.000Z", "level": "warn", "msg": "…"}` and, where
 * there are any, `details` (a list of lines), `stack` and `request_id`.
 */

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export type LogLevel = 'info' | 'warn' | 'error';

/** What a line may carry besides its message; the text format shows `details` and `stack`, and leaves the rest to the message. */
export interface LogExtras {
  /** Lines that belong to the message: a rejected policy change's errors. */
  details?: readonly string[];
  /** A failure's stack trace: for the operator, never for the caller. */
  stack?: string;
  /** The request it is about, when it is about one. */
  requestId?: string;
}

interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export class ServerLog {
  constructor(
    private readonly streams: Streams,
    readonly format: LogFormat = 'text',
    private readonly now: () => number = Date.now,
  ) {}

  /** The process's own streams, in text: for parts built without a server (tests, benchmarks). */
  static toProcess(): ServerLog {
    return new ServerLog({ stdout: process.stdout, stderr: process.stderr });
  }

  info(msg: string, extras: LogExtras = {}): void {
    this.write('info', msg, extras);
  }

  warn(msg: string, extras: LogExtras = {}): void {
    this.write('warn', msg, extras);
  }

  error(msg: string, extras: LogExtras = {}): void {
    this.write('error', msg, extras);
  }

  private write(level: LogLevel, msg: string, extras: LogExtras): void {
    const stream = level === 'info' ? this.streams.stdout : this.streams.stderr;
    if (this.format === 'json') {
      const line: Record<string, unknown> = { time: new Date(this.now()).toISOString(), level, msg };
      if (extras.details !== undefined && extras.details.length > 0) line.details = extras.details;
      if (extras.requestId !== undefined) line.request_id = extras.requestId;
      if (extras.stack !== undefined) line.stack = extras.stack;
      stream.write(`${JSON.stringify(line)}\n`);
      return;
    }
    let text = `gavel: ${level === 'warn' ? 'warning: ' : ''}${msg}\n`;
    for (const d of extras.details ?? []) text += `  ${d}\n`;
    // A stack's first line repeats the error's message, which `msg` has said.
    const frames = extras.stack?.split('\n').slice(1) ?? [];
    if (frames.length > 0) text += `${frames.join('\n')}\n`;
    stream.write(text);
  }
}
