// Reads the live log for changes this process did not make: another API instance's (PostgreSQL)
// or the CLI's beside the server (both databases). On PostgreSQL a dedicated connection LISTENs
// and a notification says "there is something new"; a slower poll covers notifications lost
// while that connection was down. SQLite has no notifications: the log is polled.
import type pg from "pg";
import type { DbContext } from "../../lib/db-context";
import { KEEP_CONNECTIONS } from "@postern/db";
import { SerialPoller } from "@postern/runtime";
import { LIVE_CHANNEL, logRecordFrom, notifiedRecords, notifiedSeqs, readLog, type LogRecord } from "./live.log";

const BATCH = 1000;
/** How often the log is checked to still hold the last change taken, besides at every (re)connect
 * of the LISTEN connection. */
const CHECK_MS = 5000;

export interface LogReaderOptions {
  /** Where reading starts: the last seq the consumer has. */
  cursor(): number;
  /** The record at the cursor, when the consumer has seen it. */
  last(): LogRecord | undefined;
  /** The log no longer holds what the consumer has (`found` says what it holds instead): the
   * database went back in time. Nothing more is read or delivered after this. */
  rewound(found: string): void;
  /** Records read from the log: they follow the cursor. */
  deliver(records: LogRecord[]): void;
  /** Records a notification carried: they may be ahead of the cursor (the consumer holds them
   * until the gap closes, or asks for a read). */
  offer(records: LogRecord[]): void;
  log(msg: string, err?: unknown): void;
  /** Poll interval; on PostgreSQL only a safety net behind LISTEN. */
  pollMs: number;
  /** PostgreSQL: the URL for the LISTEN connection. */
  listenUrl?: string;
  /** How often the log is checked to still hold the record at the cursor; default 5 s. */
  checkMs?: number;
}

export class LogReader {
  private readonly poller: SerialPoller;
  private client: pg.Client | null = null;
  private stopped = false;
  private retryMs = 500;
  /** When the log was last found to hold the last record taken; 0: check at the next read. */
  private checkedAt = 0;
  private rewound = false;

  constructor(
    private readonly ctx: DbContext,
    private readonly options: LogReaderOptions,
  ) {
    this.poller = new SerialPoller(async () => {
      try {
        await this.readAll();
      } catch (err) {
        this.options.log("live: reading the log failed", err);
      }
      return this.options.pollMs;
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
    if (this.options.listenUrl) await this.connect(this.options.listenUrl);
    this.poller.start();
  }

  /** Reads what is new now; wake-ups that arrive during a read merge into one more read. */
  wake(): void {
    this.poller.poke();
  }

  /** Resolves when the reads asked for so far are done (tests). */
  settled(): Promise<void> {
    return this.poller.settled();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
    await this.poller.stop();
  }

  /**
   * A change committed somewhere. This process's own changes reach the dispatcher in-process, from
   * their commit: nothing to do. Those its hot-path pool sent are known by the sender's pid, since
   * the notification often arrives before the commit's answer, and taking the change from here
   * then would run a fan-out slice ahead of that request's reply; should the answer be lost, the
   * next gap or the poll reads the change from the log. Its other changes (through Prisma's own
   * connections) are skipped by the cursor, or taken from here when the notification wins.
   * Another process's change that carries its records goes to the consumer, which holds it while
   * a gap before it is open (the dispatcher, plugins/changes.ts). A change too large to carry, or
   * a payload this process cannot read, makes the reader read the log.
   */
  private notified(payload: string, sender?: number): void {
    if (this.rewound) return;
    if (sender !== undefined && this.ctx.sql.isOwnConnection?.(sender)) return;
    try {
      const cursor = this.options.cursor();
      // This process's own changes (every instance hears its own) are dropped before parsing.
      if (notifiedSeqs(payload).every((seq) => Number.isSafeInteger(seq) && seq <= cursor)) return;
      const { records } = notifiedRecords(payload);
      if (records) return this.options.offer(records);
    } catch {
      // Read the log instead.
    }
    this.wake();
  }

  private async readAll(): Promise<void> {
    if (this.rewound) return;
    if (Date.now() - this.checkedAt >= (this.options.checkMs ?? CHECK_MS)) {
      const found = await this.rewoundTo();
      if (found !== undefined) {
        this.rewound = true;
        return this.options.rewound(found);
      }
      this.checkedAt = Date.now();
    }
    for (;;) {
      const rows = await readLog(this.ctx, this.options.cursor(), BATCH);
      if (rows.length > 0) this.options.deliver(rows);
      if (rows.length < BATCH) return;
    }
  }

  /**
   * What the log holds at the last seq taken, when that is not the record taken: the database was
   * restored, or failed over to a replica the latest commits had not reached (on PostgreSQL a
   * change is readable an instant before its flush, live.log.ts). New changes there reuse the seqs
   * this process has already taken, and reading after the cursor would skip them for good. A row
   * missing at the cursor while later ones exist is taken for pruning, not proof.
   */
  private async rewoundTo(): Promise<string | undefined> {
    const last = this.options.last();
    if (!last || last.seq !== this.options.cursor()) return undefined;
    const found = await logRecordFrom(this.ctx, last.seq);
    if (!found) return `the live log ends before seq ${last.seq}, the last change this process took`;
    if (found.seq === last.seq && JSON.stringify(found.event) !== JSON.stringify(last.event)) {
      return `the live log's seq ${last.seq} is a ${found.event.type}, where this process took a ${last.event.type}${found.event.type === last.event.type ? " with other details" : ""}`;
    }
    return undefined;
  }

  private async connect(url: string): Promise<void> {
    // Loaded here, on PostgreSQL only: an SQLite install never needs the driver.
    const { default: pgModule } = await import("pg");
    const { keepAlive, keepAliveInitialDelayMillis } = KEEP_CONNECTIONS;
    const client = new pgModule.Client({ connectionString: url, keepAlive, keepAliveInitialDelayMillis });
    client.on("notification", (msg) => this.notified(msg.payload ?? "", msg.processId));
    client.on("error", (err) => {
      this.options.log("live: LISTEN connection lost; reconnecting", err);
      void this.reconnect(client, url);
    });
    await client.connect();
    await client.query(`LISTEN ${LIVE_CHANNEL}`);
    this.client = client;
    this.retryMs = 500;
    // A lost connection is how a database's restart or failover shows here: check what it holds.
    this.checkedAt = 0;
    this.wake();
  }

  private async reconnect(broken: pg.Client, url: string): Promise<void> {
    if (this.stopped || this.client !== broken) return;
    this.client = null;
    await broken.end().catch(() => {});
    while (!this.stopped) {
      await new Promise((r) => setTimeout(r, this.retryMs).unref());
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
      try {
        await this.connect(url);
        return;
      } catch (err) {
        this.options.log("live: LISTEN reconnect failed", err);
      }
    }
  }
}
