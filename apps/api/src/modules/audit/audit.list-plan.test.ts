// The plans the databases make for a page of the audit trail (`GET /api/audit`) with its filters,
// on a trail holding a long history: every change the board ever made is an event. A page asks for
// the newest hundred events a filter lets through. With an index on the filter's column and "seq"
// after it, the events come in that order and the read stops at the page; with an index on the
// column alone, every event it matched was found and sorted, and an actor, whose filter also
// matches the username the event recorded (not indexed), was looked for in every event, newest
// first, until a page of theirs was found.
//
// Each filter's statement is taken from `findAuditEvents` itself and planned by the database:
// PostgreSQL both with the call's values and generically (its statements stay prepared), SQLite
// without statistics, as it runs.
import type Database from "better-sqlite3";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TAuditListQuery } from "@postern/contracts";
import type { Provider } from "@postern/db";
import { expectIndexedReads, fillForPlans, postgresForPlans, postgresPlan, sqliteForPlans, sqlitePlan, statementOf } from "../../../test/plans";
import { encodeAuditCursor, findAuditEvents } from "./audit.service";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const EVENTS = 40_000;

/** Events a minute apart: 20 people starting, extending and ending sessions on 20 services, and
 * every thousandth a monitor's token relaying an alert (`fillForPlans`). */
const TRAIL = `
  INSERT INTO "AuditEvent" ("id", "seq", "at", "actorId", "actorUsername", "action", "serviceId", "prevHash", "hash")
  SELECT 'e' || n, n, $AT(0),
    CASE WHEN n % 1000 = 0 THEN NULL ELSE 'u' || (1 + n % 20) END,
    CASE WHEN n % 1000 = 0 THEN 'token:monitor' ELSE 'user' || (1 + n % 20) END,
    CASE WHEN n % 1000 = 0 THEN 'relay.sent' WHEN n % 3 = 0 THEN 'session.started' WHEN n % 3 = 1 THEN 'session.extended' ELSE 'session.ended' END,
    CASE WHEN n % 1000 = 0 THEN NULL ELSE 's' || (1 + n % 20) END,
    'x', 'x'
  FROM numbers`;

/** The filters an admin combines on the audit page, each alone, together, and a page further on. */
function queries(): TAuditListQuery[] {
  const filters: TAuditListQuery[] = [
    {},
    { actor: "u3" },
    { actor: "user3" },
    { actor: "token:monitor" },
    { serviceId: "s4" },
    { action: "session.ended" },
    { action: "session." },
    { action: "relay.sent" },
    { actor: "u3", action: "session.ended" },
    { actor: "token:monitor", action: "relay." },
    { serviceId: "s4", action: "session.started" },
    { actor: "u5", serviceId: "s5" },
  ];
  return filters.flatMap((filter) => [filter, { ...filter, cursor: encodeAuditCursor(EVENTS / 2) }]);
}

const pageOf = (provider: Provider, query: TAuditListQuery) => statementOf(provider, (ctx) => findAuditEvents(ctx, query));

describe("audit page plans on PostgreSQL", () => {
  let client: pg.Client;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ client, close } = await postgresForPlans());
    await fillForPlans({ client }, "AuditEvent", EVENTS, TRAIL);
  });
  afterAll(async () => close?.());

  it.each(["force_custom_plan", "force_generic_plan"])("reads a page's worth of events, through an index (%s)", async (mode) => {
    await client.query(`SET plan_cache_mode = ${mode}`);
    for (const query of queries()) {
      const plan = await postgresPlan(client, await pageOf("postgres", query));
      const seen = `${JSON.stringify(query)}\n${JSON.stringify(plan, null, 1)}`;
      // The old plans walked all 40,000 events for the monitor's token or its action. What is read
      // now grows with how rare the filter is, not with the trail: 6,000 events at most here, for
      // one person's one action (1 in 60 events), once per side of the actor's union.
      expectIndexedReads(plan, "AuditEvent", EVENTS / 4, seen);
    }
  });
});

describe("audit page plans on SQLite", () => {
  let db: Database.Database;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ db, close } = await sqliteForPlans());
    await fillForPlans({ db }, "AuditEvent", EVENTS, TRAIL);
  });
  afterAll(async () => close?.());

  it("reads in index order and stops at the page, without statistics", async () => {
    for (const query of queries()) {
      const plan = sqlitePlan(db, await pageOf("sqlite", query));
      const seen = `${JSON.stringify(query)}\n${plan}`;
      // A filter on a column is searched on an index of a filtered column with "seq" after it, which
      // holds its events in order: once for each side of an actor's union.
      const searches = plan.match(/SEARCH AuditEvent USING INDEX AuditEvent_\w+_seq_idx/g) ?? [];
      if (query.actor) expect(searches.length, seen).toBe(2);
      else if (query.serviceId || query.action) expect(searches.length, seen).toBe(1);
      else expect(plan, seen).toMatch(/AuditEvent USING INDEX AuditEvent_seq_key/);
      expect(plan, seen).not.toMatch(/SCAN AuditEvent$/m);
    }
  });
});
