// Moves sessions along the clock: starts booked windows, expires sessions and requests whose
// window passed undecided, lapses waitlist offers, offers freed exclusive services to the next
// in line and shared services to anyone still in a line. The truth is the database: at start-up
// and whenever a change may have freed a service it reads what is due and when the next instant
// falls, and sleeps until then (at most MAX_SLEEP_MS, so another instance's bookings are picked
// up regardless). Events that only add a due instant (a start, an extension, a booking, a request
// for a window) move the alarm forward without a query. Every transition is a conditional update
// recorded as a change, so several instances never do one twice.
import type { TDomainEvent } from "@postern/contracts";
import type { DbContext } from "../../lib/db-context";
import { SerialPoller } from "@postern/runtime";
import { nextDue, sessionsInLine } from "./session-clock.sql";
import { startDueScheduled } from "./sessions.schedule";
import { expireDueSessions, expireStaleRequests } from "./sessions.service";
import { lapseDueOffers, offerFreedServices, type LineRules } from "./waitlist.service";
import { LINE_STATUSES } from "./waitlist.sql";

/** Upper bound on one sleep, so another instance's new sessions are picked up regardless. */
const MAX_SLEEP_MS = 15_000;

/** Session events after which a service may be free for the next in line. */
const FREEING = new Set<TDomainEvent["type"]>([
  "session.ended",
  "session.force_ended",
  "session.expired",
  "session.revoked",
  "session.denied",
  "session.left_waitlist",
  "session.offer_expired",
  "session.waitlisted",
]);

const IN_LINE = new Set<string>(LINE_STATUSES);

export class SessionClock {
  private readonly poller: SerialPoller;
  /** Services with someone waiting or offered, by session: a service that frees up needs a look
   * only when its line is not empty. Read from the database at every tick, kept by events between. */
  private readonly lines = new Map<string, Set<string>>();

  constructor(
    private readonly ctx: DbContext,
    private readonly onError: (err: unknown) => void,
    /** How the line moves: the offer's time to accept, the shortest session. */
    private readonly line: LineRules = { offerSeconds: 120, minSessionSeconds: 60 },
  ) {
    this.poller = new SerialPoller(() => this.tick());
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** Looks at everything due soon. */
  poke(): void {
    this.poller.poke();
  }

  /** Resolves when the ticks asked for so far are done (tests). */
  settled(): Promise<void> {
    return this.poller.settled();
  }

  /** A committed change: wake for what it makes due, or look again if it may free a service. */
  notice(event: TDomainEvent): void {
    if (!("session" in event)) {
      // A service's settings may free it or make it exclusive; their revocations come as session events.
      if (event.type.startsWith("service.")) this.poke();
      return;
    }
    const s = event.session;
    const line = this.lines.get(s.serviceId);
    if (IN_LINE.has(s.status)) {
      if (line) line.add(s.id);
      else this.lines.set(s.serviceId, new Set([s.id]));
    } else if (line?.delete(s.id) && line.size === 0) {
      this.lines.delete(s.serviceId);
    }
    if (FREEING.has(event.type) && this.lines.has(s.serviceId)) return this.poke();
    const due = s.status === "active" ? s.expiresAt : s.status === "scheduled" ? s.startsAt : s.status === "offered" ? s.offerExpiresAt : undefined;
    if (due) this.poller.wakeIn(Date.parse(due) - this.ctx.now().getTime());
    // A request for a window falls due, undecided, when the window ends.
    else if (s.status === "pending" && s.startsAt) this.poller.wakeIn(Date.parse(s.startsAt) + s.durationSeconds * 1000 - this.ctx.now().getTime());
  }

  private async readLines(): Promise<void> {
    const rows = await sessionsInLine(this.ctx);
    this.lines.clear();
    for (const r of rows) {
      const line = this.lines.get(r.serviceId);
      if (line) line.add(r.id);
      else this.lines.set(r.serviceId, new Set([r.id]));
    }
  }

  private async tick(): Promise<number> {
    try {
      // Booked windows first: they were promised to the minute, and their conflicts were settled
      // at booking, so they need nothing else to have happened first.
      await startDueScheduled(this.ctx);
      await expireDueSessions(this.ctx);
      await expireStaleRequests(this.ctx);
      await lapseDueOffers(this.ctx);
      // The line is served last, once expiries and lapsed offers have freed what they free.
      await offerFreedServices(this.ctx, this.line);
      await this.readLines();
      const next = await nextDue(this.ctx);
      if (!next) return MAX_SLEEP_MS;
      return Math.min(MAX_SLEEP_MS, Math.max(0, next.getTime() - this.ctx.now().getTime()));
    } catch (err) {
      this.onError(err);
      return 1000;
    }
  }
}
