// The audit trail: the admin list, the CSV export, transactions, tampering and concurrent writers.
import Fastify, { type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { parse } from "csv-parse/sync";
import zlib from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AUDIT_CSV_COLUMNS, ZAuditPage, ZAuditVerifyResult, ZErrorBody, ZSession, type TAuditListQuery } from "@postern/contracts";
import { openDatabase, type AuditEvent, type Prisma } from "@postern/db";
import serviceApp from "../../app";
import { BODY_LIMIT } from "../../server";
import { inTransaction } from "../../lib/db-context";
import { runChange } from "../../lib/run-change";
import { buildTestApp, createService, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { auditEventsBetween, findAuditEvents, hashAuditEvent, verifyAuditChain, writeAudit, type AuditInput } from "./audit.service";

/** A second API instance on the same database, as behind a load balancer. */
async function startInstance(t: TestApp, now?: () => Date): Promise<FastifyInstance> {
  const opened = await openDatabase(t.url, { poolSize: 4 });
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
  await app.register(fp(serviceApp), { config: t.config, database: opened, secret: t.config.secret ?? "", now });
  app.addHook("onClose", async () => opened.close());
  await app.ready();
  return app;
}

async function write(t: TestApp, input: AuditInput) {
  return inTransaction(t.app.ctx, (tx) => writeAudit(t.app.ctx, tx, input));
}

async function expectChainIntact(app: FastifyInstance) {
  const result = await verifyAuditChain(app.ctx);
  expect(result.firstBreak).toBeUndefined();
  const seqs = (await app.ctx.db.auditEvent.findMany({ select: { seq: true }, orderBy: { seq: "asc" } })).map((e) => e.seq);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  expect(result.checked).toBe(seqs.length);
}

describe.each(providers)("audit trail on %s", (provider) => {
  let t: TestApp;
  let clock: TestClock;
  let admin: TestUser;
  const extra: FastifyInstance[] = [];

  beforeEach(async () => {
    clock = testClock(Date.parse("2026-11-18T10:00:00Z"));
    t = await buildTestApp(provider, { now: clock.now });
    admin = await createUser(t.app, { role: "admin", username: `admin-${Math.random().toString(36).slice(2, 6)}` });
  });
  afterEach(async () => {
    for (const app of extra.splice(0)) await app.close();
    await t.close();
  });

  const get = (url: string, headers = admin.headers) => t.app.inject({ method: "GET", url, headers });

  it("lists events newest first with filters and a cursor", async () => {
    const svc = await createService(t.app);
    const base = { sourceIp: "203.0.113.7" };
    await write(t, { ...base, action: "session.started", actor: { id: "u-alice", username: "alice" }, serviceId: svc.id });
    clock.advance(60_000);
    await write(t, { ...base, action: "session.ended", actor: { id: "u-alice", username: "alice" }, serviceId: svc.id });
    clock.set(new Date("2026-11-25T09:00:00Z"));
    await write(t, { ...base, action: "session.force_ended", actor: { id: "u-bob", username: "bob" }, serviceId: svc.id });
    await write(t, { ...base, action: "service.deleted", actor: { id: "u-bob", username: "bob" } });
    await write(t, { action: "group.created", actor: { id: "u-bob", username: "bob" } });

    const all = ZAuditPage.parse((await get("/api/audit?limit=500")).json());
    expect(all.items.map((e) => e.seq)).toEqual([...all.items.map((e) => e.seq)].sort((a, b) => b - a));
    expect(all.nextCursor).toBeUndefined();

    // Paging with a cursor visits every event once.
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = ZAuditPage.parse((await get(`/api/audit?limit=2${cursor ? `&cursor=${cursor}` : ""}`)).json());
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((e) => e.seq));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.items.map((e) => e.seq));

    const actions = async (query: string) =>
      ZAuditPage.parse((await get(`/api/audit?${query}`)).json()).items.map((e) => e.action);
    expect(await actions("actor=alice")).toEqual(["session.ended", "session.started"]);
    expect(await actions("actor=u-bob")).toEqual(["group.created", "service.deleted", "session.force_ended"]);
    // A prefix ends in a dot and matches whole segments; anything else is an exact action.
    expect(await actions("action=session.")).toEqual(["session.force_ended", "session.ended", "session.started"]);
    expect(await actions("action=session.force")).toEqual([]);
    expect(await actions("action=session.started")).toEqual(["session.started"]);
    expect(await actions(`serviceId=${svc.id}&actor=bob`)).toEqual(["session.force_ended"]);
    expect(await actions("from=2026-11-18T10:00:30Z&to=2026-11-24")).toEqual(["session.ended"]);
    expect(await actions("from=2026-11-25&action=session.")).toEqual(["session.force_ended"]);

    const event = all.items.find((e) => e.action === "session.started")!;
    expect(event).toMatchObject({ actor: { id: "u-alice", username: "alice" }, serviceId: svc.id, sourceIp: "203.0.113.7" });
    expect(event.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("reads pages and export batches in plain SQL as Prisma's findMany did: every field, in order", async () => {
    const svc = await createService(t.app);
    const alice = { id: "u-alice", username: "alice" };
    await write(t, { action: "session.started", actor: alice, serviceId: svc.id, sessionId: "s-1", sourceIp: "2001:db8::7", details: { reason: "tab\t\"quote\" ✓" } });
    clock.advance(1);
    await write(t, { action: "waitlist.joined", actor: { id: "token:t1", username: "token:monitor", kind: "token" }, target: "service:x" });
    clock.set(new Date("2026-11-24T23:59:59.999Z"));
    await write(t, { action: "session.ended", actor: alice, serviceId: svc.id });
    clock.advance(1);
    await write(t, { action: "group.created" });
    // The test clock runs on with real time: bounds are taken from the stored times.
    const stored = await t.app.ctx.db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    const at = stored.map((e) => e.at);

    const viaPrisma = (where: Prisma.AuditEventWhereInput, take = 500) =>
      t.app.ctx.db.auditEvent.findMany({ where, orderBy: { seq: "desc" }, take });
    const cases: [TAuditListQuery, Prisma.AuditEventWhereInput][] = [
      [{}, {}],
      [{ actor: "alice" }, { OR: [{ actorId: "alice" }, { actorUsername: "alice" }] }],
      [{ actor: "token:t1" }, { OR: [{ actorId: "token:t1" }, { actorUsername: "token:t1" }] }],
      [{ action: "waitlist." }, { action: { startsWith: "waitlist." } }],
      [{ action: "session.", serviceId: svc.id }, { action: { startsWith: "session." }, serviceId: svc.id }],
      [{ action: "nothing." }, { id: "none" }],
      [{ from: at[1]!.toISOString(), to: at[3]!.toISOString() }, { at: { gte: at[1], lt: at[3] } }],
    ];
    for (const [query, where] of cases) {
      const { rows } = await findAuditEvents(t.app.ctx, { limit: 500, ...query });
      expect(rows, JSON.stringify(query)).toEqual(await viaPrisma(where));
    }
    const first = await findAuditEvents(t.app.ctx, { limit: 2 });
    expect(first.rows).toEqual(await viaPrisma({}, 2));
    const second = await findAuditEvents(t.app.ctx, { limit: 2, cursor: first.nextCursor });
    expect(second.rows).toEqual(await viaPrisma({ seq: { lt: first.rows[1]!.seq } }, 2));

    const range = { from: at[1]!, to: new Date(at[3]!.getTime() + 1) };
    const batches: AuditEvent[][] = [];
    for await (const batch of auditEventsBetween(t.app.ctx, range, 2)) batches.push(batch);
    const inRange = await t.app.ctx.db.auditEvent.findMany({ where: { at: { gte: range.from, lt: range.to } }, orderBy: { seq: "asc" } });
    expect(inRange.map((e) => e.action)).toEqual(["waitlist.joined", "session.ended", "group.created"]);
    expect(batches).toEqual([inRange.slice(0, 2), inRange.slice(2)]);
  });

  it("names the bad query field and keeps the list from members", async () => {
    for (const [query, field] of [
      ["cursor=garbage", "querystring.cursor"],
      ["from=yesterday", "querystring.from"],
      ["from=2026-11-20&to=2026-11-19", "querystring.to"],
      ["limit=0", "querystring.limit"],
      ["action=DROP%20TABLE", "querystring.action"],
      ["colour=red", "querystring"],
    ] as const) {
      const res = await get(`/api/audit?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(ZErrorBody.parse(res.json()).error.message, query).toContain(field);
    }
    const member = await createUser(t.app);
    expect((await get("/api/audit", member.headers)).statusCode).toBe(403);
    expect((await get("/api/audit/export.csv?week=2026-W47", member.headers)).statusCode).toBe(403);
    expect((await t.app.inject({ method: "GET", url: "/api/audit" })).statusCode).toBe(401);
  });

  it("exports a week as RFC 4180 CSV that round-trips and neutralises formulas", async () => {
    const tricky = {
      actor: { id: "u-x", username: "=HYPERLINK(\"http://evil.example\",\"click\")" },
      action: "user.updated" as const,
      target: "+41 79 000 00 00",
      sourceIp: "-2+3",
      details: { note: 'quote " comma , and\r\nnew line', emoji: "✓ Zürich" },
    };
    await write(t, tricky);
    await write(t, { action: "user.created", target: "@SUM(A1:A9)", details: { cell: "\tTAB" } });
    await write(t, { action: "session.started", target: "\rCR" });
    clock.set(new Date("2026-11-23T00:00:00Z")); // the next ISO week
    await write(t, { action: "group.created", target: "next week" });

    const res = await get("/api/audit/export.csv?week=2026-W47");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(res.headers["content-disposition"]).toBe('attachment; filename="postern-audit-2026-W47.csv"');
    const text = res.body;
    expect(text.startsWith(`${AUDIT_CSV_COLUMNS.join(",")}\r\n`)).toBe(true);
    expect(text.endsWith("\r\n")).toBe(true);

    const rows = parse(text, { relax_column_count: false }) as string[][];
    expect(rows[0]).toEqual([...AUDIT_CSV_COLUMNS]);
    const events = await t.app.ctx.db.auditEvent.findMany({
      where: { at: { gte: new Date("2026-11-16T00:00:00Z"), lt: new Date("2026-11-23T00:00:00Z") } },
      orderBy: { seq: "asc" },
    });
    expect(rows.slice(1).map((r) => Number(r[8]))).toEqual(events.map((e) => e.seq));
    const byAction = (a: string) => rows.find((r) => r[2] === a)!;

    const updated = byAction("user.updated");
    expect(updated[1]).toBe(`'${tricky.actor.username}`);
    expect(updated[3]).toBe(`'${tricky.target}`);
    expect(updated[6]).toBe(`'${tricky.sourceIp}`);
    expect(JSON.parse(updated[7]!)).toEqual(tricky.details); // quotes, commas, CRLF and UTF-8 survive
    expect(updated[9]).toBe(events.find((e) => e.action === "user.updated")!.hash);
    expect(byAction("user.created")[3]).toBe("'@SUM(A1:A9)");
    expect(byAction("session.started")[3]).toBe("'\rCR");
    expect(rows.some((r) => r[3] === "next week")).toBe(false);
    for (const row of rows.slice(1)) {
      for (const cell of row) expect(cell, JSON.stringify(row)).not.toMatch(/^[=+\-@\t\r]/);
      expect(new Date(row[0]!).toISOString()).toBe(row[0]);
    }

    const range = await get("/api/audit/export.csv?from=2026-11-23&to=2026-11-23");
    expect(range.statusCode).toBe(200);
    const rangeRows = parse(range.body) as string[][];
    expect(rangeRows.slice(1).map((r) => r[3])).toEqual(["next week"]);
    expect(range.headers["content-disposition"]).toBe('attachment; filename="postern-audit-2026-11-23_2026-11-23.csv"');

    const empty = parse((await get("/api/audit/export.csv?week=2020-W53")).body) as string[][];
    expect(empty).toEqual([[...AUDIT_CSV_COLUMNS]]);
  });

  it("compresses the export and the list for clients that accept it, and only those", async () => {
    for (let i = 0; i < 40; i++) await write(t, { action: "user.updated", target: `user-${i}`, details: { note: "a reason long enough to repeat" } });
    const plain = await get("/api/audit/export.csv?week=2026-W47");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    const rows = parse(plain.body) as string[][];
    expect(rows.length).toBeGreaterThan(40);

    const br = await get("/api/audit/export.csv?week=2026-W47", { ...admin.headers, "accept-encoding": "gzip, deflate, br" });
    expect(br.statusCode).toBe(200);
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(br.headers.vary).toMatch(/accept-encoding/i);
    expect(br.rawPayload.length).toBeLessThan(plain.rawPayload.length / 3);
    expect(zlib.brotliDecompressSync(br.rawPayload).toString()).toBe(plain.body);

    const list = await get("/api/audit?limit=100", { ...admin.headers, "accept-encoding": "gzip" });
    expect(list.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(zlib.gunzipSync(list.rawPayload).toString())).toEqual((await get("/api/audit?limit=100")).json());

    // The audit's hook stays in its scope: a board read this small goes as it is (board.test.ts).
    const board = await get("/api/services", { ...admin.headers, "accept-encoding": "gzip, br" });
    expect(board.statusCode).toBe(200);
    expect(board.headers["content-encoding"]).toBeUndefined();
  });

  it("answers 400 naming the field for a bad week or date", async () => {
    for (const [query, field] of [
      ["week=2026-47", "querystring.week"],
      ["week=2021-W53", "querystring.week"],
      ["week=2026-W00", "querystring.week"],
      ["", "querystring.week"],
      ["week=2026-W47&from=2026-11-16", "querystring.week"],
      ["from=2026-11-16", "querystring.to"],
      ["to=2026-11-16", "querystring.from"],
      ["from=16.11.2026&to=2026-11-20", "querystring.from"],
      ["from=2026-11-16&to=2026-13-01", "querystring.to"],
      ["from=2026-11-20&to=2026-11-16T00:00:00Z", "querystring.to"],
    ] as const) {
      const res = await get(`/api/audit/export.csv?${query}`);
      expect(res.statusCode, query).toBe(400);
      const body = ZErrorBody.parse(res.json());
      expect(body.error.code).toBe("validation_failed");
      expect(body.error.message, query).toContain(field);
    }
  });

  it("leaves no event behind when the change rolls back", async () => {
    const before = await t.app.ctx.db.auditEvent.count();
    await expect(
      inTransaction(t.app.ctx, async (tx) => {
        await tx.group.create({ data: { name: "doomed" } });
        await writeAudit(t.app.ctx, tx, { action: "group.created", target: "group:doomed" });
        throw new Error("boom after the audit event");
      }),
    ).rejects.toThrow("boom");
    // A database error after the event (a unique violation) rolls it back the same way.
    await expect(
      inTransaction(t.app.ctx, async (tx) => {
        await writeAudit(t.app.ctx, tx, { action: "user.created", target: `username:${admin.username}` });
        await tx.user.create({ data: { username: admin.username } });
      }),
    ).rejects.toThrow();
    expect(await t.app.ctx.db.auditEvent.count()).toBe(before);
    expect(await t.app.ctx.db.group.count({ where: { name: "doomed" } })).toBe(0);
    // A rejected request leaves nothing either.
    const conflict = await t.app.inject({ method: "POST", url: "/api/users", headers: admin.headers, payload: { username: admin.username } });
    expect(conflict.statusCode).toBe(409);
    expect(await t.app.ctx.db.auditEvent.count()).toBe(before);

    const next = await write(t, { action: "group.created" });
    expect(next.seq).toBe(before + 1);
    await expectChainIntact(t.app);
  });

  describe("tampering", () => {
    beforeEach(async () => {
      for (const name of ["alpha", "beta", "gamma", "delta"]) {
        const res = await t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name } });
        expect(res.statusCode).toBe(201);
      }
      await expectChainIntact(t.app);
    });

    const eventNamed = (name: string) =>
      t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { action: "group.created", details: { contains: `"${name}"` } } });

    it("names an edited event", async () => {
      const beta = await eventNamed("beta");
      await t.app.ctx.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET "details" = '{"name":"forged"}' WHERE "seq" = ${beta.seq}`);
      const result = await verifyAuditChain(t.app.ctx);
      expect(result.firstBreak).toEqual({ seq: beta.seq, id: beta.id, reason: expect.stringContaining("edited") });
      expect(result.checked).toBe(beta.seq - 1);
      const api = ZAuditVerifyResult.parse((await get("/api/audit/verify")).json());
      expect(api).toMatchObject({ intact: false, firstBreak: { seq: beta.seq, id: beta.id } });
    });

    it("names the event after a deleted one", async () => {
      const beta = await eventNamed("beta");
      const gamma = await eventNamed("gamma");
      await t.app.ctx.db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE "seq" = ${beta.seq}`);
      const result = await verifyAuditChain(t.app.ctx);
      expect(result.firstBreak).toEqual({ seq: gamma.seq, id: gamma.id, reason: expect.stringContaining("deleted") });
    });

    it("notices an edit whose hash was recomputed, at the next link", async () => {
      const beta = await eventNamed("beta");
      const gamma = await eventNamed("gamma");
      // A forger who rewrites the row and its hash still breaks the link to the next event.
      await t.app.ctx.db.$executeRawUnsafe(
        `UPDATE "AuditEvent" SET "actorUsername" = 'someone-else', "hash" = '${"f".repeat(64)}' WHERE "seq" = ${beta.seq}`,
      );
      const result = await verifyAuditChain(t.app.ctx);
      expect(result.firstBreak?.seq).toBe(beta.seq);
      const forged = await t.app.ctx.db.auditEvent.findUniqueOrThrow({ where: { seq: beta.seq } });
      await t.app.ctx.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET "hash" = '${hashAuditEvent(forged)}' WHERE "seq" = ${beta.seq}`);
      const relinked = await verifyAuditChain(t.app.ctx);
      expect(relinked.firstBreak).toEqual({ seq: gamma.seq, id: gamma.id, reason: expect.stringContaining("prevHash") });
    });
  });

  it("keeps the chain valid with 20 parallel session starts and ends", async () => {
    const services = await Promise.all(Array.from({ length: 20 }, () => createService(t.app)));
    const before = await t.app.ctx.db.auditEvent.count();
    const started = await Promise.all(
      services.map((s) =>
        t.app.inject({ method: "POST", url: `/api/services/${s.id}/sessions`, headers: admin.headers, payload: { durationSeconds: 600 } }),
      ),
    );
    expect(started.map((r) => r.statusCode)).toEqual(services.map(() => 201));
    const ended = await Promise.all(
      started.map((r) =>
        t.app.inject({ method: "DELETE", url: `/api/sessions/${ZSession.parse(r.json()).id}`, headers: admin.headers }),
      ),
    );
    expect(ended.map((r) => r.statusCode)).toEqual(services.map(() => 200));
    expect(await t.app.ctx.db.auditEvent.count()).toBe(before + 40);
    await expectChainIntact(t.app);
  });

  // On PostgreSQL a change's events are linked by the database (postern_chain_append) and
  // writeAudit's by this process: both under one lock, both hashing the same bytes.
  it("links several events of one change, with any text, as verification recomputes them", async () => {
    const names = ["Ünïcödé \"quoted\" \\ back", "emoji 🚀 and ☃", "tab\tnew\nline", "'; DROP TABLE x; --", "$$ dollar $$"];
    const before = await t.app.ctx.db.auditEvent.count();
    await Promise.all([
      runChange(t.app.ctx, { actor: { id: admin.id, username: admin.username }, sourceIp: "2001:db8::1" }, async (_tx, record) => {
        for (const [i, name] of names.entries()) record({ type: "group.created", group: { id: `g${i}`, name } }, { details: { note: name } });
      }),
      write(t, { action: "group.created", target: "group:beside", details: { name: "Ünïcödé beside" } }),
      ...names.map((name) => t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name: `${name} (api)` } })),
    ]);
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { seq: { gt: before } }, orderBy: { seq: "asc" } });
    expect(events).toHaveLength(names.length * 2 + 1);
    for (const name of names) expect(events.some((e) => e.details?.includes(JSON.stringify(name).slice(1, -1)))).toBe(true);
    for (const e of events) expect(e.hash).toBe(hashAuditEvent(e));
    await expectChainIntact(t.app);
  });

  it.runIf(provider === "postgres")("keeps the chain valid with two API instances writing at once", async () => {
    const second = await startInstance(t, clock.now);
    extra.push(second);
    const services = await Promise.all(Array.from({ length: 20 }, () => createService(t.app)));
    const before = await t.app.ctx.db.auditEvent.count();
    const instances = [t.app, second];
    const started = await Promise.all(
      services.map((s, i) =>
        instances[i % 2]!.inject({ method: "POST", url: `/api/services/${s.id}/sessions`, headers: admin.headers, payload: { durationSeconds: 600 } }),
      ),
    );
    expect(started.map((r) => r.statusCode)).toEqual(services.map(() => 201));
    const writes = [
      ...started.map((r, i) =>
        instances[(i + 1) % 2]!.inject({ method: "DELETE", url: `/api/sessions/${ZSession.parse(r.json()).id}`, headers: admin.headers }),
      ),
      ...Array.from({ length: 20 }, (_, i) =>
        instances[i % 2]!.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name: `g-${i}` } }),
      ),
    ];
    const results = await Promise.all(writes);
    expect(results.filter((r) => r.statusCode >= 300).map((r) => r.body)).toEqual([]);
    expect(await t.app.ctx.db.auditEvent.count()).toBe(before + 60);
    await expectChainIntact(t.app);
    await expectChainIntact(second);
  });
});
