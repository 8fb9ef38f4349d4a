// Moves sessions along the clock: expires them, starts booked ones, lapses waitlist offers and
// offers freed exclusive services to the next in line. The truth is the database: at start-up and
// after every change the scheduler reads the next due instant (expiry, booked start, offer end)
// and sets one timer for it, so whatever fell due while the API was down happens once it is back.
// Every transition is a conditional update, so several instances never do one twice.
import type { DbContext } from "../../lib/db-context";
import type { SessionChangeVerb } from "../../plugins/changes";
import type { SessionRow } from "./sessions.presenter";
import { nextScheduledStart, startDueScheduled } from "./sessions.schedule";
import { expireDueSessions, nextExpiry } from "./sessions.service";
import { lapseDueOffers, nextOfferExpiry, offerFreedServices } from "./waitlist.service";

export interface SchedulerOptions {
  /** How long the first in line has to accept a freed service (POSTERN_WAITLIST_OFFER_SECONDS). */
  offerSeconds?: number;
  /** Every other transition the scheduler made (started, offered, offer_expired, …). */
  onChange?: (verb: SessionChangeVerb, session: SessionRow) => void;
}

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
    private readonly options: SchedulerOptions = {},
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
      const emit = (changes: { verb: SessionChangeVerb; session: SessionRow }[]) => {
        for (const c of changes) this.options.onChange?.(c.verb, c.session);
      };
      // Booked windows first: they were promised to the minute, and their conflicts were settled
      // at booking, so they need nothing else to have happened first.
      const started = await startDueScheduled(this.ctx);
      const missed = started.filter((c) => c.verb === "expired").map((c) => c.session);
      if (missed.length > 0) this.onExpired(missed);
      emit(started.filter((c) => c.verb !== "expired"));
      const expired = await expireDueSessions(this.ctx);
      if (expired.length > 0) this.onExpired(expired);
      emit(await lapseDueOffers(this.ctx));
      // The line is served last, once expiries and lapsed offers have freed what they free.
      emit(await offerFreedServices(this.ctx, this.options.offerSeconds ?? 120));
      const dues = await Promise.all([nextExpiry(this.ctx), nextScheduledStart(this.ctx), nextOfferExpiry(this.ctx)]);
      const next = Math.min(...dues.map((d) => d?.getTime() ?? Infinity));
      if (Number.isFinite(next)) delay = Math.min(MAX_SLEEP_MS, Math.max(0, next - this.ctx.now().getTime()));
    } catch (err) {
      this.onError(err);
      delay = 1000;
    }
    if (!this.stopped) this.timer = setTimeout(() => this.poke(), delay);
  }
}
