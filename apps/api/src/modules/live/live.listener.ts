// PostgreSQL fan-out between API instances: a dedicated connection LISTENs on the live channel;
// a notification only says "there is something new", and the listener reads every row above
// the last seq it delivered, in order. A periodic poll and a catch-up after every reconnect
// cover notifications lost while the connection was down.
import pg from "pg";
import type { DbContext } from "../../lib/db-context";
import { LIVE_CHANNEL, readLiveEvents } from "./live.store";
import type { LiveHub } from "./live.hub";

const BATCH = 1000;

export class LiveListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private reading: Promise<void> | null = null;
  private again = false;
  private poll: NodeJS.Timeout | undefined;
  private retryMs = 500;

  constructor(
    private readonly url: string,
    private readonly ctx: DbContext,
    private readonly hub: LiveHub,
    private readonly log: (msg: string, err?: unknown) => void,
    private readonly pollMs = 5000,
  ) {}

  async start(): Promise<void> {
    await this.connect();
    this.poll = setInterval(() => this.wake(), this.pollMs);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
    await this.reading;
  }

  /** Reads and delivers everything new; concurrent wake-ups coalesce into one more read. */
  wake(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.readAll()
      .catch((err: unknown) => this.log("live: reading new events failed", err))
      .finally(() => {
        this.reading = null;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async readAll(): Promise<void> {
    for (;;) {
      const rows = await readLiveEvents(this.ctx, this.hub.lastSeq, BATCH);
      for (const row of rows) this.hub.deliver(row);
      if (rows.length < BATCH) return;
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on("notification", () => this.wake());
    client.on("error", (err) => {
      this.log("live: LISTEN connection lost; reconnecting", err);
      void this.reconnect(client);
    });
    await client.connect();
    await client.query(`LISTEN ${LIVE_CHANNEL}`);
    this.client = client;
    this.retryMs = 500;
    this.wake();
  }

  private async reconnect(broken: pg.Client): Promise<void> {
    if (this.stopped || this.client !== broken) return;
    this.client = null;
    await broken.end().catch(() => {});
    while (!this.stopped) {
      await new Promise((r) => setTimeout(r, this.retryMs).unref());
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
      try {
        await this.connect();
        return;
      } catch (err) {
        this.log("live: LISTEN reconnect failed", err);
      }
    }
  }
}
