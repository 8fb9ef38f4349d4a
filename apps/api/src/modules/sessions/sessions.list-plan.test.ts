// The plans the databases make for a session history (`GET /api/sessions` without active=true, or
// with a filter the board does not answer), on a table holding a long history. Such a list asks
// for the newest few hundred sessions; read in the order of a (…, requestedAt) index it stops at
// the limit, where without one it read and sorted every session the filter let through: 35–80 ms
// a list with 100,000 sessions (`pnpm bench:history`), and 0.5–0.65 s for ended sessions on
// PostgreSQL once the prepared statement's generic plan took "not one of five unknown statuses"
// to match almost nothing.
//
// Each filter's statement is taken from `listSessions` itself and planned by the database:
// PostgreSQL both with the call's values and generically (its statements stay prepared), SQLite
// without statistics, as it runs (Postern never runs ANALYZE there).
import type Database from "better-sqlite3";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Provider } from "@postern/db";
import { expectIndexedReads, nodesOf, postgresForPlans, postgresPlan, sqliteForPlans, sqlitePlan, statementOf } from "../../../test/plans";
import { revokeLost, type RevocationScope } from "./revocation";
import { exclusiveConflict, ownOpenSessions } from "./sessions.schedule";
import { headOfLine, heldOrOffered } from "./waitlist.sql";
import { listSessions, type SessionListFilter } from "./sessions.sql";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

/** 20 users, 20 services in 2 groups, 1,000 ended sessions a user a minute apart, one open each;
 * `n20` and `n1000` count, `$REQUESTED` stands for the ended session's time in each dialect. */
const HISTORY = [
  `INSERT INTO "User" ("id", "username", "updatedAt") SELECT 'u' || g, 'user' || g, CURRENT_TIMESTAMP FROM n20 g`,
  `INSERT INTO "Group" ("id", "name") SELECT 'g' || g, 'group ' || g FROM n20 g WHERE g <= 2`,
  `INSERT INTO "Service" ("id", "name", "slug", "defaultDurationSeconds", "maxDurationSeconds", "updatedAt")
     SELECT 's' || g, 'service ' || g, 'service-' || g, 600, 7200, CURRENT_TIMESTAMP FROM n20 g`,
  `INSERT INTO "ServiceGroup" ("serviceId", "groupId") SELECT 's' || g, 'g' || (1 + g % 2) FROM n20 g`,
  `INSERT INTO "AccessSession" ("id", "serviceId", "userId", "status", "durationSeconds", "requestedAt")
     SELECT 'old' || u.g || '_' || k.g, 's' || (1 + k.g % 20), 'u' || u.g, 'ended', 600, $REQUESTED
     FROM n20 u, n1000 k`,
  `INSERT INTO "AccessSession" ("id", "serviceId", "userId", "status", "durationSeconds", "requestedAt")
     SELECT 'open' || g, 's' || g, 'u' || g, 'active', 600, CURRENT_TIMESTAMP FROM n20 g`,
];

/** Every kind of filter a list can carry: who may see (all, one group, two), which statuses, whose. */
function filters(): SessionListFilter[] {
  const out: SessionListFilter[] = [];
  for (const groupIds of [null, ["g1"], ["g1", "g2"]])
    for (const open of [undefined, true, false])
      for (const by of [{}, { userId: "u3" }, { serviceId: "s4" }, { userId: "u3", serviceId: "s3" }]) out.push({ groupIds, open, ...by });
  return out;
}

const listOf = (provider: Provider, filter: SessionListFilter) => statementOf(provider, (ctx) => listSessions(ctx, filter, 200));

const described = (filter: SessionListFilter) => JSON.stringify(filter);

/** Who lost access, as a revocation is told: one member, several, a service, both. */
const SCOPES: RevocationScope[] = [{ userIds: ["u3"] }, { userIds: ["u3", "u4", "u5"] }, { serviceIds: ["s4"] }, { userIds: ["u3"], serviceIds: ["s4"] }];

/** The reads a start or a booking makes under the service's lock: who stands in the way on an
 * exclusive service, with the line and without, and the caller's own open sessions there; and the
 * waitlist's: whether the service is taken, and who is first in line. */
async function occupantReads(provider: Provider) {
  const span: [Date, Date] = [new Date(Date.now() - 1000), new Date(Date.now() + 600_000)];
  const exclusive = (queueBlocks: boolean) =>
    statementOf(provider, (ctx) => ctx.sql.read((sql) => exclusiveConflict(ctx, sql, "s4", span, { queueBlocks, closeDue: async (found) => found })));
  return [
    { label: "exclusive, the line blocking", statement: await exclusive(true) },
    { label: "exclusive", statement: await exclusive(false) },
    { label: "own open sessions", statement: await statementOf(provider, (ctx) => ctx.sql.read((sql) => ownOpenSessions(sql, "u3", "s4"))) },
    { label: "held or offered", statement: await statementOf(provider, (ctx) => ctx.sql.read((sql) => heldOrOffered(sql, "s4"))) },
    { label: "the head of the line", statement: await statementOf(provider, (ctx) => ctx.sql.read((sql) => headOfLine(ctx, sql, "s4"))) },
  ];
}

