// Expires sessions on time. The truth is the expiry stored in the database: at start-up and
// after every change the scheduler reads the next expiry and sets one timer for that instant,
// so sessions that ran out while the API was down expire as soon as it is back.
import type { DbContext } from "../../lib/db-context";
import type { SessionRow } from "./sessions.presenter";
import { expireDueSessions, nextExpiry } from "./sessions.service";

/** Upper bound on one sleep, so another instance's new sessions are picked up regardless. */
const MAX_SLEEP_MS = 15_000;

export class ExpiryScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly ctx: DbContext,
    private readonly onExpired: (sessions: SessionRow[]) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.poke();
  }

  /** Re-reads the next expiry; call after any change to a session's expiry. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.tick().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.poke();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    let delay = MAX_SLEEP_MS;
    try {
      const expired = await expireDueSessions(this.ctx);
      if (expired.length > 0) this.onExpired(expired);
      const next = await nextExpiry(this.ctx);
      if (next) delay = Math.min(MAX_SLEEP_MS, Math.max(0, next.getTime() - this.ctx.now().getTime()));
    } catch (err) {
      this.onError(err);
      delay = 1000;
    }
    if (!this.stopped) this.timer = setTimeout(() => this.poke(), delay);
  }
}
