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
// turn (a cache that would still grant a removed right) uses `subscribeAtCommit`.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { ChangeSink } from "../lib/run-change";
import { LogReader } from "../modules/live/live.reader";
import { lastLogRecord, type LogRecord } from "../modules/live/live.log";

export type ChangeConsumer = (record: LogRecord) => void;

/** Every seq heard at commit is drained within a turn or a gap's wait; this bounds the set should
 * one never be (a change held at shutdown). Forgetting one costs a cache a second notice. */
const MAX_HEARD_AT_COMMIT = 4096;

export class ChangeDispatcher implements ChangeSink {
  /** The highest seq taken for delivery (the consumers have it, or will in this turn). */
  lastSeq = 0;
  /** The record at `lastSeq`, when this process has seen it: what the log must still hold there
   * (the log reader checks, live.reader.ts). */
  lastRecord: LogRecord | undefined;
  private readonly rewoundListeners: ((reason: string) => void)[] = [];
  private readonly consumers = new Set<ChangeConsumer>();
  private readonly atCommit = new Set<ChangeConsumer>();
  /** Seqs `atCommit` heard at their commit and the drain has yet to reach: it skips them there. */
  private readonly heardAtCommit = new Set<number>();
  /** The highest seq the consumers have had. */
  private lastDrained = 0;
  /** The log reader (live/live.reader.ts): `wake` asks for a read, `settled` says when the reads
   * asked for are done. */
  private reader: { wake(): void; settled(): Promise<void> } = { wake: () => {}, settled: async () => {} };
  /** Board reads waiting for a change they were told of (`reach`), by the seq each wants. */
  private readonly waiters = new Set<{ seq: number; done: () => void }>();
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
   * As `subscribe`, but `consumer` hears of this process's own changes synchronously at commit,
   * before the request that made them answers: still once each, and others' changes in order. For
   * what must not lag even a moment: a cache that would otherwise still grant a removed right.
   */
  subscribeAtCommit(consumer: ChangeConsumer): () => void {
    this.atCommit.add(consumer);
    return () => void this.atCommit.delete(consumer);
  }

  /** Consumers run as soon as a change is taken, not after this turn, while `small()` says the
   * work they will do is small (the live stream's audience, in practice). */
  runAtOnceWhile(small: () => boolean): void {
    this.atOnce = small;
  }

  /** `listener` is told, in the order of these calls, when the log no longer holds what this
   * process has taken: the database was restored or failed over to a copy without its latest
   * changes. The live stream tells its clients to start over; the server restarts in place
   * (server.ts). */
  onRewound(listener: (reason: string) => void): void {
    this.rewoundListeners.push(listener);
  }

  rewound(reason: string): void {
    for (const listener of this.rewoundListeners) this.guard(() => listener(reason));
  }

  attachReader(reader: { wake(): void; settled(): Promise<void> }): void {
    this.reader = reader;
  }

  /** Whether the consumers (the board's cache first) have had every change up to `seq`. */
  reached(seq: number): boolean {
    return seq <= (this.draining ? this.lastDrained : this.lastSeq);
  }

  /**
   * Resolves once the consumers have had every change up to `seq`: a client that made a change
   * through another instance, or saw it on the live stream, asks this one for a board at least
   * that new (live/live.seq.ts). The log is read at once rather than waiting for the change's
   * notification. Resolves without it when the log turns out not to hold `seq` (a bogus seq, or a
   * database restored to before it), and after `maxWaitMs` whatever happens.
   */
  reach(seq: number, maxWaitMs: number): Promise<void> {
    if (this.reached(seq)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        seq,
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.done, maxWaitMs);
      this.waiters.add(waiter);
      // What the read took is drained in this turn or the next, which answers the waiter.
      this.reader.wake();
      this.reader.settled().then(
        () => {
          if (this.lastSeq < seq) waiter.done();
        },
        () => waiter.done(),
      );
    });
  }

  committed(records: LogRecord[]): void {
    if (this.atCommit.size > 0) {
      for (const record of records) {
        // Its own notification brought it and the consumers had it (PostgreSQL). Seqs commit in
        // increasing order (live.log.ts), so one at or below the last drained was drained itself,
        // never skipped as a hole.
        if (record.seq <= this.lastDrained) continue;
        if (this.heardAtCommit.size >= MAX_HEARD_AT_COMMIT) this.heardAtCommit.clear();
        this.heardAtCommit.add(record.seq);
        for (const consumer of this.atCommit) this.guard(() => consumer(record));
      }
    }
    // Taken already if that notification came first: then there is no gap to read.
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
    if (this.gapWaitMs <= 0) return this.reader.wake();
    this.gapTimer ??= setTimeout(() => {
      this.gapTimer = undefined;
      if (this.held.size > 0) this.reader.wake();
    }, this.gapWaitMs);
    this.gapTimer.unref();
  }

  /** Records that follow the last one taken (read from the log: a gap there is a rolled-back
   * change's, and stays); those already taken are skipped. */
  deliver(records: LogRecord[]): void {
    for (const record of records) {
      if (record.seq <= this.lastSeq) continue;
      this.lastSeq = record.seq;
      this.lastRecord = record;
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
      this.lastRecord = next;
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
    for (const waiter of this.waiters) waiter.done();
  }

  /** Resolves once everything taken so far has reached the consumers (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.draining) await new Promise((resolve) => setImmediate(resolve));
  }

  private drain(): void {
    // Records taken while draining join this same pass, in order.
    for (let i = 0; i < this.queue.length; i++) {
      const record = this.queue[i]!;
      // Caches before the effects that read them.
      if (!this.heardAtCommit.delete(record.seq)) for (const consumer of this.atCommit) this.guard(() => consumer(record));
      for (const consumer of this.consumers) this.guard(() => consumer(record));
      this.lastDrained = record.seq;
    }
    this.queue.length = 0;
    this.draining = false;
    if (this.waiters.size > 0) for (const waiter of this.waiters) if (waiter.seq <= this.lastDrained) waiter.done();
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
      last: () => dispatcher.lastRecord,
      deliver: (records) => dispatcher.deliver(records),
      offer: (records) => dispatcher.offer(records),
      log: (msg, err) => app.dbHealth.report(msg, err),
      rewound: (found) => {
        const reason = `the database no longer holds this process's latest changes (${found}): it was restored, or failed over to a copy that had not received them`;
        app.log.error(reason);
        dispatcher.rewound(reason);
      },
      pollMs: app.ctx.provider === "postgres" ? POSTGRES_POLL_MS : SQLITE_POLL_MS,
      listenUrl: app.ctx.provider === "postgres" ? app.config.databaseUrl : undefined,
    });
    dispatcher.attachReader(reader);
    if (app.ctx.provider === "postgres") dispatcher.gapWaitMs = POSTGRES_GAP_WAIT_MS;
    app.decorate("changes", dispatcher);
    app.addHook("onReady", async () => {
      // Changes made before this start are history: consumers read their state from the tables.
      const last = await lastLogRecord(app.ctx);
      dispatcher.lastSeq = last?.seq ?? 0;
      dispatcher.lastRecord = last;
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
