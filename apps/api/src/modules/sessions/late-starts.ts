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
import type { SqlRunner } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { runSqlChange, SYSTEM } from "../../lib/run-change";
import { OPEN_STATUS_LIST } from "./sessions.sql";
import { findLost, revokeIfLost, revokeLost, type RevocationScope } from "./revocation";

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

  private sweep(scope: RevocationScope | "every holder", cause: TRevocationCause): void {
    this.checkStartsUntil = Date.now() + CHECK_STARTS_FOR_MS;
    this.track(
      (async () => {
        // A read first: almost always nothing was missed, and then nothing is written.
        const lost = await this.ctx.sql.read(async (sql) => findLost(sql, scope === "every holder" ? { userIds: await openHolders(sql) } : scope));
        if (lost.length === 0) return;
        const userIds = [...new Set(lost.map((s) => s.userId))];
        await runSqlChange(this.ctx, SYSTEM, (sql, record) => revokeLost(this.ctx, sql, record, { userIds }, cause, null));
      })(),
    );
  }

  private async check(session: { id: string; userId: string }): Promise<void> {
    const lost = await this.ctx.sql.read((sql) => findLost(sql, { userIds: [session.userId] }));
    if (lost.some((s) => s.id === session.id)) await revokeIfLost(this.ctx, SYSTEM, session.id, "active");
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
