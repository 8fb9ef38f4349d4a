// What a database plans for a statement the API sends, for the tests that pin those plans on a
// table with a long history: the statement taken from the function that sends it, without
// running it, then planned by a real database.
import Database from "better-sqlite3";
import pg from "pg";
import { expect } from "vitest";
import type { Provider, SqlRunner, SqlValue, StatementOptions } from "@postern/db";
import type { DbContext } from "../src/lib/db-context";
import { createTestDatabase } from "./databases";

/** A fresh, migrated PostgreSQL database and a client of its own on it. */
export async function postgresForPlans(): Promise<{ client: pg.Client; close: () => Promise<void> }> {
  const database = await createTestDatabase("postgres");
  const client = new pg.Client({ connectionString: database.url });
  await client.connect().catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  return { client, close: async () => (await client.end(), await database.drop()) };
}

/** A fresh, migrated SQLite database, opened directly. */
export async function sqliteForPlans(): Promise<{ db: Database.Database; close: () => Promise<void> }> {
  const database = await createTestDatabase("sqlite");
  const db = new Database(database.url.replace(/^file:/, ""));
  return { db, close: async () => (db.close(), await database.drop()) };
}

/**
 * Fills a table of a plan test's database. `insert` is an `INSERT … SELECT … FROM numbers`, whose
 * rows number `n` from 1 to `count`; in it `$AT(k)` stands for 2026-01-01 plus `n` minutes and `k`
 * seconds, written as each database stores a time (SQLite: ISO 8601 with an explicit offset, as
 * Prisma's adapter stores it). On PostgreSQL the table's statistics are then refreshed, as
 * autovacuum would have by the time it holds this many rows; SQLite plans without any, as it runs.
 */
export async function fillForPlans(
  database: { client: pg.Client } | { db: Database.Database },
  table: string,
  count: number,
  insert: string,
): Promise<void> {
  if ("client" in database) {
    const at = (k: string) => `TIMESTAMP '2026-01-01' + n * INTERVAL '1 minute' + ${k} * INTERVAL '1 second'`;
    await database.client.query(`WITH numbers(n) AS (SELECT generate_series(1, ${count})) ${insert.replace(/\$AT\((\d+)\)/g, (_, k: string) => at(k))}`);
    await database.client.query(`ANALYZE "${table}"`);
    return;
  }
  const at = (k: string) => `strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', '+' || n || ' minutes', '+${k} seconds')`;
  const numbers = `WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < ${count})`;
  database.db.exec(`${numbers} ${insert.replace(/\$AT\((\d+)\)/g, (_, k: string) => at(k))}`);
}

export interface Statement {
  sql: string;
  params: SqlValue[];
  options?: StatementOptions;
}

/** The statements `read` sends through `ctx.sql.read`, recorded instead of run (they answer no
 * rows). */
export async function statementsOf(provider: Provider, read: (ctx: DbContext) => Promise<unknown>): Promise<Statement[]> {
  const sent: Statement[] = [];
  const record = (sql: string, params: SqlValue[] = [], options?: StatementOptions) => void sent.push({ sql, params, options });
  const recorder = {
    all: async (sql: string, params?: SqlValue[], options?: StatementOptions) => (record(sql, params, options), []),
    get: async (sql: string, params?: SqlValue[]) => (record(sql, params), undefined),
  } as unknown as SqlRunner;
  const ctx = { provider, now: () => new Date(), sql: { read: (fn: (sql: SqlRunner) => Promise<unknown>) => fn(recorder) } } as unknown as DbContext;
  await read(ctx);
  return sent;
}

/** The one statement `read` sends, as `statementsOf` records it. */
export async function statementOf(provider: Provider, read: (ctx: DbContext) => Promise<unknown>): Promise<Statement> {
  const sent = await statementsOf(provider, read);
  if (sent.length !== 1) throw new Error(`the read sent ${sent.length} statements, not one`);
  return sent[0]!;
}

/** A node of PostgreSQL's EXPLAIN (ANALYZE, FORMAT JSON), the fields read here. */
export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  Plans?: PlanNode[];
}

export const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

/** The rows the scans fetched from their tables: those they kept and those their filters dropped. */
const rowsRead = (scans: PlanNode[]) =>
  scans.reduce(
    (sum, s) => sum + (s["Actual Rows"] + (s["Rows Removed by Filter"] ?? 0) + (s["Rows Removed by Index Recheck"] ?? 0)) * s["Actual Loops"],
    0,
  );

/** A value as the runners send it (prisma/src/sql.ts), written as a literal. */
function postgresLiteral(value: SqlValue): string {
  // timestamp(3) without time zone holds UTC.
  if (value instanceof Date) return `'${value.toISOString().replace("Z", "")}'`;
  if (typeof value === "string") return `'${value.replace(/'/g, "''")}'`;
  return String(value);
}

const sqliteValue = (value: SqlValue) =>
  value instanceof Date ? value.toISOString().replace("Z", "+00:00") : typeof value === "boolean" ? Number(value) : value;

/**
 * Runs `statement` as the API's PostgreSQL runner does, a prepared statement (prisma/src/sql.ts),
 * under EXPLAIN ANALYZE, and answers the plan. `client` chooses the plan cache's mode
 * (`SET plan_cache_mode`): with the call's values or generic. A statement the runner plans per
 * call is planned with its values whatever the mode, as the runner does.
 */
export async function postgresPlan(client: pg.Client, statement: Statement): Promise<PlanNode> {
  let n = 0;
  await client.query(`PREPARE planned AS ${statement.sql.replace(/\?/g, () => `$${++n}`)}`);
  const mode = (await client.query<{ plan_cache_mode: string }>(`SHOW plan_cache_mode`)).rows[0]!.plan_cache_mode;
  if (statement.options?.planPerCall) await client.query(`SET plan_cache_mode = force_custom_plan`);
  try {
    const values = statement.params.length ? `(${statement.params.map(postgresLiteral).join(", ")})` : "";
    const { rows } = await client.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE planned${values}`);
    return rows[0]!["QUERY PLAN"][0].Plan;
  } finally {
    await client.query(`DEALLOCATE planned; SET plan_cache_mode = ${mode}`);
  }
}

/** SQLite's EXPLAIN QUERY PLAN of `statement`, one step a line. */
export function sqlitePlan(db: Database.Database, statement: Statement): string {
  const steps = db.prepare(`EXPLAIN QUERY PLAN ${statement.sql}`).all(...statement.params.map(sqliteValue)) as { detail: string }[];
  return steps.map((step) => step.detail).join("\n");
}

/** Checks that `plan` scans `table`, never whole in storage order, and that its scans together
 * fetched fewer than `most` rows. */
export function expectIndexedReads(plan: PlanNode, table: string, most: number, seen: string): void {
  const scans = nodesOf(plan).filter((node) => node["Relation Name"] === table);
  expect(scans.length, seen).toBeGreaterThan(0);
  for (const scan of scans) expect(scan["Node Type"], seen).not.toBe("Seq Scan");
  expect(rowsRead(scans), seen).toBeLessThan(most);
}
