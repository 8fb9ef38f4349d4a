// One limit on password guessing for every route that checks a password (login, Basic → token
// on both routes, the current password of a password change): failures are counted per client
// address and per username in the LoginThrottle table, so every API instance on the same
// database shares them (see ARCHITECTURE.md for why a table and not Redis). After a few free
// failures each further one blocks the key for twice as long as the one before.
import { createHash } from "node:crypto";
import type { Tx } from "@postern/db";
import { AppError } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runChange } from "../../lib/run-change";

/** Failures further apart than this start counting again from zero. */
export const THROTTLE_WINDOW_MS = 15 * 60_000;
/** Failures allowed before the first block: an address may serve several people (NAT, an office). */
export const FREE_FAILURES = { ip: 10, username: 5 } as const;
const FIRST_BLOCK_MS = 2_000;
const LONGEST_BLOCK_MS = 15 * 60_000;

export interface Attempt {
  ip?: string;
  username?: string;
  /** The route asked, for the audit trail. */
  route?: string;
}

type KeyKind = keyof typeof FREE_FAILURES;

/** The rows an attempt counts against. Usernames are hashed: the key holds any typed text safely. */
function keysOf(attempt: Attempt): { key: string; kind: KeyKind }[] {
  const keys: { key: string; kind: KeyKind }[] = [];
  if (attempt.ip) keys.push({ key: `ip:${attempt.ip}`, kind: "ip" });
  if (attempt.username !== undefined) {
    const digest = createHash("sha256").update(attempt.username.toLowerCase(), "utf8").digest("hex");
    keys.push({ key: `user:${digest}`, kind: "username" });
  }
  return keys;
}

/** How long the n-th failure past the free ones blocks: 2 s, 4 s, 8 s … at most 15 minutes. */
export function blockFor(over: number): number {
  return Math.min(LONGEST_BLOCK_MS, FIRST_BLOCK_MS * 2 ** Math.min(over - 1, 30));
}

/**
 * Refuses (429 with Retry-After) an attempt whose address or username is blocked, before any
 * password is checked. The first refusal of each block is audited (`user.login_throttled`);
 * later ones during the same block are not, so a flood cannot grow the audit trail.
 */
export async function assertNotThrottled(ctx: DbContext, attempt: Attempt): Promise<void> {
  const keys = keysOf(attempt);
  if (keys.length === 0) return;
  const now = ctx.now();
  const rows = await ctx.db.loginThrottle.findMany({ where: { key: { in: keys.map((k) => k.key) }, blockedUntil: { gt: now } } });
  if (rows.length === 0) return;
  const until = new Date(Math.max(...rows.map((r) => r.blockedUntil?.getTime() ?? 0)));
  const retryAfterSeconds = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
  const blockedBy = keys.filter((k) => rows.some((r) => r.key === k.key)).map((k) => k.kind);
  await runChange(ctx, { actor: null, sourceIp: attempt.ip }, async (tx, record) => {
    let first = false;
    for (const row of rows) {
      const claimed = await tx.loginThrottle.updateMany({
        where: { key: row.key, blockedUntil: row.blockedUntil, reportedUntil: row.reportedUntil },
        data: { reportedUntil: row.blockedUntil },
      });
      if (claimed.count > 0 && row.reportedUntil?.getTime() !== row.blockedUntil?.getTime()) first = true;
    }
    if (first) {
      record({
        type: "user.login_throttled",
        username: attempt.username?.slice(0, 200),
        ip: attempt.ip,
        retryAfterSeconds,
        blockedBy,
        route: attempt.route,
      });
    }
  });
  const which = blockedBy.includes("username") ? "for this account" : "from your address";
  throw new AppError(
    "rate_limited",
    `too many failed password attempts ${which}; try again in ${retryAfterSeconds} seconds`,
    { retryAfterSeconds, blockedBy },
    { "retry-after": String(retryAfterSeconds) },
  );
}

/** Counts a failed attempt against its address and username, inside the failure's own change. */
export async function noteFailure(ctx: DbContext, tx: Tx, attempt: Attempt): Promise<void> {
  const now = ctx.now();
  const sql = ctx.sql.within(tx);
  for (const { key, kind } of keysOf(attempt)) {
    // One statement, so concurrent failures on several instances each count.
    await sql.run(
      `INSERT INTO "LoginThrottle" ("key", "failures", "windowStartedAt", "updatedAt") VALUES (?, 1, ?, ?)
       ON CONFLICT ("key") DO UPDATE SET "failures" = "LoginThrottle"."failures" + 1, "updatedAt" = excluded."updatedAt"`,
      [key, now, now],
    );
    const row = await tx.loginThrottle.findUniqueOrThrow({ where: { key } });
    const stillBlocked = row.blockedUntil !== null && row.blockedUntil > now;
    if (!stillBlocked && now.getTime() - row.windowStartedAt.getTime() > THROTTLE_WINDOW_MS) {
      await tx.loginThrottle.update({ where: { key }, data: { failures: 1, windowStartedAt: now, blockedUntil: null, reportedUntil: null } });
      continue;
    }
    const over = row.failures - FREE_FAILURES[kind];
    if (over > 0) await tx.loginThrottle.update({ where: { key }, data: { blockedUntil: new Date(now.getTime() + blockFor(over)) } });
  }
}

/** A right password clears the username's count (the address keeps its own: one good account
 * must not let an address guess at the others). */
export async function noteSuccess(ctx: DbContext, attempt: Attempt): Promise<void> {
  const user = keysOf({ username: attempt.username })[0];
  if (user) await ctx.db.loginThrottle.deleteMany({ where: { key: user.key } });
}
