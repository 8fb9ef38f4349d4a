import { afterEach, describe, expect, it } from "vitest";
import { ZConflictDetails, ZErrorBody, ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { watchEvents, type EventLog } from "../../../test/events";

describe.each(providers)("waitlists on %s", { timeout: 90_000 }, (provider) => {
  let t: TestApp | undefined;
  let clock: TestClock;
  let changes: EventLog;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(offerSeconds: number) {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_WAITLIST_OFFER_SECONDS: String(offerSeconds) } });
    changes = watchEvents(t.app);
    const group = await createGroup(t.app);
    const service = await createService(t.app, { exclusive: true, groupIds: [group.id] });
    const [alice, bob, carol, dave] = await Promise.all([1, 2, 3, 4].map(() => createUser(t!.app, { groupIds: [group.id] })));
    return { app: t.app, group, service, alice: alice!, bob: bob!, carol: carol!, dave: dave! };
  }

  const call = (method: "GET" | "POST" | "DELETE", url: string, user: TestUser, payload?: object) =>
    t!.app.inject({ method, url, headers: user.headers, ...(payload ? { payload } : {}) });
  const startNow = (serviceId: string, user: TestUser, durationSeconds = 600) =>
    call("POST", `/api/services/${serviceId}/sessions`, user, { durationSeconds });
  const join = (serviceId: string, user: TestUser, payload: object = { durationSeconds: 900 }) =>
    call("POST", `/api/services/${serviceId}/waitlist`, user, payload);
  const line = async (serviceId: string, user: TestUser) =>
    ZSession.array()
      .parse((await call("GET", `/api/services/${serviceId}/waitlist`, user)).json())
      .map((s) => [s.userId, s.status]);
  const statusOf = async (id: string) => (await t!.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id } })).status;
  const actions = async (sessionId: string) =>
    (await t!.app.ctx.db.auditEvent.findMany({ where: { sessionId }, orderBy: { seq: "asc" } })).map((e) => e.action);
  const verbs = (id: string) => changes.sessionVerbs(id);
  /** After moving the test clock, the session clock is asked to look again (as a real change would). */
  const wake = (_serviceId: string) => t!.app.sessionClock.poke();

  it("offers the service to the next in line when the holder ends; accepting starts the clock", async () => {
    const { service, alice, bob, carol, dave } = await start(120);
    const held = ZSession.parse((await startNow(service.id, alice)).json());
    const bobRes = await join(service.id, bob);
    expect(bobRes.statusCode).toBe(201);
    const bobEntry = ZSession.parse(bobRes.json());
    expect(bobEntry.status).toBe("waiting");
    expect(bobEntry.durationSeconds).toBe(900);
    const carolEntry = ZSession.parse((await join(service.id, carol)).json());
    expect(await line(service.id, dave)).toEqual([
      [bob.id, "waiting"],
      [carol.id, "waiting"],
    ]);
    expect((await join(service.id, bob)).statusCode).toBe(409);
    expect((await join(service.id, alice)).statusCode).toBe(409);

    expect((await call("DELETE", `/api/sessions/${held.id}`, alice)).statusCode).toBe(200);
    await expect.poll(() => statusOf(bobEntry.id), { timeout: 5000, interval: 50 }).toBe("offered");
    const offered = await t!.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: bobEntry.id } });
    expect(offered.offerExpiresAt!.getTime() - clock.now().getTime()).toBeGreaterThan(100_000);
    await expect.poll(() => verbs(bobEntry.id)).toEqual(["waitlisted", "offered"]);
    expect(await line(service.id, dave)).toEqual([
      [bob.id, "offered"],
      [carol.id, "waiting"],
    ]);

    // Nobody jumps the line while the offer stands.
    const jump = await startNow(service.id, dave);
    expect(jump.statusCode).toBe(409);
    expect(ZConflictDetails.parse(ZErrorBody.parse(jump.json()).error.details).holder.username).toBe(bob.username);
    expect((await call("POST", `/api/sessions/${bobEntry.id}/accept`, carol)).statusCode).toBe(403);
    expect((await call("POST", `/api/sessions/${carolEntry.id}/accept`, carol)).statusCode).toBe(409);

    clock.advance(30_000);
    const beforeAccept = clock.now().getTime();
    const accepted = await call("POST", `/api/sessions/${bobEntry.id}/accept`, bob);
    const afterAccept = clock.now().getTime();
    expect(accepted.statusCode).toBe(200);
    const active = ZSession.parse(accepted.json());
    expect(active.status).toBe("active");
    expect(new Date(active.startedAt!).getTime()).toBeGreaterThanOrEqual(beforeAccept);
    expect(new Date(active.startedAt!).getTime()).toBeLessThanOrEqual(afterAccept);
    expect(new Date(active.expiresAt!).getTime() - new Date(active.startedAt!).getTime()).toBe(900_000);
    expect(await line(service.id, dave)).toEqual([[carol.id, "waiting"]]);
    expect(await actions(bobEntry.id)).toEqual(["session.waitlisted", "session.offered", "session.started"]);
    await t!.app.changes.settled();
    expect(verbs(bobEntry.id)).toEqual(["waitlisted", "offered", "started"]);
  });

  it("judges an accepted offer's window again against the person's own booking", async () => {
    const { service, alice, bob } = await start(120);
    const held = ZSession.parse((await startNow(service.id, alice)).json());
    // Bob books 20 to 30 minutes from now, after Alice, and waits in line for 15 minutes now.
    const startsAt = new Date(clock.now().getTime() + 20 * 60_000).toISOString();
    const booked = await call("POST", `/api/services/${service.id}/sessions`, bob, { durationSeconds: 600, startsAt });
    expect(booked.statusCode, booked.body).toBe(201);
    const booking = ZSession.parse(booked.json());
    const entry = ZSession.parse((await join(service.id, bob)).json());
    expect((await call("DELETE", `/api/sessions/${held.id}`, alice)).statusCode).toBe(200);
    await expect.poll(() => statusOf(entry.id), { timeout: 5000, interval: 50 }).toBe("offered");

    // Taking it for 25 minutes would run into his own booking.
    const refused = await call("POST", `/api/sessions/${entry.id}/accept`, bob, { durationSeconds: 1500 });
    expect(refused.statusCode).toBe(409);
    const body = ZErrorBody.parse(refused.json());
    expect(body.error.message).toBe("you already have an open (scheduled) session on this service");
    expect(body.error.details).toEqual({ sessionId: booking.id });
    expect(await statusOf(entry.id)).toBe("offered");
    const accepted = await call("POST", `/api/sessions/${entry.id}/accept`, bob);
    expect(accepted.statusCode, accepted.body).toBe(200);
  });

  it("offers on expiry and passes a lapsed offer to the next in line", async () => {
    const { service, alice, bob, carol } = await start(1);
    const held = ZSession.parse((await startNow(service.id, alice, 60)).json());
    const bobEntry = ZSession.parse((await join(service.id, bob)).json());
    const carolEntry = ZSession.parse((await join(service.id, carol)).json());

    clock.advance(61_000);
    wake(service.id);
    await expect.poll(() => statusOf(held.id), { timeout: 5000, interval: 50 }).toBe("expired");
    // The offer lasts one real second on this clock; then it passes to carol by itself.
    await expect.poll(() => statusOf(carolEntry.id), { timeout: 8000, interval: 50 }).toBe("offered");
    expect(await statusOf(bobEntry.id)).toBe("expired");
    const lapsed = await call("POST", `/api/sessions/${bobEntry.id}/accept`, bob);
    expect(lapsed.statusCode).toBe(409);

    expect(await actions(held.id)).toEqual(["session.started", "session.expired"]);
    expect(await actions(bobEntry.id)).toEqual(["session.waitlisted", "session.offered", "session.offer_expired"]);
    // Carol's own one-second offer may lapse too by now; what matters is that she was offered.
    expect((await actions(carolEntry.id)).slice(0, 2)).toEqual(["session.waitlisted", "session.offered"]);
    await expect.poll(() => verbs(bobEntry.id)).toEqual(["waitlisted", "offered", "offer_expired"]);
    expect(verbs(carolEntry.id)).toContain("offered");
    const bobRow = await t!.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: bobEntry.id } });
    expect(bobRow.startedAt).toBeNull();
  });

  it("takes a disabled user out of the line, and passes their open offer to the next", async () => {
    const { app, service, alice, bob, carol } = await start(120);
    const admin = await createUser(app, { role: "admin" });
    const held = ZSession.parse((await startNow(service.id, alice)).json());
    const bobEntry = ZSession.parse((await join(service.id, bob)).json());
    const carolEntry = ZSession.parse((await join(service.id, carol)).json());
    expect((await call("DELETE", `/api/sessions/${held.id}`, alice)).statusCode).toBe(200);
    await expect.poll(() => statusOf(bobEntry.id), { timeout: 5000, interval: 50 }).toBe("offered");

    const disabled = await app.inject({ method: "PATCH", url: `/api/users/${bob.id}`, headers: admin.headers, payload: { disabled: true } });
    expect(disabled.statusCode).toBe(200);
    expect(await statusOf(bobEntry.id)).toBe("ended");
    expect(await actions(bobEntry.id)).toContain("session.revoked");
    await expect.poll(() => statusOf(carolEntry.id), { timeout: 5000, interval: 50 }).toBe("offered");
  });

  it("revokes a head of the line who lost the service behind revocation's back, and offers it to the next", async () => {
    const { app, group, service, alice, bob, carol } = await start(120);
    const held = ZSession.parse((await startNow(service.id, alice)).json());
    const bobEntry = ZSession.parse((await join(service.id, bob)).json());
    const carolEntry = ZSession.parse((await join(service.id, carol)).json());
    // As a database restore or a bug elsewhere might: the membership gone, the place in line kept.
    await app.ctx.db.groupMember.delete({ where: { groupId_userId: { groupId: group.id, userId: bob.id } } });
    const ended = clock.now();
    expect((await call("DELETE", `/api/sessions/${held.id}`, alice)).statusCode).toBe(200);

    await expect.poll(() => statusOf(carolEntry.id), { timeout: 5000, interval: 50 }).toBe("offered");
    expect(await statusOf(bobEntry.id)).toBe("ended");
    expect(await actions(bobEntry.id)).toEqual(["session.waitlisted", "session.revoked"]);
    const revoked = await app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: bobEntry.id, action: "session.revoked" } });
    expect(JSON.parse(revoked.details ?? "{}")).toMatchObject({ cause: "no_longer_visible", previousStatus: "waiting" });
    const carolRow = await app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: carolEntry.id } });
    // Offered for the configured 120 s from when it was made.
    expect(carolRow.offerExpiresAt!.getTime()).toBeGreaterThanOrEqual(ended.getTime() + 120_000);
    expect(carolRow.offerExpiresAt!.getTime()).toBeLessThanOrEqual(clock.now().getTime() + 120_000);
  });

  it("makes no offer a booking would leave no time to take, and offers the service once the booking is over", async () => {
    const { service, alice, bob, carol } = await start(120);
    const at = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
    const tick = async () => {
      t!.app.sessionClock.poke();
      await t!.app.sessionClock.settled();
    };
    ZSession.parse((await startNow(service.id, alice)).json());
    // Bob's window opens 30 s after Alice's runs out: too soon for an offer and the shortest session.
    const booked = await call("POST", `/api/services/${service.id}/sessions`, bob, { durationSeconds: 600, startsAt: at(630_000) });
    expect(booked.statusCode, booked.body).toBe(201);
    const entry = ZSession.parse((await join(service.id, carol)).json());
    clock.advance(601_000);
    await tick();
    expect(await statusOf(entry.id)).toBe("waiting");
    clock.advance(30_000);
    await tick();
    expect(await statusOf(ZSession.parse(booked.json()).id)).toBe("active");
    expect(await statusOf(entry.id)).toBe("waiting");
    clock.advance(600_000);
    await tick();
    expect(await statusOf(entry.id)).toBe("offered");
    expect((await call("POST", `/api/sessions/${entry.id}/accept`, carol)).statusCode).toBe(200);
  });

  it("refuses a place in line beyond the bookings one may hold on the service", async () => {
    const { service, alice, bob } = await start(120);
    ZSession.parse((await startNow(service.id, alice)).json());
    for (const day of [1, 2, 3]) {
      const startsAt = new Date(clock.now().getTime() + day * 86_400_000).toISOString();
      const res = await call("POST", `/api/services/${service.id}/sessions`, bob, { durationSeconds: 600, startsAt });
      expect(res.statusCode, res.body).toBe(201);
    }
    const joined = await join(service.id, bob, { durationSeconds: 600 });
    expect(joined.statusCode, joined.body).toBe(409);
    expect(ZErrorBody.parse(joined.json()).error.message).toMatch(/^you already have 3 open sessions or bookings on this service; at most 3/);
  });

  it("judges a place in line beside the person's bookings at the offer, not at joining, when its window is unknown", async () => {
    const { service, alice, bob } = await start(120);
    ZSession.parse((await startNow(service.id, alice)).json());
    // Bob's booking opens right after a place in line would end if it began now: no window yet to join.
    const startsAt = new Date(clock.now().getTime() + 15 * 60_000 + 30_000).toISOString();
    const booked = await call("POST", `/api/services/${service.id}/sessions`, bob, { durationSeconds: 7200, startsAt });
    expect(booked.statusCode, booked.body).toBe(201);
    const joined = await join(service.id, bob, { durationSeconds: 900 });
    expect(joined.statusCode, joined.body).toBe(201);
  });

  it("offers the service to everyone in line, in the change itself, when it is made shared", async () => {
    const { app, service, alice, bob, carol } = await start(3);
    const admin = await createUser(app, { role: "admin" });
    const held = ZSession.parse((await startNow(service.id, alice)).json());
    const bobEntry = ZSession.parse((await join(service.id, bob)).json());
    const carolEntry = ZSession.parse((await join(service.id, carol)).json());

    const before = clock.now().getTime();
    const patched = await app.inject({ method: "PATCH", url: `/api/services/${service.id}`, headers: admin.headers, payload: { exclusive: false } });
    expect(patched.statusCode, patched.body).toBe(200);
    // Made by the change, not by a later tick: offered the moment the update answers.
    for (const entry of [bobEntry, carolEntry]) {
      const row = await app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: entry.id } });
      expect(row.status).toBe("offered");
      expect(row.offerExpiresAt!.getTime()).toBeGreaterThanOrEqual(before + 3000);
      expect(row.offerExpiresAt!.getTime()).toBeLessThanOrEqual(clock.now().getTime() + 3000);
      expect(await actions(entry.id)).toEqual(["session.waitlisted", "session.offered"]);
    }
    const update = await app.ctx.db.auditEvent.findFirstOrThrow({ where: { action: "service.updated", target: { contains: service.id } }, orderBy: { seq: "desc" } });
    const offers = await app.ctx.db.auditEvent.findMany({ where: { action: "session.offered", serviceId: service.id } });
    // In the update's change: the offers' rows sit in the chain just before its own.
    expect(offers.map((o) => o.seq).sort((a, b) => a - b)).toEqual([update.seq - 2, update.seq - 1]);
    await expect.poll(() => verbs(bobEntry.id)).toEqual(["waitlisted", "offered"]);
    expect(verbs(carolEntry.id)).toEqual(["waitlisted", "offered"]);

    // Shared now: Bob takes it beside Alice.
    const accepted = await call("POST", `/api/sessions/${bobEntry.id}/accept`, bob);
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(ZSession.parse(accepted.json()).status).toBe("active");
    expect(await statusOf(held.id)).toBe("active");
    // Carol's offer lapses by itself: the clock heard of its deadline.
    await expect.poll(() => statusOf(carolEntry.id), { timeout: 10_000, interval: 50 }).toBe("expired");
    expect(await actions(carolEntry.id)).toEqual(["session.waitlisted", "session.offered", "session.offer_expired"]);
  });

  it("lets people leave the line, and refuses lines where none belong", async () => {
    const { app, group, service, alice, bob, carol, dave } = await start(120);
    const held = ZSession.parse((await startNow(service.id, alice)).json());
    const bobEntry = ZSession.parse((await join(service.id, bob)).json());
    const carolEntry = ZSession.parse((await join(service.id, carol)).json());

    const left = await call("DELETE", `/api/services/${service.id}/waitlist`, bob);
    expect(left.statusCode).toBe(200);
    expect(ZSession.parse(left.json()).status).toBe("ended");
    expect((await call("DELETE", `/api/services/${service.id}/waitlist`, bob)).statusCode).toBe(404);
    expect(await line(service.id, dave)).toEqual([[carol.id, "waiting"]]);
    expect(await actions(bobEntry.id)).toEqual(["session.waitlisted", "session.left_waitlist"]);
    await t!.app.changes.settled();
    expect(verbs(bobEntry.id)).toEqual(["waitlisted", "left_waitlist"]);

    // The one who left is skipped; turning an offer down passes it on.
    expect((await call("DELETE", `/api/sessions/${held.id}`, alice)).statusCode).toBe(200);
    await expect.poll(() => statusOf(carolEntry.id), { timeout: 5000, interval: 50 }).toBe("offered");
    expect(await statusOf(bobEntry.id)).toBe("ended");
    expect((await call("DELETE", `/api/services/${service.id}/waitlist`, carol)).statusCode).toBe(200);

    // Joining the line of a free service is an immediate offer.
    const daveEntry = ZSession.parse((await join(service.id, dave, {})).json());
    expect(daveEntry.durationSeconds).toBe(service.defaultDurationSeconds);
    await expect.poll(() => statusOf(daveEntry.id), { timeout: 5000, interval: 50 }).toBe("offered");

    const shared = await createService(app, { exclusive: false, groupIds: [group.id] });
    const approval = await createService(app, { exclusive: true, requiresApproval: true, groupIds: [group.id] });
    expect((await join(shared.id, bob)).statusCode).toBe(409);
    expect((await join(approval.id, bob)).statusCode).toBe(409);
    const tooLong = await join(service.id, bob, { durationSeconds: 999_999 });
    expect(tooLong.statusCode).toBe(400);
    expect(ZErrorBody.parse(tooLong.json()).error.message).toContain("durationSeconds");
    const hidden = await createService(app, { exclusive: true });
    expect((await join(hidden.id, bob)).statusCode).toBe(404);
    expect(await app.ctx.db.accessSession.count({ where: { userId: bob.id, status: "waiting" } })).toBe(0);
  });
});
