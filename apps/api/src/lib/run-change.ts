// The one way state changes: `runChange` runs a service function in one transaction and gives it
// `record(event)`. At the end of the transaction, under the chain lock, each recorded event is
// appended to the audit chain and to the live log (with the audience that may see it), so the
// change, its audit row and its live row commit together or not at all. After the commit the
// records go to `ctx.changes`, the dispatcher that feeds the scheduler, the gateway, the relay,
// the live stream and the caches (plugins/changes.ts). A process that did not make the change
// (another instance, the CLI beside the server) learns of it from the live log instead.
import type { TDomainEvent } from "@postern/contracts";
import type { SqlRunner, Tx } from "@postern/db";
import { auditFieldsOf } from "../modules/audit/audit.entry";
import { actorUserId, type Actor } from "../modules/audit/audit.service";
import { audienceOf, serviceGroups, servicesOf, type AudienceHint } from "../modules/live/live.audience";
import { appendLog, type LogRecord } from "../modules/live/live.log";
import { inTransaction, type DbContext } from "./db-context";
import { retryOnConflict } from "./transaction-conflict";

/** Who asked for a change and from where; null actor for Postern itself (the clock, the relay). */
export interface Origin {
  actor: Actor | null;
  sourceIp?: string;
  /** Told the seq of the change's last record once it has committed: the request that asked
   * answers with it, so that its caller can ask any instance for a board at least that new. */
  reached?: (seq: number) => void;
}

export const SYSTEM: Origin = { actor: null };

export interface RecordOptions {
  /** Overrides the change's origin for this event (a login names the user who logged in). */
  actor?: Actor | null;
  sourceIp?: string;
  /** The system's event inside someone's change (the clock's expiry, met first by a start): no
   * actor and no source address, whoever made the change. */
  system?: boolean;
  /** Audit-only facts the event does not carry (a previous status, a cause). */
  details?: Record<string, unknown>;
  audience?: AudienceHint;
}

export type RecordEvent = (event: TDomainEvent, options?: RecordOptions) => void;

/** Receives the records of every committed change of this process, in commit order. */
export interface ChangeSink {
  committed(records: LogRecord[]): void;
}

/** For processes with nobody to tell in-process (the CLI): the server reads the log. */
export const NO_LISTENERS: ChangeSink = { committed: () => {} };

interface Pending {
  event: TDomainEvent;
  options: RecordOptions;
}

async function flush(ctx: DbContext, sql: SqlRunner, origin: Origin, pending: Pending[]): Promise<LogRecord[]> {
  if (pending.length === 0) return [];
  const lookup = pending.filter((p) => !p.options.audience?.groupIds).flatMap((p) => servicesOf(p.event));
  const groups = await serviceGroups(sql, [...new Set(lookup)]);
  const actorOf = (options: RecordOptions) => (options.system ? SYSTEM.actor : options.actor !== undefined ? options.actor : origin.actor);
  const entries = pending.map(({ event, options }) => {
    // The user behind the event travels with it to whoever reacts (late-starts.ts names them).
    const actor = actorOf(options);
    const userId = actorUserId(actor);
    return { event, audience: audienceOf(event, groups, options.audience), ...(userId && actor ? { actor: { id: userId, username: actor.username } } : {}) };
  });
  const audit = pending.map(({ event, options }) => {
    const fields = auditFieldsOf(event);
    const details = options.details ? { ...fields.details, ...options.details } : fields.details;
    return {
      ...fields,
      details,
      action: event.type,
      actor: actorOf(options),
      sourceIp: options.system ? SYSTEM.sourceIp : (options.sourceIp ?? origin.sourceIp),
    };
  });
  // From here to the commit the chain lock is held: every other change waits for it.
  return appendLog(ctx, sql, entries, audit);
}

/**
 * One change: `fn` in the transaction `open` gives it, its records appended at the end and told
 * to `ctx.changes` after the commit. Should PostgreSQL fail the transaction to break a deadlock
 * (transaction-conflict.ts), `fn` runs again in a new one: it must do nothing outside it.
 */
async function change<H, T>(
  ctx: DbContext,
  origin: Origin,
  open: (run: (handle: H, sql: SqlRunner) => Promise<T>) => Promise<T>,
  fn: (handle: H, record: RecordEvent) => Promise<T>,
): Promise<T> {
  let records: LogRecord[] = [];
  const result = await retryOnConflict(() => {
    records = [];
    return open(async (handle, sql) => {
      const pending: Pending[] = [];
      const out = await fn(handle, (event, options = {}) => pending.push({ event, options }));
      records = await flush(ctx, sql, origin, pending);
      return out;
    });
  });
  if (records.length > 0) {
    ctx.changes.committed(records);
    origin.reached?.(records[records.length - 1]!.seq);
  }
  return result;
}

/**
 * Runs `fn` in one Prisma transaction; whatever it `record`s is written with the change. A change
 * that records nothing (a refused request that throws) writes nothing at all.
 */
export function runChange<T>(ctx: DbContext, origin: Origin, fn: (tx: Tx, record: RecordEvent) => Promise<T>): Promise<T> {
  return change<Tx, T>(ctx, origin, (run) => inTransaction(ctx, (tx) => run(tx, ctx.sql.within(tx))), fn);
}

/**
 * The same for the hot paths (start, extend, end), in plain SQL on a transaction of its own
 * (`@postern/db`'s sql.ts): a few statements of tens of microseconds instead of Prisma's
 * millisecond each.
 */
export function runSqlChange<T>(ctx: DbContext, origin: Origin, fn: (sql: SqlRunner, record: RecordEvent) => Promise<T>): Promise<T> {
  return change<SqlRunner, T>(ctx, origin, (run) => ctx.sql.transaction((sql) => run(sql, sql)), fn);
}
