// The dispatcher: hands every committed change to the parts of this process that react to it —
// the session clock, the gateway hub, the relay worker, the live stream, the caches — exactly once
// and in the log's order, whether this process made the change (run-change.ts calls `committed`
// after the commit) or another one did (the log reader, live/live.reader.ts).
//
// Order: records carry the log's global seq. A local commit whose first seq follows the last one
// taken goes out without a round trip. After a gap (another process committed between), records
// that arrived early are held: on PostgreSQL the missing change's notification is usually a
// fraction of a millisecond behind, and brings it; only a gap still open after `gapWaitMs` makes
// the reader fetch the missing rows. Everything goes out in order from there.
//
// Off the request path: consumers (the live fan-out to thousands of sockets, above all) run in a
// `setImmediate` after the commit, so the request that made the change answers first, whatever
// the audience. But while few are listening (`runAtOnceWhile`), they run at once, before the
// answer, as a bare broadcast server does: a handful of frames cost the request a fraction of a
// millisecond, and the others see the change that much sooner (bench:live, 2 clients, two A/B
// pairs: the event arrived in 4.4 and 5.9 ms instead of 5.9 and 8.2). What must not lag even a
// turn (a cache that would still grant a removed right) uses `onLocalCommit`.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { TDomainEvent } from "@postern/contracts";
import type { ChangeSink } from "../lib/run-change";
import { LogReader } from "../modules/live/live.reader";
import { lastLogSeq, type LogRecord } from "../modules/live/live.log";

export type ChangeConsumer = (record: LogRecord) => void;

export class ChangeDispatcher implements ChangeSink {
  /** The highest seq taken for delivery (the consumers have it, or will in this turn). */
  lastSeq = 0;
  private readonly consumers = new Set<ChangeConsumer>();
  private readonly local = new Set<(event: TDomainEvent, seq: number) => void>();
  private wakeReader: () => void = () => {};
  private atOnce: () => boolean = () => false;
  private readonly queue: LogRecord[] = [];
  private draining = false;
  /** Records that arrived ahead of a gap, by seq: taken once the gap closes. */
  private readonly held = new Map<number, LogRecord>();
  private gapTimer: NodeJS.Timeout | undefined;
  /** How long a gap may stay open before the log is read; 0 reads at once (SQLite, where no
   * notification will close it). */
  gapWaitMs = 0;

  constructor(private readonly onError: (err: unknown) => void) {}

  /** `consumer` gets every change once, in order, from this process or another. */
  subscribe(consumer: ChangeConsumer): () => void {
    this.consumers.add(consumer);
    return () => void this.consumers.delete(consumer);
  }

  /**
   * `fn` hears of this process's own changes synchronously at commit, before the request that
   * made them answers (and, like every consumer, again through `subscribe` if it listens there).
   * For what must not lag even a moment: a cache that would otherwise still grant a removed right.
   */
  onLocalCommit(fn: (event: TDomainEvent, seq: number) => void): () => void {
    this.local.add(fn);
    return () => void this.local.delete(fn);
  }

  /** Consumers run as soon as a change is taken, not after this turn, while `small()` says the
   * work they will do is small (the live stream's audience, in practice). */
  runAtOnceWhile(small: () => boolean): void {
    this.atOnce = small;
  }

  attachReader(wake: () => void): void {
    this.wakeReader = wake;
  }

  committed(records: LogRecord[]): void {
    for (const r of records) for (const fn of this.local) this.guard(() => fn(r.event, r.seq));
    // The change's own notification may have brought it first (PostgreSQL): then it is taken
    // already, and there is no gap to read.
    this.offer(records);
  }

  /**
   * A change that may be ahead of the last one taken: a local commit, or another process's
   * notification. It goes out at once when it follows; otherwise it waits for the gap to close.
   */
  offer(records: LogRecord[]): void {
    const first = records[0]?.seq;
    if (first === undefined || first <= this.lastSeq + 1) return this.deliver(records);
    for (const record of records) this.held.set(record.seq, record);
    if (this.gapWaitMs <= 0) return this.wakeReader();
    this.gapTimer ??= setTimeout(() => {
      this.gapTimer = undefined;
      if (this.held.size > 0) this.wakeReader();
    }, this.gapWaitMs);
    this.gapTimer.unref();
  }

