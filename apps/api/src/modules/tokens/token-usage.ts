// When and from where each API token was last used. Advisory, so it never costs a request a
// database write or fails one: uses are collected in memory and written every few seconds, one
// statement per token that was used, outside any request.
import type { DbContext } from "../../lib/db-context";

const FLUSH_MS = 5_000;

export class TokenUsage {
  private readonly pending = new Map<string, { at: Date; ip: string }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Set while writes fail, so an outage is reported once, not at every flush. */
  private failing = false;

  constructor(
    private readonly ctx: DbContext,
    private readonly onError: (err: unknown) => void,
  ) {}

  note(tokenId: string, at: Date, ip: string): void {
    this.pending.set(tokenId, { at, ip });
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  /** Writes what was noted so far (also at shutdown). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      let failure: unknown;
      for (const [id, use] of batch) {
        try {
          await this.ctx.db.apiToken.updateMany({ where: { id }, data: { lastUsedAt: use.at, lastUsedIp: use.ip } });
        } catch (err) {
          // A full disk or a database outage costs the record of a use, never a request.
          failure ??= err;
        }
      }
      if (failure !== undefined && !this.failing) this.onError(failure);
      this.failing = failure !== undefined;
    });
    return this.flushing;
  }
}
