import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZConflictDetails, ZErrorBody, ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock } from "../../../test/app";
import { providers } from "../../../test/databases";
import { watchEvents, type EventLog } from "../../../test/events";
import { expireDueSessions, expireStaleRequests } from "./sessions.service";
import { nextDue } from "./session-clock.sql";

describe.each(providers)("session approvals on %s", { timeout: 90_000 }, (provider) => {
  let t: TestApp;
  let clock: TestClock;
  let changes: EventLog;
  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
    changes = watchEvents(t.app);
  });
  afterEach(async () => t.close());

  const request = (serviceId: string, headers: Record<string, string>, payload: object = {}) =>
    t.app.inject({ method: "POST", url: `/api/services/${serviceId}/sessions`, headers, payload });
  const decide = (id: string, verb: "approve" | "deny", headers: Record<string, string>) =>
    t.app.inject({ method: "POST", url: `/api/sessions/${id}/${verb}`, headers });
  const actions = async (sessionId: string) =>
    (await t.app.ctx.db.auditEvent.findMany({ where: { sessionId }, orderBy: { seq: "asc" } })).map((e) => e.action);
  const sessionVerbs = (id: string) => changes.sessionVerbs(id);

  it("starts the clock at approval, not at the request", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { requiresApproval: true, exclusive: true, groupIds: [group.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const res = await request(service.id, alice.headers, { durationSeconds: 600, reason: "maintenance" });
    expect(res.statusCode).toBe(201);
    const pending = ZSession.parse(res.json());
    expect(pending.status).toBe("pending");
    expect(pending.startedAt).toBeUndefined();
    expect(pending.expiresAt).toBeUndefined();

    const listed = ZSession.array().parse((await t.app.inject({ url: "/api/sessions?active=true", headers: admin.headers })).json());
    expect(listed.map((s) => [s.id, s.status])).toEqual([[pending.id, "pending"]]);

    // Members may not decide, not even on their own request.
    expect((await decide(pending.id, "approve", alice.headers)).statusCode).toBe(403);

    clock.advance(300_000);
    const beforeApproval = clock.now().getTime();
    const approved = await decide(pending.id, "approve", admin.headers);
    const afterApproval = clock.now().getTime();
    expect(approved.statusCode).toBe(200);
    const active = ZSession.parse(approved.json());
    expect(active.status).toBe("active");
    const startedAt = new Date(active.startedAt!).getTime();
    expect(startedAt).toBeGreaterThanOrEqual(beforeApproval);
    expect(startedAt).toBeLessThanOrEqual(afterApproval);
    expect(new Date(active.expiresAt!).getTime() - startedAt).toBe(600_000);
    expect(startedAt - new Date(active.requestedAt).getTime()).toBeGreaterThanOrEqual(300_000);

    // A decided request cannot be decided again.
    expect((await decide(pending.id, "deny", admin.headers)).statusCode).toBe(409);

    expect(await actions(pending.id)).toEqual(["session.requested", "session.approved"]);
    const approval = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: pending.id, action: "session.approved" } });
    expect(approval.actorId).toBe(admin.id);
    await t.app.changes.settled();
    expect(sessionVerbs(pending.id)).toEqual(["requested", "approved"]);
  });

  it("denies a request: nothing starts, the denial is audited and announced", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { requiresApproval: true, groupIds: [group.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const pending = ZSession.parse((await request(service.id, alice.headers)).json());
    const denied = await decide(pending.id, "deny", admin.headers);
    expect(denied.statusCode).toBe(200);
    const body = ZSession.parse(denied.json());
    expect(body.status).toBe("denied");
    expect(body.startedAt).toBeUndefined();
    expect(body.endedAt).toBeDefined();
    expect((await decide(pending.id, "approve", admin.headers)).statusCode).toBe(409);
    expect(await actions(pending.id)).toEqual(["session.requested", "session.denied"]);
    await t.app.changes.settled();
    expect(sessionVerbs(pending.id)).toEqual(["requested", "denied"]);
    // The denied request no longer blocks a new one.
    expect((await request(service.id, alice.headers)).statusCode).toBe(201);
  });

  it("expires a request whose whole window passed undecided, once, and leaves one without a window pending", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { requiresApproval: true, groupIds: [group.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const bob = await createUser(t.app, { groupIds: [group.id] });
    const carol = await createUser(t.app, { groupIds: [group.id] });
    const at = (minutes: number) => new Date(clock.now().getTime() + minutes * 60_000).toISOString();
    const ask = async (who: { headers: Record<string, string> }, payload: object) => {
      const res = await request(service.id, who.headers, payload);
      expect(res.statusCode, res.body).toBe(201);
      return ZSession.parse(res.json());
    };
    // Ten minutes from in ten minutes; one whose window runs on; one to start whenever approved.
    const stale = await ask(alice, { durationSeconds: 600, startsAt: at(10) });
    const later = await ask(bob, { durationSeconds: 3600, startsAt: at(15) });
    const now = await ask(carol, { durationSeconds: 600 });
    const windowEnd = new Date(stale.startsAt!).getTime() + 600_000;
    // The clock wakes for the earliest window's end (no other session falls due).
    expect((await nextDue(t.app.ctx))?.getTime()).toBe(windowEnd);

    clock.advance(21 * 60_000);
    // Two instances' clocks at once: one of them records it.
    await Promise.all([expireStaleRequests(t.app.ctx), expireStaleRequests(t.app.ctx)]);
    t.app.sessionClock.poke();
    await t.app.sessionClock.settled();
    const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: stale.id } });
    expect(row.status).toBe("expired");
    expect(row.endedAt?.getTime()).toBe(windowEnd);
    expect(row.startedAt).toBeNull();
    expect(row.endedById).toBeNull();
    for (const open of [later, now]) expect((await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: open.id } })).status).toBe("pending");

    expect(await actions(stale.id)).toEqual(["session.requested", "session.expired"]);
    const expired = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: stale.id, action: "session.expired" } });
    expect(expired.actorId).toBeNull();
    expect(JSON.parse(expired.details ?? "{}")).toMatchObject({ previousStatus: "pending" });
    await t.app.changes.settled();
    expect(sessionVerbs(stale.id)).toEqual(["requested", "expired"]);
    const announced = changes.ofType("session.expired").find((e) => e.session.id === stale.id);
    expect(announced?.session.status).toBe("expired");
    expect(announced?.session.userId).toBe(alice.id);

    // Off the approval list; deciding it now is refused for what it is.
    const listed = ZSession.array().parse((await t.app.inject({ url: "/api/sessions?active=true", headers: admin.headers })).json());
    expect(listed.map((s) => s.id).sort()).toEqual([later.id, now.id].sort());
    const refused = await decide(stale.id, "approve", admin.headers);
    expect(refused.statusCode).toBe(409);
    expect(ZErrorBody.parse(refused.json()).error.message).toContain("expired");
  });

  it("answers 409 naming the holder when an exclusive service is taken at approval time", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { requiresApproval: true, exclusive: true, groupIds: [group.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const bob = await createUser(t.app, { groupIds: [group.id] });
    const first = ZSession.parse((await request(service.id, alice.headers)).json());
    const second = ZSession.parse((await request(service.id, bob.headers)).json());
    expect(second.status).toBe("pending");
    expect((await decide(first.id, "approve", admin.headers)).statusCode).toBe(200);

    const conflict = await decide(second.id, "approve", admin.headers);
    expect(conflict.statusCode).toBe(409);
    const error = ZErrorBody.parse(conflict.json()).error;
    expect(error.message).toContain(alice.username);
    expect(ZConflictDetails.parse(error.details).holder.username).toBe(alice.username);
    const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: second.id } });
    expect(row.status).toBe("pending");
    expect(await actions(second.id)).toEqual(["session.requested"]);

    // Once the holder is done the waiting request can be approved.
    expect((await t.app.inject({ method: "DELETE", url: `/api/sessions/${first.id}`, headers: alice.headers })).statusCode).toBe(200);
    expect(ZSession.parse((await decide(second.id, "approve", admin.headers)).json()).status).toBe("active");
  });

  it("approves the next request the moment the holder's time runs out, before the clock has closed it", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { requiresApproval: true, exclusive: true, groupIds: [group.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const bob = await createUser(t.app, { groupIds: [group.id] });
    const first = ZSession.parse((await request(service.id, alice.headers, { durationSeconds: 600 })).json());
    const held = ZSession.parse((await decide(first.id, "approve", admin.headers)).json());
    const second = ZSession.parse((await request(service.id, bob.headers)).json());
    expect((await decide(second.id, "approve", admin.headers)).statusCode).toBe(409);

    // Past alice's end; the clock's timer runs on real time and has not come yet.
    clock.advance(600_001);
    const approved = await decide(second.id, "approve", admin.headers);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(ZSession.parse(approved.json()).status).toBe("active");
    const closed = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: first.id } });
    expect(closed).toMatchObject({ status: "expired", endedAt: new Date(held.expiresAt!) });
    // Closed as the clock would have: the system's expiry, recorded before the approval.
    const expired = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: first.id, action: "session.expired" } });
    expect(expired).toMatchObject({ actorId: null, sourceIp: null });
    const approval = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: second.id, action: "session.approved" } });
    expect(approval.seq).toBe(expired.seq + 1);
    expect(await expireDueSessions(t.app.ctx)).toBe(0);
    await t.app.changes.settled();
    expect(sessionVerbs(first.id)).toEqual(["requested", "approved", "expired"]);
  });

  it("refuses to approve a request whose window, moved to the approval, now clashes with the requester's own booking", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { requiresApproval: true, maxDurationSeconds: 3600, groupIds: [group.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    // A booking from 30 to 60 minutes from now, and a request for 20 minutes now: apart when asked.
    const startsAt = new Date(clock.now().getTime() + 30 * 60_000).toISOString();
    const booked = await request(service.id, alice.headers, { durationSeconds: 1800, startsAt });
    expect(booked.statusCode, booked.body).toBe(201);
    const booking = ZSession.parse(booked.json());
    const now = await request(service.id, alice.headers, { durationSeconds: 1200 });
    expect(now.statusCode, now.body).toBe(201);
    const asked = ZSession.parse(now.json());
    const approved = await decide(booking.id, "approve", admin.headers);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(ZSession.parse(approved.json()).status).toBe("scheduled");

    // A quarter of an hour later the request would run from 15 to 35 minutes: into the booking.
    clock.advance(15 * 60_000);
    const refused = await decide(asked.id, "approve", admin.headers);
    expect(refused.statusCode).toBe(409);
    const body = ZErrorBody.parse(refused.json());
    expect(body.error.message).toBe(`${alice.username} already has an open (scheduled) session on this service`);
    expect(body.error.details).toEqual({ sessionId: booking.id });
    const still = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: asked.id } });
    expect(still.status).toBe("pending");
    expect(await actions(asked.id)).toEqual(["session.requested"]);

    // The admin can still deny it.
    expect(ZSession.parse((await decide(asked.id, "deny", admin.headers)).json()).status).toBe("denied");
  });

  it("answers a decision already made from the board, as the transaction would, and extends nothing that is not active", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { requiresApproval: true, groupIds: [group.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const first = ZSession.parse((await request(service.id, alice.headers)).json());
    const refusal = (res: { statusCode: number; json: () => unknown }) => ({ status: res.statusCode, ...ZErrorBody.parse(res.json()).error });
    const extend = (id: string, payload: string) =>
      t.app.inject({ method: "POST", url: `/api/sessions/${id}/extend`, headers: { ...alice.headers, "content-type": "application/json" }, payload });

    // Cold (no board in memory): the transaction's answers, to compare with.
    const cold = [vi.spyOn(t.app.board, "peek").mockReturnValue(undefined), vi.spyOn(t.app.board, "peekFor").mockReturnValue(undefined)];
    const coldExtend = refusal(await extend(first.id, '{"durationSeconds": 60}'));
    expect(coldExtend).toEqual({ status: 409, code: "conflict", message: "only an active session can be extended; this one is pending" });
    expect((await decide(first.id, "approve", admin.headers)).statusCode).toBe(200);
    const coldTwice = refusal(await decide(first.id, "approve", admin.headers));
    expect(coldTwice).toEqual({ status: 409, code: "conflict", message: "the session is active, not pending" });
    expect((await t.app.inject({ method: "DELETE", url: `/api/sessions/${first.id}`, headers: alice.headers })).statusCode).toBe(200);
    const coldClosed = refusal(await decide(first.id, "deny", admin.headers));
    expect(coldClosed).toEqual({ status: 409, code: "conflict", message: "the session is ended, not pending" });

    for (const mock of cold) mock.mockRestore();

    const second = ZSession.parse((await request(service.id, alice.headers)).json());
    for (const who of [alice, admin]) await t.app.inject({ url: "/api/services", headers: who.headers });
    const transactions = vi.spyOn(t.app.ctx.db, "$transaction");
    const sqlTransactions = vi.spyOn(t.app.ctx.sql, "transaction");
    // Before the body: what the body says does not matter to a session that is not active.
    expect(refusal(await extend(second.id, '{"durationSeconds": "soon"}'))).toEqual(coldExtend);
    expect((await decide(second.id, "approve", admin.headers)).statusCode).toBe(200);
    transactions.mockClear();
    expect(refusal(await decide(second.id, "approve", admin.headers))).toEqual(coldTwice);
    expect(refusal(await decide(second.id, "deny", admin.headers))).toEqual({ ...coldTwice });
    expect((await t.app.inject({ method: "DELETE", url: `/api/sessions/${second.id}`, headers: alice.headers })).statusCode).toBe(200);
    sqlTransactions.mockClear();
    // Remembered closed at its commit.
    expect(refusal(await decide(second.id, "deny", admin.headers))).toEqual(coldClosed);
    expect(transactions).not.toHaveBeenCalled();
    expect(sqlTransactions).not.toHaveBeenCalled();
    // An unknown id goes to the transaction once; its 404 is the same.
    expect(refusal(await decide("no-such-session", "approve", admin.headers))).toEqual({ status: 404, code: "not_found", message: "session not found" });
  });
});
