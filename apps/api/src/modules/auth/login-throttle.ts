// One limit on password guessing for every route that checks a password (login, Basic → token
// on both routes, the current password of a password change): failures are counted per client
// address and per username in the LoginThrottle table, so every API instance on the same
// database shares them (see ARCHITECTURE.md for why a table and not Redis). After a few free
// failures each further one blocks the key for twice as long as the one before.
//
// An attempt is counted before its password is checked, in a transaction that holds the rows:
// checked first and counted after, a burst of guesses sent at once all passed the check before
// any of them was counted (60 at once from 60 addresses: 60 passwords tried against a limit of
// 6). The count is taken back when the attempt turns out to be no guess (the right password).
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { SqlRunner } from "@postern/db";
import { AppError } from "../../errors";
import { limitKeyOf } from "../../lib/client-key";
import type { DbContext } from "../../lib/db-context";
import { runSqlChange, type RecordEvent } from "../../lib/run-change";

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

/** The rows an attempt counts against. Usernames are hashed: the key holds any typed text safely.
 * An address counts by its client key (an IPv6 client by its /64). Rows written before that,
 * keyed by a full IPv6 address (or ::ffff:a.b.c.d), are no longer looked at: they held at most
 * a 15-minute count and block, and are pruned once idle (pruneIdleThrottles), so no migration
 * rewrites them. */
