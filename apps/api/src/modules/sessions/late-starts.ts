// Access follows permission across a race that the transactions alone leave open. A start reads
// its caller's groups when the request arrives (the principal cache); a removal's revocation ends
// the open sessions it finds when it scans. A start that read the groups before the removal and
// committed after that scan holds an active session that nothing ends: the revocation did not
// see it, and the start did not see the removal (found by a review: 40 starts racing one removal
// left one such session, on the board, holding an exclusive service).
//
// Two looks after the commits close it without a lock on the hot path. The dispatcher hands every
// change to every instance in commit order, so for a start S and a removal R:
//   - R committed first: S is handed over after R, and checking S's holder then sees R;
//   - S committed first: sweeping R's scope once R is handed over sees S's session.
// So each change that can take a right away is swept again after its commit, and each start
// handed over within a while of such a change is checked. Starts far from any removal cost nothing.
import type { TRevocationCause } from "@postern/contracts";
import type { SqlRunner } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import type { Actor } from "../audit/audit.service";
import type { LogRecord } from "../live/live.log";
import { runSqlChange, SYSTEM } from "../../lib/run-change";
import { OPEN_STATUS_LIST } from "./sessions.sql";
import { findLost, revokeIfLost, revokeLost, type RevocationScope } from "./revocation";

/** How long after a change that took rights away starts are checked: far longer than a request
 * lives between reading its caller and committing. */
const CHECK_STARTS_FOR_MS = 60_000;

/** A change that took rights away, as the sweeper remembers it: whom it may have touched, why,
 * and who made it (the `endedBy` of what it ends after the fact, as of what it ended itself). */
interface Removal {
  scope: RevocationScope | "every holder";
  cause: TRevocationCause;
  actor: Actor | null;
}

/** The removals a late start is checked against: a start is rarely that late behind more. */
const REMEMBERED_REMOVALS = 64;

export class LateStartSweeper {
  private checkStartsUntil = 0;
  /** The latest changes that took rights away, newest last (within CHECK_STARTS_FOR_MS). */
  private readonly removals: Removal[] = [];
  /** Sweeps and checks in flight, for `settled`. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly ctx: DbContext,
    private readonly onError: (err: unknown) => void,
  ) {}

  notice(record: Pick<LogRecord, "event" | "actor">): void {
    const { event } = record;
    // What the sweeper ends, it ends in the name of whoever made the change (endedBy, the audit's
    // actor) and for its cause, as the change's own revocation did: a holder reading My sessions or
    // the audit sees who took their access away, and why.
    const actor = record.actor ? { ...record.actor, kind: "user" as const } : null;
    const sweep = (scope: Removal["scope"], cause: TRevocationCause) => this.sweep({ scope, cause, actor });
    switch (event.type) {
      case "group.member_removed":
        return sweep({ userIds: [event.user.id] }, "member_removed");
      case "user.disabled":
        return sweep({ userIds: [event.userId] }, "user_disabled");
      case "user.updated":
        return sweep({ userIds: [event.user.id] }, event.changed.includes("role") ? "demoted" : "member_removed");
      case "user.login":
        // A provider's groups claim may have removed memberships.
        if (event.groups) sweep({ userIds: [event.user.id] }, "member_removed");
        return;
      case "group.deleted":
        return sweep("every holder", "group_deleted");
      case "service.updated":
        if (event.changed.length > 0) sweep({ serviceIds: [event.service.id] }, "service_groups_changed");
        return;
      case "session.started":
        if (Date.now() < this.checkStartsUntil) this.track(this.check(event.session));
        return;
      default:
        return;
    }
  }

  /** Resolves once every sweep and check begun so far has ended (at shutdown, before the database closes). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private sweep(removal: Removal): void {
    const { scope, cause, actor } = removal;
    if (this.checkStartsUntil <= Date.now()) this.removals.length = 0;
    this.checkStartsUntil = Date.now() + CHECK_STARTS_FOR_MS;
    this.removals.push(removal);
    if (this.removals.length > REMEMBERED_REMOVALS) this.removals.shift();
    this.track(
      (async () => {
        // A read first: almost always nothing was missed, and then nothing is written.
        const lost = await this.ctx.sql.read(async (sql) => findLost(sql, scope === "every holder" ? { userIds: await openHolders(sql) } : scope));
        if (lost.length === 0) return;
        const userIds = [...new Set(lost.map((s) => s.userId))];
        // In the name of whoever made the change, as its own revocation was: endedBy and the audit's actor.
        await runSqlChange(this.ctx, { actor }, (sql, record) => revokeLost(this.ctx, sql, record, { userIds }, cause, actor));
      })(),
    );
  }

  private async check(session: { id: string; userId: string; serviceId: string }): Promise<void> {
    const lost = await this.ctx.sql.read((sql) => findLost(sql, { userIds: [session.userId] }));
    if (!lost.some((s) => s.id === session.id)) return;
    // The latest removal that may have touched it says why and in whose name; none (forgotten, or
    // a right lost some other way) leaves it the clock's.
    const removal = this.removals.findLast(({ scope }) => scope === "every holder" || scope.userIds?.includes(session.userId) || scope.serviceIds?.includes(session.serviceId));
    await revokeIfLost(this.ctx, removal ? { actor: removal.actor } : SYSTEM, session.id, "active", removal?.cause);
  }

  private track(work: Promise<unknown>): void {
    const done = work.catch(this.onError).finally(() => this.running.delete(done));
    this.running.add(done);
  }
}

/** Whoever holds an open session: those a deleted group's members may be among. */
async function openHolders(sql: SqlRunner): Promise<string[]> {
  const rows = await sql.all<{ userId: string }>(`SELECT DISTINCT "userId" FROM "AccessSession" WHERE "status" IN ${OPEN_STATUS_LIST}`);
  return rows.map((r) => r.userId);
}
