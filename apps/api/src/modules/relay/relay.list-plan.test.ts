// The plans the databases make for the messages page (`GET /api/messages`, newest first, whole or
// by status, page after page) and for the relay page's last sent message, on a relay that has
// passed on many alerts: a monitor relays one every few minutes, for as long as it runs. Read in
// the order of a (…, createdAt, id) index, a page stops at its limit; without one, every message
// the filter let through was read and sorted, and the page after a cursor was found by walking
// every newer message.
//
// Each statement is taken from the function that sends it and planned by the database:
// PostgreSQL both with the call's values and generically (its statements stay prepared), SQLite
// without statistics, as it runs.
import type Database from "better-sqlite3";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TListMessagesQuery } from "@postern/contracts";
import type { Provider } from "@postern/db";
import { expectIndexedReads, postgresForPlans, postgresPlan, sqliteForPlans, sqlitePlan, statementOf, statementsOf, type Statement } from "../../../test/plans";
import { relaySettingsOf } from "./relay.settings";
import { findMessages, relayStatus } from "./relay.service";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const MESSAGES = 20_000;

/** Messages a minute apart, all sent but every thousandth, which failed, and the last five, still
 * queued. `$N` is the numbers 1…MESSAGES, `$AT(offset)` a message's time plus seconds. */
const RELAYED = `
  INSERT INTO "Message" ("id", "message", "status", "attempts", "createdAt", "nextAttemptAt", "sentAt")
  SELECT 'm' || LPAD_N, 'alert ' || n,
    CASE WHEN n > ${MESSAGES - 5} THEN 'queued' WHEN n % 1000 = 0 THEN 'failed' ELSE 'sent' END, 1,
    $AT(0), $AT(0), CASE WHEN n > ${MESSAGES - 5} OR n % 1000 = 0 THEN NULL ELSE $AT(1) END
  FROM $N`;

/** The middle message's cursor, as a page hands it out (relay.service.ts). */
const middle = (at: (n: number) => string) => Buffer.from(`${at(MESSAGES / 2)}|m${String(MESSAGES / 2).padStart(6, "0")}`).toString("base64url");

function queries(cursor: string): TListMessagesQuery[] {
  const filters: TListMessagesQuery[] = [{}, { status: "sent" }, { status: "failed" }, { status: "queued" }];
  return filters.flatMap((filter) => [filter, { ...filter, cursor }]);
}

/** The page statements, and the relay page's two that look for the newest of a kind. */
async function statements(provider: Provider, cursor: string): Promise<{ label: string; statement: Statement }[]> {
  const out: { label: string; statement: Statement }[] = [];
  for (const query of queries(cursor)) out.push({ label: JSON.stringify(query), statement: await statementOf(provider, (ctx) => findMessages(ctx, query)) });
  const status = await statementsOf(provider, (ctx) => relayStatus(ctx, relaySettingsOf({ smtpUrl: undefined, mailFrom: undefined, relayTo: undefined })));
  // The first counts every message by status, by nature a read of them all.
  for (const statement of status.slice(1)) out.push({ label: statement.sql, statement });
  return out;
}

const minutes = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString();

describe("relay plans on PostgreSQL", () => {
  let client: pg.Client;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ client, close } = await postgresForPlans());
    const at = (offset: string) => `TIMESTAMP '2026-01-01' + n * INTERVAL '1 minute' + ${offset} * INTERVAL '1 second'`;
    await client.query(
      RELAYED.replace("LPAD_N", "LPAD(n::text, 6, '0')")
        .replace(/\$AT\((\d)\)/g, (_, offset: string) => at(offset))
        .replace("$N", `generate_series(1, ${MESSAGES}) n`),
    );
    // What autovacuum has done by the time a table holds this many rows.
    await client.query(`ANALYZE "Message"`);
  });
  afterAll(async () => close?.());

  it.each(["force_custom_plan", "force_generic_plan"])("reads a page's worth of messages, through an index (%s)", async (mode) => {
    await client.query(`SET plan_cache_mode = ${mode}`);
    for (const { label, statement } of await statements("postgres", middle(minutes))) {
      const plan = await postgresPlan(client, statement);
      const seen = `${label}\n${JSON.stringify(plan, null, 1)}`;
      expectIndexedReads(plan, "Message", MESSAGES / 4, seen);
    }
  });
});

describe("relay plans on SQLite", () => {
  let db: Database.Database;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ db, close } = await sqliteForPlans());
    const numbers = `WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < ${MESSAGES})`;
    // Stored as Prisma's SQLite adapter stores a time: ISO 8601 with an explicit offset.
    const at = (offset: string) => `strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', '+' || n || ' minutes', '+${offset} seconds')`;
    db.exec(
      `${numbers} ${RELAYED.replace("LPAD_N", "substr('000000' || n, -6)")
        .replace(/\$AT\((\d)\)/g, (_, offset: string) => at(offset))
        .replace("$N", "numbers")}`,
    );
  });
  afterAll(async () => close?.());

  it("reads in index order and stops at the page, without statistics", async () => {
    for (const { label, statement } of await statements("sqlite", middle(minutes))) {
      const plan = sqlitePlan(db, statement);
      const seen = `${label}\n${plan}`;
      expect(plan, seen).toMatch(/(SEARCH|SCAN) Message USING (COVERING )?INDEX/);
      expect(plan, seen).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
    }
  });
});
