// Ends and extends the caller cannot make are refused before any transaction (sessions.preflight.ts),
// with the answers the transaction gives, and never from a memory that a later change made untrue.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZErrorBody, ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

vi.setConfig({ testTimeout: 120_000 });

describe.each(providers)("end and extend refusals before the transaction on %s", (provider) => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  let groupId: string;
  let serviceId: string;
  beforeEach(async () => {
    t = await buildTestApp(provider);
    groupId = (await createGroup(t.app)).id;
    alice = await createUser(t.app, { groupIds: [groupId] });
    bob = await createUser(t.app, { groupIds: [groupId] });
    admin = await createUser(t.app, { role: "admin" });
    serviceId = (await createService(t.app, { groupIds: [groupId], maxDurationSeconds: 3600 })).id;
  });
  afterEach(async () => t.close());

  const call = (who: TestUser, method: "POST" | "DELETE", url: string, payload?: string) =>
    t.app.inject({ method, url, headers: payload === undefined ? who.headers : { ...who.headers, "content-type": "application/json" }, payload });
  const start = async (who: TestUser) => ZSession.parse((await call(who, "POST", `/api/services/${serviceId}/sessions`, '{"durationSeconds": 600}')).json());
  const end = (who: TestUser, id: string) => call(who, "DELETE", `/api/sessions/${id}`);
  const extend = (who: TestUser, id: string, payload: string) => call(who, "POST", `/api/sessions/${id}/extend`, payload);
  const refusal = (res: Awaited<ReturnType<typeof call>>) => ({ status: res.statusCode, ...ZErrorBody.parse(res.json()).error });

  it("answers someone else's session, one already ended, an unknown one and an extension past the maximum without a transaction", async () => {
    const mine = await start(alice);
    await start(bob);
    // The members' and the admins' boards in memory, as on a server in use.
    for (const who of [alice, admin]) await t.app.inject({ url: "/api/services", headers: who.headers });
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    const reads = () => t.app.board.cache.sessionReads;

    const forbidden = { status: 403, code: "forbidden", message: "only the session's holder or an admin may change it" };
    expect(refusal(await end(bob, mine.id))).toMatchObject(forbidden);
    // Who may change it comes before the body, as the transaction's checks come before its own.
    expect(refusal(await extend(bob, mine.id, '{"durationSeconds": "soon"}'))).toMatchObject(forbidden);
    const tooLong = refusal(await extend(alice, mine.id, '{"durationSeconds": 3600}'));
    expect(tooLong).toMatchObject({ status: 400, code: "validation_failed", details: [{ field: "body.durationSeconds" }] });
    expect(tooLong.message).toMatch(/past the service's maximum of 3600; at most 3000 more seconds are allowed now/);
    expect(transactions).toHaveBeenCalledTimes(0);

    expect((await end(alice, mine.id)).statusCode).toBe(200);
    expect(transactions).toHaveBeenCalledTimes(1);
    // Remembered closed at its commit: no read, no transaction.
    expect(refusal(await end(alice, mine.id))).toMatchObject({ status: 409, code: "conflict", message: "the session is already ended" });
    expect(refusal(await extend(alice, mine.id, '{"durationSeconds": 60}'))).toMatchObject({
      status: 409,
      message: "only an active session can be extended; this one is ended",
    });
    expect(refusal(await end(bob, mine.id))).toMatchObject(forbidden);
    // An admin may end anyone's: the 409.
    expect(refusal(await end(admin, mine.id)).status).toBe(409);
    expect(reads()).toBe(0);

    // An unknown id: one read, then remembered.
    expect(refusal(await end(alice, "no-such-session"))).toMatchObject({ status: 404, message: "session not found" });
    expect(refusal(await extend(alice, "no-such-session", '{"durationSeconds": 60}')).status).toBe(404);
    expect(reads()).toBe(1);
    expect(transactions).toHaveBeenCalledTimes(1);
  });

  it("reads an ended session it did not see end, and judges who sees it by the board as it is now", async () => {
    const mine = await start(alice);
    expect((await end(alice, mine.id)).statusCode).toBe(200);
    // A change to a service drops the boards and what they remembered, as a restart would.
    const renamed = await t.app.inject({ method: "PATCH", url: `/api/services/${serviceId}`, headers: admin.headers, payload: { name: "renamed" } });
    expect(renamed.statusCode).toBe(200);
    await t.app.inject({ url: "/api/services", headers: alice.headers });
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    const reads = () => t.app.board.cache.sessionReads;
    expect(refusal(await end(alice, mine.id)).status).toBe(409);
    expect(refusal(await end(alice, mine.id)).status).toBe(409);
    expect(reads()).toBe(1);

    // The service moves to a group Alice is not in: her ended session is now one she cannot see.
    const other = await createGroup(t.app);
    const moved = await t.app.inject({ method: "PATCH", url: `/api/services/${serviceId}`, headers: admin.headers, payload: { groupIds: [other.id] } });
    expect(moved.statusCode).toBe(200);
    for (const who of [alice, admin]) await t.app.inject({ url: "/api/services", headers: who.headers });
    expect(refusal(await end(alice, mine.id))).toMatchObject({ status: 404, message: "session not found" });
    expect(refusal(await end(admin, mine.id)).status).toBe(409);
    // The move forgot what was remembered (a deleted user or service takes their sessions along).
    expect(reads()).toBe(2);
    expect(transactions).toHaveBeenCalledTimes(0);
  });

  it("still ends and extends what the caller may change, including a session the board has not shown yet", async () => {
    const mine = await start(alice);
    // Alice's board read before her second session exists: it arrives by its event, and a session
    // made behind the pipeline's back is found by the read and left to the transaction.
    await t.app.inject({ url: "/api/services", headers: alice.headers });
    const extended = await extend(alice, mine.id, '{"durationSeconds": 600}');
    expect(extended.statusCode).toBe(200);
    expect(ZSession.parse(extended.json()).durationSeconds).toBe(1200);
    const byAdmin = await end(admin, mine.id);
    expect(byAdmin.statusCode).toBe(200);
    expect(ZSession.parse(byAdmin.json())).toMatchObject({ status: "ended", endedBy: { id: admin.id } });

    const unseen = await t.app.ctx.db.accessSession.create({
      data: { serviceId, userId: alice.id, status: "active", durationSeconds: 600, startedAt: new Date(), expiresAt: new Date(Date.now() + 600_000) },
    });
    expect(refusal(await end(bob, unseen.id)).status).toBe(403);
    expect((await end(alice, unseen.id)).statusCode).toBe(200);
  });

  it("leaves an id that is not one at all to validation's 400, before any read", async () => {
    await t.app.inject({ url: "/api/services", headers: alice.headers });
    // A NUL byte: PostgreSQL refuses it in a query's text, so it must never reach a read.
    const res = await extend(alice, "%0Aa%00b", '{"durationSeconds": 60}');
    expect(refusal(res)).toMatchObject({ status: 400, code: "validation_failed", details: [{ field: "params.id" }] });
    expect(t.app.board.cache.sessionReads).toBe(0);
  });

  it("answers the older tools' end as the v1 route does", async () => {
    const mine = await start(alice);
    await t.app.inject({ url: "/api/services", headers: alice.headers });
    const older = (who: TestUser, id: string) => t.app.inject({ method: "POST", url: `/session/remove/${id}`, headers: who.headers });
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    for (const [who, id] of [[bob, mine.id], [alice, "no-such-session"]] as const) {
      const [a, b] = [await older(who, id), await end(who, id)];
      expect(a.statusCode).toBe(b.statusCode);
      expect(a.json()).toEqual(b.json());
    }
    expect(transactions).toHaveBeenCalledTimes(0);
    expect((await older(alice, mine.id)).statusCode).toBe(200);
    expect(refusal(await older(alice, mine.id))).toMatchObject({ status: 409, message: "the session is already ended" });
    expect(transactions).toHaveBeenCalledTimes(1);
  });
});
