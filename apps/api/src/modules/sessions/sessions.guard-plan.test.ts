// The plans PostgreSQL caches for `postern_board_guard` (migrations 20261204050000_board_guard_holder_plan
// and 20261205030000_open_sessions_index). PL/pgSQL plans a statement with the call's values for
// its first five calls on a connection and may then keep a generic plan made without them. For the
// start's "no open session of the caller" check that generic plan was a sequential scan of every
// session ever held, on every start from the sixth on; and on a table without statistics, every
// plan read all of the caller's sessions on the service. This reads the plans themselves
// (auto_explain, loaded into this test's connection only) after enough calls for the cache to have
// chosen, on a table with a long history, analysed or not.
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { OPEN_STATUSES } from "@postern/contracts";
import { createTestDatabase } from "../../../test/databases";

vi.setConfig({ testTimeout: 60_000 });

const RULES = JSON.stringify({ exclusive: false, requiresApproval: false, defaultDurationSeconds: 600, maxDurationSeconds: 7200, groupIds: [] });

describe("postern_board_guard on PostgreSQL", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** `analysed`: as after an ANALYZE; else as a new database, or one whose autovacuum is off or behind. */
  async function historyOfSessions({ analysed }: { analysed: boolean }) {
    const database = await createTestDatabase("postgres");
    cleanups.push(database.drop);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    cleanups.push(() => client.end());
    // 20 users and 20 services, 1,000 ended sessions each user, and one open session each, on
    // the service of the same number: what a board in use for a while holds.
    await client.query(`
      INSERT INTO "User" ("id", "username", "updatedAt") SELECT 'u' || g, 'user' || g, now() FROM generate_series(1, 20) g;
      INSERT INTO "Service" ("id", "name", "slug", "defaultDurationSeconds", "maxDurationSeconds", "updatedAt")
        SELECT 's' || g, 'service ' || g, 'service-' || g, 600, 7200, now() FROM generate_series(1, 20) g;
      INSERT INTO "AccessSession" ("id", "serviceId", "userId", "status", "durationSeconds")
        SELECT 'old' || u || '_' || g, 's' || (1 + g % 20), 'u' || u, 'ended', 600 FROM generate_series(1, 20) u, generate_series(1, 1000) g;
      INSERT INTO "AccessSession" ("id", "serviceId", "userId", "status", "durationSeconds")
        SELECT 'open' || u, 's' || u, 'u' || u, 'active', 600 FROM generate_series(1, 20) u;
    `);
    if (analysed) await client.query("ANALYZE");
    return client;
  }

  /** Asks the guard whether `user` may start on `service`: true when it lets the start through. */
  async function guardLetsStart(client: pg.Client, service: string, user: string): Promise<boolean> {
    try {
      await client.query(`SELECT postern_board_guard($1, $2::jsonb, $3, NULL, $4::jsonb)`, [service, RULES, user, JSON.stringify(OPEN_STATUSES)]);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === "PB001") return false;
      throw error;
    }
  }

  /** Starts no one holds, well past the five calls after which the plan cache weighs a generic plan. */
  async function cachePlans(client: pg.Client): Promise<void> {
    for (let i = 0; i < 12; i += 1) expect(await guardLetsStart(client, `s${1 + ((i + 1) % 20)}`, `u${1 + (i % 20)}`)).toBe(true);
  }

  it.each([true, false])("finds the caller's open sessions alone, however many calls its connection has made (analysed: %s)", async (analysed) => {
    const client = await historyOfSessions({ analysed });
    await cachePlans(client);

    const plans: string[] = [];
    client.on("notice", (notice) => plans.push(notice.message ?? ""));
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET client_min_messages = log`);
    expect(await guardLetsStart(client, "s3", "u1")).toBe(true);
    await client.query(`SET client_min_messages = notice`);

    const holderCheck = plans.find((p) => p.includes(`"userId" = holder_id`));
    expect(holderCheck, plans.join("\n---\n")).toBeDefined();
    // The index of open sessions: a handful of entries, where any other path reads the history.
    expect(holderCheck).toMatch(/Index (Only )?Scan (using|on) "AccessSession_open_userId_serviceId_idx"/);
    for (const plan of plans) expect(plan).not.toMatch(/Seq Scan on "AccessSession"/);
  });

  it("still refuses a start when the caller holds the service in any open status, after the plans are cached", async () => {
    const client = await historyOfSessions({ analysed: true });
    await cachePlans(client);
    // Every status the contracts call open, which the guard spells as literals for its index.
    for (const status of OPEN_STATUSES) {
      await client.query(`UPDATE "AccessSession" SET "status" = $1 WHERE "id" = 'open7'`, [status]);
      expect(await guardLetsStart(client, "s7", "u7"), status).toBe(false);
    }
    for (const status of ["ended", "expired", "denied"]) {
      await client.query(`UPDATE "AccessSession" SET "status" = $1 WHERE "id" = 'open7'`, [status]);
      expect(await guardLetsStart(client, "s7", "u7"), status).toBe(true);
    }
  });
});
