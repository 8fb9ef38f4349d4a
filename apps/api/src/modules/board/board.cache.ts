// What one visibility class (admins, or members of a given set of groups) sees on the board — its
// services and the open sessions on them — read once, presented once and serialised once, then
// served to every request and live snapshot of that class until a change makes it untrue. The
// change pipeline drops it: at commit on this process (so a request sees its own change at once)
// and as other processes' changes arrive from the live log.
import { OPEN_STATUSES, type TDomainEvent, type TService, type TSession } from "@postern/contracts";
import type { Prisma } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import type { VisibilityClass } from "../live/live.audience";
import { presentService, serviceInclude } from "../services/services.presenter";
import { presentSession, sessionInclude } from "../sessions/sessions.presenter";

export interface BoardView {
  services: TService[];
  /** `services` as JSON, for the live snapshot. */
  servicesJson: string;
  /** The same as UTF-8 bytes, for `GET /api/services`: encoded once, not on every answer. */
  servicesBody: Buffer;
  byId: ReadonlyMap<string, TService>;
  /** Open sessions on those services, newest request first. */
  sessions: TSession[];
  sessionsJson: string;
  sessionsBody: Buffer;
}

/** A gateway's status reads offline once its heartbeats stop, with no event: look again this often. */
const MAX_AGE_MS = 5_000;

/** Events that leave every board as it was (logins, tokens, relay, tunnel, group names). */
const IRRELEVANT = /^(user\.(login|login_failed|login_throttled|logout|logout_all|password_changed|identity_linked|created)|auth\.|token\.|message\.|tunnel\.|group\.(created|renamed|member_added))/;

interface Entry {
  view: Promise<BoardView>;
  at: number;
  /** The view once read, for `peek`. */
  ready?: BoardView;
}

export class BoardCache {
  private readonly views = new Map<string, Entry>();
  private generation = 0;

  constructor(private readonly ctx: DbContext) {}

  view(cls: VisibilityClass): Promise<BoardView> {
    const hit = this.views.get(cls.key);
    if (hit && Date.now() - hit.at < MAX_AGE_MS) return hit.view;
    const generation = this.generation;
    const entry: Entry = { view: this.build(cls), at: Date.now() };
    this.views.set(cls.key, entry);
    // A read that started before a change must not stand for the board after it.
    entry.view.then(
      (view) => {
        if (generation !== this.generation && this.views.get(cls.key) === entry) this.views.delete(cls.key);
        else entry.ready = view;
      },
      () => {
        if (this.views.get(cls.key) === entry) this.views.delete(cls.key);
      },
    );
    return entry.view;
  }

  /**
   * The class's board if it is in memory, without reading it: for checks that may skip it. Its age
   * does not matter here: MAX_AGE_MS is for gateway statuses, which change without an event;
   * sessions and services never change without one, and every event drops the board.
   */
  peek(cls: VisibilityClass): BoardView | undefined {
    return this.views.get(cls.key)?.ready;
  }

  notice(event: TDomainEvent): void {
    if (IRRELEVANT.test(event.type)) return;
    this.generation += 1;
    this.views.clear();
  }

  /**
   * A view read while a change committed may hold the board from before it; the requests waiting
   * on it would then answer after the change's live event went out, and a client applying both
   * would put the old state back over the new. So a read that overlapped a change is read again.
   */
  private async build(cls: VisibilityClass): Promise<BoardView> {
    for (let attempt = 0; ; attempt++) {
      const generation = this.generation;
      const view = await this.read(cls);
      // Bounded: under a stream of changes a view a few milliseconds old is the best there is.
      if (generation === this.generation || attempt >= 3) return view;
    }
  }

  private async read(cls: VisibilityClass): Promise<BoardView> {
    const where: Prisma.ServiceWhereInput = cls.admin ? {} : { groups: { some: { groupId: { in: [...cls.groupIds] } } } };
    const [rows, sessionRows] = await Promise.all([
      this.ctx.db.service.findMany({ where, include: serviceInclude, orderBy: [{ connectionMain: "asc" }, { name: "asc" }] }),
      this.ctx.db.accessSession.findMany({
        where: { service: where, status: { in: [...OPEN_STATUSES] } },
        include: sessionInclude,
        orderBy: { requestedAt: "desc" },
      }),
    ]);
    const view = { detail: cls.admin, now: this.ctx.now() };
    const services = rows.map((s) => presentService(s, view));
    const sessions = sessionRows.map(presentSession);
    const servicesJson = JSON.stringify(services);
    const sessionsJson = JSON.stringify(sessions);
    return {
      services,
      servicesJson,
      servicesBody: Buffer.from(servicesJson),
      byId: new Map(services.map((s) => [s.id, s])),
      sessions,
      sessionsJson,
      sessionsBody: Buffer.from(sessionsJson),
    };
  }
}