/** The statement a revocation looks for the open sessions in its scope with. */
const searchOf = (provider: Provider, scope: RevocationScope) =>
  statementOf(provider, (ctx) => ctx.sql.read((sql) => revokeLost(ctx, sql, () => {}, scope, "member_removed", null)));

const SESSIONS = 20_020;

describe("session history plans on PostgreSQL", () => {
  let client: pg.Client;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ client, close } = await postgresForPlans());
    const numbers = `WITH n20(g) AS (SELECT generate_series(1, 20)), n1000(g) AS (SELECT generate_series(1, 1000))`;
    const requested = `TIMESTAMP '2026-01-01' + (u.g * 1000 + k.g) * INTERVAL '1 minute'`;
    for (const statement of HISTORY) await client.query(`${numbers} ${statement.replace("$REQUESTED", requested)}`);
    // What autovacuum has done by the time a table holds this many rows.
    await client.query(`ANALYZE`);
  });
  afterAll(async () => close?.());

  it.each(["force_custom_plan", "force_generic_plan"])("reads a fraction of the history, through an index (%s)", async (mode) => {
    await client.query(`SET plan_cache_mode = ${mode}`);
    for (const filter of filters()) {
      const plan = await postgresPlan(client, await listOf("postgres", filter));
      const seen = `${described(filter)}\n${JSON.stringify(plan, null, 1)}`;
      // The plans this replaced read and sorted all 20,020 sessions for most filters.
      expectIndexedReads(plan, "AccessSession", SESSIONS / 4, seen);
      // Open sessions are few: found through an index on the status, or the index of open sessions
      // alone (migration 20261205030000_open_sessions_index), then sorted.
      const openIndex = /^AccessSession_(\w*status|open_)/;
      if (filter.open === true) expect(nodesOf(plan).some((node) => openIndex.test(node["Index Name"] ?? "")), seen).toBe(true);
    }
  });

  it.each(["force_custom_plan", "force_generic_plan"])("finds who stands in the way of a start through a status index (%s)", async (mode) => {
    await client.query(`SET plan_cache_mode = ${mode}`);
    for (const { label, statement } of await occupantReads("postgres")) {
      const plan = await postgresPlan(client, statement);
      const seen = `${label}\n${JSON.stringify(plan, null, 1)}`;
      expectIndexedReads(plan, "AccessSession", 100, seen);
    }
  });

  it.each(["force_custom_plan", "force_generic_plan"])("finds the open sessions a revocation ends through an index (%s)", async (mode) => {
    await client.query(`SET plan_cache_mode = ${mode}`);
    for (const scope of SCOPES) {
      const plan = await postgresPlan(client, await searchOf("postgres", scope));
      // The open sessions are 20 of 20,020; the statuses were parameters until 2026-12-04.
      expectIndexedReads(plan, "AccessSession", 1_000, `${JSON.stringify(scope)}\n${JSON.stringify(plan, null, 1)}`);
    }
  });
});

describe("session history plans on SQLite", () => {
  let db: Database.Database;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ db, close } = await sqliteForPlans());
    const numbers = `WITH RECURSIVE n1000(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n1000 WHERE g < 1000), n20(g) AS (SELECT g FROM n1000 WHERE g <= 20)`;
    // Stored as Prisma's SQLite adapter stores a time: ISO 8601 with an explicit offset.
    const requested = `strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', '+' || (u.g * 1000 + k.g) || ' minutes')`;
    for (const statement of HISTORY) db.exec(`${numbers} ${statement.replace("$REQUESTED", requested)}`);
    expect(db.prepare(`SELECT count(*) AS n FROM "AccessSession"`).get()).toEqual({ n: SESSIONS });
  });
  afterAll(async () => close?.());

  it("reads in index order and stops at the limit, without statistics", async () => {
    for (const filter of filters()) {
      const plan = sqlitePlan(db, await listOf("sqlite", filter));
      expect(plan, `${described(filter)}\n${plan}`).not.toMatch(/^SCAN s$/m);
      if (filter.open === true) expect(plan, `${described(filter)}\n${plan}`).toMatch(/SEARCH s USING INDEX \w*status\w* \([^)]*status=\?/);
      else expect(plan, `${described(filter)}\n${plan}`).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
    }
  });

  it("finds who stands in the way of a start through a status index", async () => {
    for (const { label, statement } of await occupantReads("sqlite")) {
      const plan = sqlitePlan(db, statement);
      expect(plan, `${label}\n${plan}`).toMatch(/SEARCH (s|AccessSession) USING (COVERING )?INDEX AccessSession_(serviceId|userId)_status_idx \([^)]*status=\?/);
    }
  });

  it("finds the open sessions a revocation ends through an index on the holder or the service", async () => {
    for (const scope of SCOPES) {
      const plan = sqlitePlan(db, await searchOf("sqlite", scope));
      expect(plan, `${JSON.stringify(scope)}\n${plan}`).toMatch(/SEARCH s USING INDEX AccessSession_(userId|serviceId)_/);
      expect(plan, `${JSON.stringify(scope)}\n${plan}`).not.toMatch(/^SCAN s$/m);
    }
  });
});
