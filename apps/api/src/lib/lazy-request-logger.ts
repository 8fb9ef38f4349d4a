// Fastify gives every request a child of the server's logger carrying its request id. A pino child
// costs an object, a copy of its log methods when the route sets its own level, and a pass of
// the bindings through redaction: about a tenth of a cached read, spent on every request even
// though almost all of them write nothing at the configured level. This logger stands in for the
// child and makes it only when a line at an enabled level is written.
import type { FastifyBaseLogger, FastifyServerOptions } from "fastify";
import type { Bindings, ChildLoggerOptions, Logger } from "pino";

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

class LazyRequestLogger {
  private real: Logger | undefined;
  private ownLevel: string | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindingsOf: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {
    this.ownLevel = options.level;
  }

  get level(): string {
    return this.real?.level ?? this.ownLevel ?? this.parent.level;
  }

  set level(level: string) {
    if (this.real) this.real.level = level;
    else this.ownLevel = level;
  }

  isLevelEnabled(level: string): boolean {
    const values = this.parent.levels.values;
    const wanted = values[level];
    const threshold = values[this.level];
    // "silent" has no number in pino's table: nothing is enabled then.
    return wanted !== undefined && threshold !== undefined && wanted >= threshold;
  }

  /** The pino child this stands in for, made on first use. */
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.materialise().child(bindings, options);
  }

  bindings(): Bindings {
    return this.real ? this.real.bindings() : { ...this.parent.bindings(), ...this.bindingsOf };
  }

  fatal(...args: unknown[]): void {
    this.write("fatal", args);
  }
  error(...args: unknown[]): void {
    this.write("error", args);
  }
  warn(...args: unknown[]): void {
    this.write("warn", args);
  }
  info(...args: unknown[]): void {
    this.write("info", args);
  }
  debug(...args: unknown[]): void {
    this.write("debug", args);
  }
  trace(...args: unknown[]): void {
    this.write("trace", args);
  }
  silent(): void {}

  private write(level: Level, args: unknown[]): void {
    if (!this.isLevelEnabled(level)) return;
    (this.materialise()[level] as (...a: unknown[]) => void)(...args);
  }

  private materialise(): Logger {
    if (!this.real) {
      const options = this.ownLevel === undefined ? this.options : { ...this.options, level: this.ownLevel };
      this.real = this.parent.child(this.bindingsOf, options);
    }
    return this.real;
  }
}

/** Fastify's `childLoggerFactory` for a pino logger: each request's child is made on its first enabled line. */
export const lazyChildLoggerFactory: NonNullable<FastifyServerOptions["childLoggerFactory"]> = (logger, bindings, options) =>
  new LazyRequestLogger(logger as unknown as Logger, bindings, options as ChildLoggerOptions) as unknown as FastifyBaseLogger;
