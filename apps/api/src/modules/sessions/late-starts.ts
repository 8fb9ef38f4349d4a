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
import type { TDomainEvent, TRevocationCause } from "@postern/contracts";
import type { SqlValue } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { runSqlChange, SYSTEM } from "../../lib/run-change";
import { OPEN_STATUS_LIST } from "./sessions.sql";
import { holderMaySeeColumn, mayHolderSee } from "../services/services.visibility";
import { revokeIfLost, revokeLost, type RevocationScope } from "./revocation";

/** How long after a change that took rights away starts are checked: far longer than a request
 * lives between reading its caller and committing. */
const CHECK_STARTS_FOR_MS = 60_000;

export class LateStartSweeper {
  private checkStartsUntil = 0;
  /** Sweeps and checks in flight, for `settled`. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly ctx: DbContext,
    private readonly onError: (err: unknown) => void,
  ) {}

  notice(event: TDomainEvent): void {
    switch (event.type) {
      case "group.member_removed":
        return this.sweep({ userIds: [event.user.id] }, "member_removed");
      case "user.disabled":
        return this.sweep({ userIds: [event.userId] }, "user_disabled");
      case "user.updated":
        return this.sweep({ userIds: [event.user.id] }, event.changed.includes("role") ? "demoted" : "member_removed");
      case "user.login":
        // A provider's groups claim may have removed memberships.
        if (event.groups) this.sweep({ userIds: [event.user.id] }, "member_removed");
        return;
      case "group.deleted":
        return this.sweep("every holder", "group_deleted");
      case "service.updated":
        if (event.changed.length > 0) this.sweep({ serviceIds: [event.service.id] }, "service_groups_changed");
        return;
      case "session.started":
        if (Date.now() < this.checkStartsUntil) this.track(this.check(event.session.id));
        return;
      default:
        return;
    }
  }

  /** Resolves once every sweep and check begun so far has ended (tests). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private sweep(scope: RevocationScope | "every holder", cause: TRevocationCause): void {
    this.checkStartsUntil = Date.now() + CHECK_STARTS_FOR_MS;
    this.track(
      (async () => {
        // A read first: almost always nothing was missed, and then nothing is written.
        const lost = await this.lostSessions(scope === "every holder" ? "" : scopeSql(scope), scope === "every holder" ? [] : scopeParams(scope));
        if (lost.length === 0) return;
        const userIds = [...new Set(lost.map((s) => s.userId))];
        await runSqlChange(this.ctx, SYSTEM, (sql, record) => revokeLost(this.ctx, sql, record, { userIds }, cause, null));
      })(),
    );
  }

  private async check(sessionId: string): Promise<void> {
    const lost = await this.lostSessions(`s."id" = ?`, [sessionId]);
    if (lost.length > 0) await revokeIfLost(this.ctx, SYSTEM, sessionId, "active");
  }

  /** Open sessions matching `where` whose holder may no longer see the service, as committed. */
  private lostSessions(where: string, params: SqlValue[]): Promise<{ id: string; userId: string }[]> {
    return this.ctx.sql.read(async (sql) => {
      const rows = await sql.all<{ id: string; userId: string; maySee: number }>(
        `SELECT s."id", s."userId", ${holderMaySeeColumn("u", `s."serviceId"`)} AS "maySee"
         FROM "AccessSession" s JOIN "User" u ON u."id" = s."userId"
         WHERE s."status" IN ${OPEN_STATUS_LIST}${where ? ` AND ${where}` : ""}`,
        params,
      );
      return rows.filter((r) => !mayHolderSee(r.maySee));
    });
  }

  private track(work: Promise<unknown>): void {
    const done = work.catch(this.onError).finally(() => this.running.delete(done));
    this.running.add(done);
  }
}

const list = (ids: string[]) => ids.map(() => "?").join(", ");

function scopeSql(scope: RevocationScope): string {
  const either = [];
  if (scope.userIds?.length) either.push(`s."userId" IN (${list(scope.userIds)})`);
  if (scope.serviceIds?.length) either.push(`s."serviceId" IN (${list(scope.serviceIds)})`);
  return either.length > 0 ? `(${either.join(" OR ")})` : "1 = 0";
}

function scopeParams(scope: RevocationScope): SqlValue[] {
  return [...(scope.userIds ?? []), ...(scope.serviceIds ?? [])];
}
