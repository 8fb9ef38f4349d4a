import Fastify from "fastify";
import fp from "fastify-plugin";
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { openDatabase } from "@postern/db";
import serviceApp from "../../app";
import { ZConflictDetails, ZErrorBody, ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock } from "../../../test/app";
import { providers } from "../../../test/databases";
import { verifyAuditChain } from "../audit/audit.service";
import { expireDueSessions } from "./sessions.service";

describe.each(providers)("access sessions on %s", (provider) => {
  let t: TestApp;
  let clock: TestClock;
  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
  });
  afterEach(async () => t.close());

  /** Alice, a member, holding a service she sees; `start` asks for it again. */
  async function aliceHolding() {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [group.id] });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const start = () => t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: alice.headers, payload: { durationSeconds: 600 } });
    expect((await start()).statusCode).toBe(201);
    return { service, alice, start };
  }

  // The board in memory refuses a start that clashes with the caller's own open session before
  // any transaction opens; the answer is the one the transaction gives when the board is cold.
  it("refuses a second start of one's own from the board, with the transaction's answer", async () => {
    const { service, alice, start } = await aliceHolding();
    // Counted by transactions opened, not by statements: the live log's poller reads on its own.
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    // Without the board in memory, the transaction refuses.
    const peek = vi.spyOn(t.app.board, "peek").mockReturnValue(undefined);
    const cold = await start();
    peek.mockRestore();
    expect(cold.statusCode).toBe(409);
    expect(transactions).toHaveBeenCalledTimes(1);
    // Warm board: the same answer, and no transaction.
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    const warm = await start();
    expect(transactions).toHaveBeenCalledTimes(1);
    expect(warm.statusCode).toBe(409);
    expect(warm.json()).toEqual(cold.json());
    // A window the service does not allow is the board's to refuse too (sessions.start-preflight.test.ts).
    const tooLong = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: alice.headers, payload: { durationSeconds: 999_999 } });
    expect(tooLong.statusCode).toBe(400);
    // Once it ends, the board no longer stands in the way.
    const mine = ZSession.parse((await t.app.inject({ url: "/api/sessions?active=true&mine=true", headers: alice.headers })).json()[0]);
    expect((await t.app.inject({ method: "DELETE", url: `/api/sessions/${mine.id}`, headers: alice.headers })).statusCode).toBe(200);
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    expect((await start()).statusCode).toBe(201);
  });

  // A service missing from the caller's board is gone, hidden from them, or too new for this
  // instance's board: one plain read tells them apart, and only the last opens a transaction.
  // What the read found is remembered until a change could show the service.
  it("refuses a start on a service the board does not show after one read, with the transaction's answer", async () => {
    const { alice } = await aliceHolding();
    const hidden = await createService(t.app, { groupIds: [(await createGroup(t.app)).id] });
    const startOn = (id: string) => t.app.inject({ method: "POST", url: `/api/services/${id}/sessions`, headers: alice.headers, payload: { durationSeconds: 600 } });
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    // The reads of a service's groups, told from the live log's poller by their SQL.
    const reads = vi.spyOn(t.app.ctx.sql, "read");
    const serviceReads = () => reads.mock.calls.filter(([fn]) => String(fn).includes('"ServiceGroup"')).length;
    const peek = vi.spyOn(t.app.board, "peek").mockReturnValue(undefined);
    const cold = [await startOn("no-such-service"), await startOn(hidden.id)];
    peek.mockRestore();
    expect(transactions).toHaveBeenCalledTimes(2);
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    for (const expectedReads of [2, 2]) {
      const warm = [await startOn("no-such-service"), await startOn(hidden.id)];
      expect(transactions).toHaveBeenCalledTimes(2);
      expect(serviceReads()).toBe(expectedReads);
      for (const [i, res] of warm.entries()) {
        expect(res.statusCode).toBe(404);
        expect(res.json()).toEqual(cold[i]!.json());
      }
    }
    // Shared with her group: the change that shows it also ends what was remembered.
    const group = (await t.app.ctx.db.groupMember.findFirstOrThrow({ where: { userId: alice.id } })).groupId;
    const admin = await createUser(t.app, { role: "admin" });
    const shared = await t.app.inject({ method: "PATCH", url: `/api/services/${hidden.id}`, headers: admin.headers, payload: { groupIds: [group] } });
    expect(shared.statusCode, shared.body).toBe(200);
    expect((await startOn(hidden.id)).statusCode).toBe(201);
    // Written behind the board's back, as another instance's change not yet read from the log: the
    // read finds it, and the transaction starts the session.
    const fresh = await createService(t.app, { groupIds: [group] });
    transactions.mockClear();
    expect((await startOn(fresh.id)).statusCode).toBe(201);
    expect(transactions).toHaveBeenCalledTimes(1);
  });

  it("answers a start on a service the caller cannot see before reading its body", async () => {
    const { alice, service } = await aliceHolding();
    const hidden = await createService(t.app, { groupIds: [(await createGroup(t.app)).id] });
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    const startWith = (id: string, payload: string) =>
      t.app.inject({ method: "POST", url: `/api/services/${id}/sessions`, headers: { ...alice.headers, "content-type": "application/json" }, payload });
    // Malformed JSON, then a bad duration: the service in the path is answered first, the first
    // time (after a read) and when remembered alike.
    for (const payload of ['{"durationSeconds": ', '{"durationSeconds": "soon"}']) {
      for (const id of ["no-such-service", hidden.id]) {
        const res = await startWith(id, payload);
        expect(res.statusCode, `${id} ${payload}: ${res.body}`).toBe(404);
        expect(res.json()).toEqual({ error: { code: "not_found", message: "service not found" } });
      }
    }
    // A path that names no service at all is validation's to answer; a service she sees, its body's.
    expect((await startWith("x".repeat(65), '{"durationSeconds": 600}')).json()).toMatchObject({ error: { code: "validation_failed", details: [{ field: "params.id" }] } });
    expect((await startWith(service.id, '{"durationSeconds": "soon"}')).json()).toMatchObject({ error: { code: "validation_failed", details: [{ field: "body.durationSeconds" }] } });
  });

  it("leaves a session past its end to the transaction, which closes it as the clock would and starts the new one", async () => {
    const { alice, start } = await aliceHolding();
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    // Refused from the board while it runs (what the board made of the session is kept)…
    expect((await start()).statusCode).toBe(409);
    expect(transactions).toHaveBeenCalledTimes(0);
    // …and past its expiry, not yet closed (the board in memory still shows it active), judged now:
    // the transaction closes it as the clock would, at its expiry, and starts the new one.
    const [held] = await t.app.ctx.db.accessSession.findMany({ where: { userId: alice.id } });
    clock.advance(600_001);
    const again = await start();
    expect(again.statusCode).toBe(201);
    expect(transactions).toHaveBeenCalledTimes(1);
    const old = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: held!.id } });
    expect(old).toMatchObject({ status: "expired", endedAt: held!.expiresAt });
    const trail = await t.app.ctx.db.auditEvent.findMany({ where: { actorId: null, action: "session.expired" }, orderBy: { seq: "asc" } });
    const started = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: ZSession.parse(again.json()).id, action: "session.started" } });
    expect(trail.map((e) => e.sessionId)).toEqual([held!.id]);
    expect(trail[0]!.seq).toBeLessThan(started.seq);
    // The clock, when it comes, finds nothing left to close.
    expect(await expireDueSessions(t.app.ctx)).toBe(0);
    expect((await verifyAuditChain(t.app.ctx)).firstBreak).toBeUndefined();
  });

  it("judges a clash by the session as the board shows it now, not as it was when first refused", async () => {
    const { alice, start } = await aliceHolding();
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    expect((await start()).statusCode).toBe(409);
    const mine = ZSession.parse((await t.app.inject({ url: "/api/sessions?active=true&mine=true", headers: alice.headers })).json()[0]);
    const extended = await t.app.inject({ method: "POST", url: `/api/sessions/${mine.id}/extend`, headers: alice.headers, payload: { durationSeconds: 600 } });
    expect(extended.statusCode, extended.body).toBe(200);
    // Past the first end, before the extended one: still refused from the board, with no transaction.
    clock.advance(600_001);
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    const again = await start();
    expect(again.statusCode).toBe(409);
    expect(ZErrorBody.parse(again.json()).error.details).toEqual({ sessionId: mine.id });
    expect(transactions).toHaveBeenCalledTimes(0);
  });

  it("lets the next person take an exclusive service the moment its holder's time runs out", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { exclusive: true, groupIds: [group.id] });
    const [alice, bob] = [await createUser(t.app, { groupIds: [group.id] }), await createUser(t.app, { groupIds: [group.id] })];
    const start = (who: { headers: Record<string, string> }) =>
      t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: who.headers, payload: { durationSeconds: 600 } });
    const held = ZSession.parse((await start(alice)).json());
    expect((await start(bob)).statusCode).toBe(409);
    // Past alice's end, before the clock has closed her session (its timer runs on real time).
    clock.advance(600_001);
    const taken = await start(bob);
    expect(taken.statusCode).toBe(201);
    expect(await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: held.id } })).toMatchObject({ status: "expired", endedAt: new Date(held.expiresAt!) });
    const expired = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: held.id, action: "session.expired" } });
    expect(expired).toMatchObject({ actorId: null, sourceIp: null });
    expect(await expireDueSessions(t.app.ctx)).toBe(0);
  });

  it("starts a session and answers 409 naming the holder on an exclusive service", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { exclusive: true, groupIds: [group.id] });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const bob = await createUser(t.app, { groupIds: [group.id] });

    const started = await t.app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: alice.headers,
      payload: { durationSeconds: 600, reason: "customer call" },
    });
    expect(started.statusCode).toBe(201);
    const session = ZSession.parse(started.json());
    expect(session.status).toBe("active");
    expect(new Date(session.expiresAt!).getTime() - new Date(session.startedAt!).getTime()).toBe(600_000);

    const conflict = await t.app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: bob.headers,
      payload: { durationSeconds: 600 },
    });
    expect(conflict.statusCode).toBe(409);
    const body = ZErrorBody.parse(conflict.json());
    expect(body.error.message).toContain(alice.username);
    expect(ZConflictDetails.parse(body.error.details).holder.username).toBe(alice.username);
    expect(await t.app.ctx.db.accessSession.count()).toBe(1);
  });

  it("expires a session on time and after a restart", async () => {
    const service = await createService(t.app, { exclusive: true });
    const admin = await createUser(t.app, { role: "admin" });
    const res = await t.app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: admin.headers,
      payload: { durationSeconds: 60 },
    });
    const { id } = ZSession.parse(res.json());

    await t.app.close();
    clock.advance(61_000);
    await t.restart();
    await expect.poll(async () => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id } })).status, { timeout: 2000 }).toBe("expired");
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { sessionId: id }, orderBy: { seq: "asc" } });
    expect(events.map((e) => e.action)).toEqual(["session.started", "session.expired"]);
  });

  it("expires each due session once when instances race, ended at its expiry", async () => {
    const admin = await createUser(t.app, { role: "admin" });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const service = await createService(t.app);
      const res = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: admin.headers, payload: { durationSeconds: 60 + 10 * i } });
      ids.push(ZSession.parse(res.json()).id);
    }
    // Another instance on the same database, as behind a load balancer.
    const opened = await openDatabase(t.url, { poolSize: 4 });
    const other = Fastify({ logger: false });
    await other.register(fp(serviceApp), { config: t.config, database: opened, secret: t.config.secret ?? "", now: clock.now });
    other.addHook("onClose", async () => opened.close());
    onTestFinished(() => other.close());
    await other.ready();
    clock.advance(85_000);
    const expired = await Promise.all([expireDueSessions(other.ctx), expireDueSessions(t.app.ctx), expireDueSessions(other.ctx)]);
    // Each instance's own clock may have taken some first; none is expired twice.
    expect(expired.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3);
    const rows = await t.app.ctx.db.accessSession.findMany({ where: { id: { in: ids } }, orderBy: { durationSeconds: "asc" } });
    expect(rows.map((r) => r.status)).toEqual(["expired", "expired", "expired", "active", "active", "active"]);
    for (const row of rows.slice(0, 3)) expect(row.endedAt).toEqual(row.expiresAt);
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { action: "session.expired" } });
    expect(events.map((e) => e.sessionId).sort()).toEqual(ids.slice(0, 3).sort());
    expect((await verifyAuditChain(t.app.ctx)).firstBreak).toBeUndefined();
  });
});
