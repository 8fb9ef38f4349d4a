// Read-your-writes behind a load balancer: a change's answer carries its seq, and a board read that
// names a seq this instance has yet to hear of is answered once it has, not from a board that went
// back to before the change. Here the change is made beside the running API (as another instance
// or the CLI makes it), so the API learns of it from the log: a poll every 100 ms on SQLite, a
// notification on PostgreSQL, both later than a read sent the moment the change was answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LIVE_SEQ_HEADER, ZService, ZSession } from "@postern/contracts";
import { openDatabase } from "@postern/db";
import { buildTestApp, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import type { DbContext } from "../../lib/db-context";
import { NO_LISTENERS } from "../../lib/run-change";
import { createService as createServiceBeside } from "../services/services.service";
import { lastLogSeq } from "./live.log";

describe.each(providers)("board reads that name a change on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;
  let beside: DbContext;
  let closeBeside: () => Promise<void>;

  beforeAll(async () => {
    t = await buildTestApp(provider);
    admin = await createUser(t.app, { role: "admin" });
    const other = await openDatabase(t.url);
    beside = { db: other.db, provider: t.provider, sql: other.sql, now: () => new Date(), changes: NO_LISTENERS };
    closeBeside = () => other.close();
  }, 120_000);
  afterAll(async () => {
    await closeBeside?.();
    await t?.close();
  });

  const read = (url: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: "GET", url, headers: { ...admin.headers, ...headers } });

  it("answers a change with the seq of its last event", async () => {
    const service = await createService(t.app);
    const started = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: admin.headers, payload: {} });
    expect(started.statusCode).toBe(201);
    const seq = await lastLogSeq(t.app.ctx);
    expect(started.headers[LIVE_SEQ_HEADER]).toBe(String(seq));

    const session = ZSession.parse(started.json());
    const ended = await t.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: admin.headers });
    expect(ended.statusCode).toBe(200);
    expect(Number(ended.headers[LIVE_SEQ_HEADER])).toBe(seq + 1);

    // A refusal changed nothing, and says no seq.
    const refused = await t.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: admin.headers });
    expect(refused.statusCode).toBe(409);
    expect(refused.headers[LIVE_SEQ_HEADER]).toBeUndefined();
  });

  it("answers a board read that names a change made elsewhere with a board that has it", async () => {
    // The board is in memory: without the seq, a read is answered from there at once.
    expect((await read("/api/services")).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) {
      let seq = 0;
      const made = await createServiceBeside(
        beside,
        { actor: null, reached: (s) => (seq = s) },
        { name: `Made beside ${i}`, slug: `beside-${i}-${provider}`, kind: "vpn", maxDurationSeconds: 3600 },
        60,
      );
      expect(seq).toBeGreaterThan(0);
      const res = await read("/api/services", { [LIVE_SEQ_HEADER]: String(seq) });
      expect(res.statusCode).toBe(200);
      expect(ZService.array().parse(res.json()).map((s) => s.id)).toContain(made.id);
      expect(Number(res.headers[LIVE_SEQ_HEADER])).toBeGreaterThanOrEqual(seq);
    }
  });

  it("answers a seq the log does not hold with the board it has", async () => {
    const res = await read("/api/sessions?active=true", { [LIVE_SEQ_HEADER]: String(Number.MAX_SAFE_INTEGER) });
    expect(res.statusCode).toBe(200);
    expect(Number(res.headers[LIVE_SEQ_HEADER])).toBe(await lastLogSeq(t.app.ctx));
  });

  it("refuses a seq that is not a whole number, naming the header", async () => {
    for (const bad of ["-1", "abc", "1.5", "9".repeat(20)]) {
      const res = await read("/api/services", { [LIVE_SEQ_HEADER]: bad });
      expect(res.statusCode, bad).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: "validation_failed", details: [{ field: LIVE_SEQ_HEADER }] } });
    }
  });
});