function keysOf(attempt: Attempt): { key: string; kind: KeyKind }[] {
  const keys: { key: string; kind: KeyKind }[] = [];
  if (attempt.ip) keys.push({ key: `ip:${limitKeyOf(attempt.ip)}`, kind: "ip" });
  if (attempt.username !== undefined) {
    const digest = createHash("sha256").update(attempt.username.toLowerCase(), "utf8").digest("hex");
    keys.push({ key: `user:${digest}`, kind: "username" });
  }
  // One order for every caller, so two transactions never hold each other's rows on PostgreSQL.
  return keys.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** How long the n-th failure past the free ones blocks: 2 s, 4 s, 8 s … at most 15 minutes. */
export function blockFor(over: number): number {
  return Math.min(LONGEST_BLOCK_MS, FIRST_BLOCK_MS * 2 ** Math.min(over - 1, 30));
}

interface Row {
  key: string;
  failures: number;
  windowStartedAt: Date;
  blockedUntil: Date | null;
  reportedUntil: Date | null;
  blockInFlight: boolean;
}

/** What one attempt added to a key's count, so that it can be taken back. */
interface Counted {
  key: string;
  windowStartedAt: Date;
  /** The block this attempt's count started, if it started one, while its check runs. */
  blockedUntil: Date | null;
  /** How long that block lasts once the check has failed. */
  blockMs: number;
}

const COLUMNS = `"key", "failures", "windowStartedAt", "blockedUntil", "reportedUntil", "blockInFlight"`;
/** How long an attempt held back by checks still running (a script's burst of logins) waits for
 * them before it is refused, and how often it looks again. */
const WAIT_FOR_CHECKS_MS = 5_000;
const WAIT_STEP_MS = 20;
/** A block set by an attempt still being checked lasts this much longer than its own length, so
 * that it cannot lapse before the check ends (on a busy server, a check waits for the CPU); the
 * failure then starts the block proper. Should the process die in between, it lapses anyway. */
const IN_FLIGHT_MS = 30_000;
const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");
const isBlocked = (row: Row, now: Date) => row.blockedUntil !== null && row.blockedUntil > now;

/**
 * An attempt counted as a failure while its password is checked. Whoever holds it says how the
 * check went: `succeeded` or `notAGuess` take the count back; `failed` leaves it counted and
 * turns a block it started from one the next attempts wait on into one that refuses them.
 */
export class HeldAttempt {
  constructor(
    private readonly ctx: DbContext,
    private readonly counted: Counted[],
    private readonly userKey: string | undefined,
  ) {}

  /** The right password: the username's count starts again (the address keeps the failures it
   * had: one good account must not let an address guess at the others). */
  succeeded(): Promise<void> {
    return this.takeBack(true);
  }

  /** A wrong password: a block this attempt started runs from now, as long as its count says,
   * and refuses the attempts that waited on it. Run inside the failure's own change, `sql`
   * being its transaction. */
  async failed(sql: SqlRunner): Promise<void> {
    for (const c of this.counted) {
      if (!c.blockedUntil) continue;
      const blockedUntil = new Date(this.ctx.now().getTime() + c.blockMs);
      // A refusal already audited while the block was in flight stays the block's one audit: the
      // block keeps its identity when its end moves ("reportedUntil" marks what was reported).
      await sql.run(
        `UPDATE "LoginThrottle" SET "blockInFlight" = FALSE, "blockedUntil" = ?,
           "reportedUntil" = CASE WHEN "reportedUntil" = "blockedUntil" THEN ? ELSE "reportedUntil" END
         WHERE "key" = ? AND "blockedUntil" = ?`,
        [blockedUntil, blockedUntil, c.key, c.blockedUntil],
      );
    }
  }

  /** Not a guess (a disabled user's right password): as if the attempt had not been made. */
  notAGuess(): Promise<void> {
    return this.takeBack(false);
  }

  private async takeBack(clearUser: boolean): Promise<void> {
    if (this.counted.length === 0) return;
    await this.ctx.sql.transaction(async (sql) => {
      // In the keys' order, as holdAttempt takes them: PostgreSQL would otherwise deadlock the two.
      for (const c of this.counted) {
        if (clearUser && c.key === this.userKey) {
          await sql.run(`DELETE FROM "LoginThrottle" WHERE "key" = ?`, [c.key]);
          continue;
        }
        // Only within the window the attempt counted in; a block it started ends with it.
        await sql.run(
          `UPDATE "LoginThrottle" SET "failures" = "failures" - 1,
             "blockedUntil" = CASE WHEN "blockedUntil" = ? THEN NULL ELSE "blockedUntil" END,
             "blockInFlight" = CASE WHEN "blockedUntil" = ? THEN FALSE ELSE "blockInFlight" END
           WHERE "key" = ? AND "windowStartedAt" = ? AND "failures" > 0`,
          [c.blockedUntil, c.blockedUntil, c.key, c.windowStartedAt],
        );
        // Addresses that only ever log in leave no rows behind.
        await sql.run(`DELETE FROM "LoginThrottle" WHERE "key" = ? AND "failures" = 0`, [c.key]);
      }
    });
  }
}

/** A row idle this long holds nothing: its window, any block and any check in flight are over. */
const IDLE_MS = THROTTLE_WINDOW_MS + LONGEST_BLOCK_MS + IN_FLIGHT_MS;
/** Attempts between two prunings, in each process: a scan of the table (no index on the time) is
 * nothing against that many argon2 checks. */
const PRUNE_EVERY = 500;
let attemptsSincePrune = 0;

/** Deletes the rows that hold nothing any more (an address that failed once, weeks ago), so that
 * guessing from ever-new addresses or at ever-new names does not grow the table without end. */
export async function pruneIdleThrottles(ctx: DbContext): Promise<number> {
  const idleSince = new Date(ctx.now().getTime() - IDLE_MS);
  return ctx.sql.transaction((sql) =>
    sql.run(`DELETE FROM "LoginThrottle" WHERE "updatedAt" < ? AND ("blockedUntil" IS NULL OR "blockedUntil" < ?)`, [idleSince, idleSince]),
  );
}

/**
 * Counts an attempt against its address and username before its password is checked, or refuses
 * it (429 with Retry-After) when either is blocked. The first refusal of each block is audited
 * (`user.login_throttled`); later ones during the same block are not, so a flood cannot grow the
 * audit trail.
 */
export async function holdAttempt(ctx: DbContext, attempt: Attempt): Promise<HeldAttempt> {
  if (++attemptsSincePrune >= PRUNE_EVERY) {
    attemptsSincePrune = 0;
    await pruneIdleThrottles(ctx);
  }
  const keys = keysOf(attempt);
  const userKey = keys.find((k) => k.kind === "username")?.key;
  if (keys.length === 0) return new HeldAttempt(ctx, [], undefined);
  const giveUpAt = performance.now() + WAIT_FOR_CHECKS_MS;
  for (;;) {
    const outcome = await tryToHold(ctx, attempt, keys, performance.now() < giveUpAt);
    if ("counted" in outcome) return new HeldAttempt(ctx, outcome.counted, userKey);
    if ("refusal" in outcome) throw outcome.refusal;
    await sleep(WAIT_STEP_MS);
  }
}

type HoldOutcome = { counted: Counted[] } | { refusal: AppError } | { wait: true };

async function tryToHold(ctx: DbContext, attempt: Attempt, keys: { key: string; kind: KeyKind }[], mayWait: boolean): Promise<HoldOutcome> {
  const now = ctx.now();
  const waitFor = (blocking: Row[]) => mayWait && blocking.every((row) => row.blockInFlight);
  // A first look without writing, so a flood against a block costs reads, not row locks.
  const blocked = await ctx.sql.read((sql) =>
    sql.all<Row>(`SELECT ${COLUMNS} FROM "LoginThrottle" WHERE "key" IN (${placeholders(keys.length)}) AND "blockedUntil" > ?`, [
      ...keys.map((k) => k.key),
      now,
    ]),
  );
  if (blocked.length > 0 && waitFor(blocked)) return { wait: true };
  return runSqlChange<HoldOutcome>(ctx, { actor: null, sourceIp: attempt.ip }, async (sql, record) => {
    const rows = blocked.length > 0 ? blocked : await lockRows(sql, keys, now);
    const blocking = rows.filter((row) => isBlocked(row, now));
    if (blocking.length > 0 && waitFor(blocking)) return { wait: true };
    if (blocking.length > 0) return { refusal: await refuse(sql, record, attempt, keys, blocking, now) };
    return { counted: await count(sql, keys, rows, now) };
  });
}

/** The attempt's rows, created if new and locked until the transaction ends (PostgreSQL: the
 * upsert's row lock; SQLite: its one writer). */
async function lockRows(sql: SqlRunner, keys: { key: string }[], now: Date): Promise<Row[]> {
  for (const { key } of keys) {
    await sql.run(
      `INSERT INTO "LoginThrottle" ("key", "failures", "windowStartedAt", "updatedAt") VALUES (?, 0, ?, ?)
       ON CONFLICT ("key") DO UPDATE SET "updatedAt" = excluded."updatedAt"`,
      [key, now, now],
    );
  }
  return sql.all<Row>(`SELECT ${COLUMNS} FROM "LoginThrottle" WHERE "key" IN (${placeholders(keys.length)})`, keys.map((k) => k.key));
}

async function count(sql: SqlRunner, keys: { key: string; kind: KeyKind }[], rows: Row[], now: Date): Promise<Counted[]> {
  const counted: Counted[] = [];
  for (const { key, kind } of keys) {
    const row = rows.find((r) => r.key === key)!;
    const fresh = now.getTime() - row.windowStartedAt.getTime() > THROTTLE_WINDOW_MS;
    const failures = fresh ? 1 : row.failures + 1;
    const windowStartedAt = fresh ? now : row.windowStartedAt;
    const over = failures - FREE_FAILURES[kind];
    const blockMs = over > 0 ? blockFor(over) : 0;
    const blockedUntil = over > 0 ? new Date(now.getTime() + blockMs + IN_FLIGHT_MS) : null;
    await sql.run(
      `UPDATE "LoginThrottle" SET "failures" = ?, "windowStartedAt" = ?, "blockedUntil" = ?, "reportedUntil" = ?, "blockInFlight" = ?, "updatedAt" = ?
       WHERE "key" = ?`,
      [failures, windowStartedAt, blockedUntil ?? (fresh ? null : row.blockedUntil), fresh ? null : row.reportedUntil, blockedUntil !== null, now, key],
    );
    counted.push({ key, windowStartedAt, blockedUntil, blockMs });
  }
  return counted;
}

async function refuse(
  sql: SqlRunner,
  record: RecordEvent,
  attempt: Attempt,
  keys: { key: string; kind: KeyKind }[],
  rows: Row[],
  now: Date,
): Promise<AppError> {
  // A block still waiting on a check (an attempt that gave up waiting for it) has no end yet; it
  // gets the length it will have if that check fails now, as a guess's check usually does.
  const kindOf = (row: Row) => keys.find((k) => k.key === row.key)!.kind;
  const endOf = (row: Row) =>
    row.blockInFlight ? now.getTime() + blockFor(row.failures - FREE_FAILURES[kindOf(row)]) : row.blockedUntil!.getTime();
  const until = Math.max(...rows.map(endOf));
  const retryAfterSeconds = Math.max(1, Math.ceil((until - now.getTime()) / 1000));
  const blockedBy = keys.filter((k) => rows.some((r) => r.key === k.key)).map((k) => k.kind);
  let first = false;
  for (const row of rows) {
    const claimed = await sql.run(
      `UPDATE "LoginThrottle" SET "reportedUntil" = "blockedUntil"
       WHERE "key" = ? AND "blockedUntil" > ? AND ("reportedUntil" IS NULL OR "reportedUntil" <> "blockedUntil")`,
      [row.key, now],
    );
    if (claimed > 0) first = true;
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
  const which = blockedBy.includes("username") ? "for this account" : "from your address";
  return new AppError(
    "rate_limited",
    `too many failed password attempts ${which}; try again in ${retryAfterSeconds} seconds`,
    { retryAfterSeconds, blockedBy },
    { "retry-after": String(retryAfterSeconds) },
  );
}
