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
import { expectIndexedReads, fillForPlans, postgresForPlans, postgresPlan, sqliteForPlans, sqlitePlan, statementOf, statementsOf, type Statement } from "../../../test/plans";
import { relaySettingsOf } from "./relay.settings";
import { findMessages, relayStatus } from "./relay.service";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const MESSAGES = 20_000;

/** Messages a minute apart, all sent but every thousandth, which failed, and the last five, still
 * queued (`fillForPlans`). */
const RELAYED = `
  INSERT INTO "Message" ("id", "message", "status", "attempts", "createdAt", "nextAttemptAt", "sentAt")
  SELECT 'm' || n, 'alert ' || n,
    CASE WHEN n > ${MESSAGES - 5} THEN 'queued' WHEN n % 1000 = 0 THEN 'failed' ELSE 'sent' END, 1,
    $AT(0), $AT(0), CASE WHEN n > ${MESSAGES - 5} OR n % 1000 = 0 THEN NULL ELSE $AT(1) END
  FROM numbers`;


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

/** The middle message's cursor, as a page hands it out (relay.service.ts): its time, `$AT(0)`. */
const MIDDLE = Buffer.from(`${new Date(Date.UTC(2026, 0, 1) + (MESSAGES / 2) * 60_000).toISOString()}|m${MESSAGES / 2}`).toString("base64url");

describe("relay plans on PostgreSQL", () => {
  let client: pg.Client;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ client, close } = await postgresForPlans());
    await fillForPlans({ client }, "Message", MESSAGES, RELAYED);
  });
  afterAll(async () => close?.());

  it.each(["force_custom_plan", "force_generic_plan"])("reads a page's worth of messages, through an index (%s)", async (mode) => {
    await client.query(`SET plan_cache_mode = ${mode}`);
    for (const { label, statement } of await statements("postgres", MIDDLE)) {
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
    await fillForPlans({ db }, "Message", MESSAGES, RELAYED);
  });
  afterAll(async () => close?.());

  it("reads in index order and stops at the page, without statistics", async () => {
    for (const { label, statement } of await statements("sqlite", MIDDLE)) {
      const plan = sqlitePlan(db, statement);
      const seen = `${label}\n${plan}`;
      expect(plan, seen).toMatch(/(SEARCH|SCAN) Message USING (COVERING )?INDEX/);
      expect(plan, seen).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
    }
  });
});