  /** Records that follow the last one taken (read from the log: a gap there is a rolled-back
   * change's, and stays); those already taken are skipped. */
  deliver(records: LogRecord[]): void {
    for (const record of records) {
      if (record.seq <= this.lastSeq) continue;
      this.lastSeq = record.seq;
      this.queue.push(record);
    }
    if (this.held.size > 0) this.release();
    if (this.queue.length > 0 && !this.draining) {
      this.draining = true;
      if (this.atOnce()) this.drain();
      else setImmediate(() => this.drain());
    }
  }

  /** Takes the held records that now follow, and forgets those taken another way. */
  private release(): void {
    for (let next = this.held.get(this.lastSeq + 1); next; next = this.held.get(this.lastSeq + 1)) {
      this.held.delete(next.seq);
      this.lastSeq = next.seq;
      this.queue.push(next);
    }
    for (const seq of this.held.keys()) if (seq <= this.lastSeq) this.held.delete(seq);
    if (this.held.size === 0 && this.gapTimer) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    }
  }

  /** Stops waiting for gaps to close (shutdown). */
  stop(): void {
    clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }

  /** Resolves once everything taken so far has reached the consumers (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.draining) await new Promise((resolve) => setImmediate(resolve));
  }

  private drain(): void {
    // Records taken while draining join this same pass, in order.
    for (let i = 0; i < this.queue.length; i++) {
      const record = this.queue[i]!;
      for (const consumer of this.consumers) this.guard(() => consumer(record));
    }
    this.queue.length = 0;
    this.draining = false;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.onError(err);
    }
  }
}

declare module "fastify" {
  interface FastifyInstance {
    changes: ChangeDispatcher;
  }
}

/** How often the log is read for other processes' changes (SQLite; PostgreSQL is notified). A
 * read is one indexed statement of a few tens of microseconds. */
const SQLITE_POLL_MS = 100;
const POSTGRES_POLL_MS = 5000;
/**
 * PostgreSQL: how long a gap may wait for the notification that closes it. With two instances
 * making changes, about a third of the commits arrived ahead of the other instance's notification
 * (bench:api, change mix), which came well within a millisecond; reading the log for each was a
 * statement and a round trip more. A gap that lasts is a change rolled back after taking its seq,
 * or a notification lost with the connection: this is what it costs those.
 */
const POSTGRES_GAP_WAIT_MS = 20;

export default fp(
  async (app: FastifyInstance) => {
    const dispatcher = app.ctx.changes as ChangeDispatcher;
    const reader = new LogReader(app.ctx, {
      cursor: () => dispatcher.lastSeq,
      deliver: (records) => dispatcher.deliver(records),
      offer: (records) => dispatcher.offer(records),
      log: (msg, err) => app.dbHealth.report(msg, err),
      pollMs: app.ctx.provider === "postgres" ? POSTGRES_POLL_MS : SQLITE_POLL_MS,
      listenUrl: app.ctx.provider === "postgres" ? app.config.databaseUrl : undefined,
    });
    dispatcher.attachReader(() => reader.wake());
    if (app.ctx.provider === "postgres") dispatcher.gapWaitMs = POSTGRES_GAP_WAIT_MS;
    app.decorate("changes", dispatcher);
    app.addHook("onReady", async () => {
      // Changes made before this start are history: consumers read their state from the tables.
      dispatcher.lastSeq = await lastLogSeq(app.ctx);
      await reader.start();
    });
    // preClose, before the database closes (onClose hooks run last-registered first). Changes of
    // requests still finishing are in the log whatever happens, and go out directly from here.
    app.addHook("preClose", async () => {
      dispatcher.stop();
      await reader.stop();
    });
  },
  { name: "changes", dependencies: ["database"] },
);
