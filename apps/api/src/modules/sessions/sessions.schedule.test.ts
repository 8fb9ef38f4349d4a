import Fastify, { type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZConflictDetails, ZErrorBody, ZSession, type TSession } from "@postern/contracts";
import { openDatabase } from "@postern/db";
import serviceApp from "../../app";
import { BODY_LIMIT } from "../../server";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock } from "../../../test/app";
import { providers } from "../../../test/databases";
import { watchEvents, type EventLog } from "../../../test/events";

describe.each(providers)("scheduled sessions on %s", { timeout: 90_000 }, (provider) => {
  let t: TestApp;
  let clock: TestClock;
  let changes: EventLog;
  let extra: FastifyInstance | undefined;
  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
    changes = watchEvents(t.app);
  });
  afterEach(async () => {
    await extra?.close();
    extra = undefined;
    await t.close();
  });

  /** Another API instance on the same database, as behind a load balancer. */
  async function secondInstance(): Promise<FastifyInstance> {
    const opened = await openDatabase(t.url, { poolSize: 4 });
    const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
    await app.register(fp(serviceApp), { config: t.config, database: opened, secret: t.config.secret ?? "", now: clock.now });
    app.addHook("onClose", async () => opened.close());
    await app.ready();
    return app;
  }

  async function setup(options: { requiresApproval?: boolean } = {}) {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { exclusive: true, groupIds: [group.id], ...options });
    const users = await Promise.all([1, 2, 3].map(() => createUser(t.app, { groupIds: [group.id] })));
    return { service, users };
  }

  const book = (serviceId: string, headers: Record<string, string>, startsAt: Date | string | null, durationSeconds = 600) =>
    t.app.inject({
      method: "POST",
      url: `/api/services/${serviceId}/sessions`,
      headers,
      payload: { durationSeconds, ...(startsAt ? { startsAt: typeof startsAt === "string" ? startsAt : startsAt.toISOString() } : {}) },
    });
  const at = (ms: number) => new Date(clock.now().getTime() + ms);
  const row = (id: string) => t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id } });
  const actions = async (sessionId: string) =>
    (await t.app.ctx.db.auditEvent.findMany({ where: { sessionId }, orderBy: { seq: "asc" } })).map((e) => e.action);

  it("books a window, lists it as scheduled and starts it on time", async () => {
    const { service, users } = await setup();
    const [alice] = users;
    const startsAt = at(3000);
    const res = await book(service.id, alice!.headers, startsAt);
    expect(res.statusCode).toBe(201);
    const booked = ZSession.parse(res.json());
    expect(booked.status).toBe("scheduled");
    expect(booked.startsAt).toBe(startsAt.toISOString());
    expect(new Date(booked.expiresAt!).getTime() - startsAt.getTime()).toBe(600_000);
    expect(booked.startedAt).toBeUndefined();

    const listed = ZSession.array().parse((await t.app.inject({ url: "/api/sessions?active=true", headers: alice!.headers })).json());
    expect(listed.find((s) => s.id === booked.id)?.status).toBe("scheduled");

    await expect.poll(async () => (await row(booked.id)).status, { timeout: 10_000, interval: 50 }).toBe("active");
    const started = await row(booked.id);
    const lateMs = started.startedAt!.getTime() - startsAt.getTime();
    expect(lateMs).toBeGreaterThanOrEqual(0);
    expect(lateMs).toBeLessThan(1000);
    expect(started.expiresAt!.getTime()).toBe(startsAt.getTime() + 600_000);
    expect(await actions(booked.id)).toEqual(["session.scheduled", "session.started"]);
    const startEvent = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: booked.id, action: "session.started" } });
    expect(JSON.parse(startEvent.details ?? "{}")).toMatchObject({ via: "schedule", startsAt: startsAt.toISOString() });
    await expect
      .poll(() => changes.sessionVerbs(booked.id))
      .toEqual(["scheduled", "started"]);
  });

  it("reports conflicts when a window is booked, not when it starts", async () => {
    const { service, users } = await setup();
    const [alice, bob, carol] = users;
    const holder = ZSession.parse((await book(service.id, bob!.headers, null, 600)).json());
    expect(holder.status).toBe("active");

    const clash = await book(service.id, alice!.headers, at(300_000));
    expect(clash.statusCode).toBe(409);
    const holderError = ZErrorBody.parse(clash.json()).error;
    expect(holderError.message).toContain(bob!.username);
    expect(ZConflictDetails.parse(holderError.details).sessionId).toBe(holder.id);

    const aliceWindow = ZSession.parse((await book(service.id, alice!.headers, at(700_000))).json());
    expect(aliceWindow.status).toBe("scheduled");

    const overlap = await book(service.id, carol!.headers, at(1_000_000));
    expect(overlap.statusCode).toBe(409);
    const overlapError = ZErrorBody.parse(overlap.json()).error;
    expect(overlapError.message).toContain(`booked by ${alice!.username}`);
    expect(ZConflictDetails.parse(overlapError.details).holder.username).toBe(alice!.username);

    // Back to back is no overlap.
    expect((await book(service.id, carol!.headers, aliceWindow.expiresAt!)).statusCode).toBe(201);

    // The holder cannot run into a booked window by extending.
    const extend = await t.app.inject({
      method: "POST",
      url: `/api/sessions/${holder.id}/extend`,
      headers: bob!.headers,
      payload: { durationSeconds: 200 },
    });
    expect(extend.statusCode).toBe(409);
    expect(ZErrorBody.parse(extend.json()).error.message).toContain(alice!.username);
    expect((await row(holder.id)).expiresAt!.toISOString()).toBe(holder.expiresAt);

    // Bad times name the field and write nothing.
    const before = await t.app.ctx.db.accessSession.count();
    for (const startsAt of [at(-1000).toISOString(), "tomorrow", "2026-13-01T00:00:00Z"]) {
      const bad = await book(service.id, carol!.headers, startsAt);
      expect(bad.statusCode).toBe(400);
      expect(ZErrorBody.parse(bad.json()).error.message).toContain("startsAt");
    }
    expect(await t.app.ctx.db.accessSession.count()).toBe(before);
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "session.scheduled" } })).toBe(2);
  });

  it("starts a booked session after a restart, approved first where approval is required", async () => {
    const { service, users } = await setup({ requiresApproval: true });
    const [alice] = users;
    const admin = await createUser(t.app, { role: "admin" });
    const startsAt = at(60_000);
    const requested = ZSession.parse((await book(service.id, alice!.headers, startsAt, 300)).json());
    expect(requested.status).toBe("pending");
    expect(requested.startsAt).toBe(startsAt.toISOString());

    const approved = await t.app.inject({ method: "POST", url: `/api/sessions/${requested.id}/approve`, headers: admin.headers });
    const scheduled = ZSession.parse(approved.json());
    expect(scheduled.status).toBe("scheduled");
    expect(new Date(scheduled.expiresAt!).getTime()).toBe(startsAt.getTime() + 300_000);

    await t.app.close();
    clock.advance(61_000);
    await t.restart();
    await expect.poll(async () => (await row(requested.id)).status, { timeout: 10_000, interval: 50 }).toBe("active");
    const started = await row(requested.id);
    expect(started.expiresAt!.getTime()).toBe(startsAt.getTime() + 300_000);
    expect(await actions(requested.id)).toEqual(["session.requested", "session.approved", "session.started"]);
  });

  it("records a window that closed while the API was down as expired, never started", async () => {
    const { service, users } = await setup();
    const startsAt = at(60_000);
    const booked = ZSession.parse((await book(service.id, users[0]!.headers, startsAt, 300)).json());
    await t.app.close();
    clock.advance(60_000 + 300_000 + 1000);
    await t.restart();
    changes = watchEvents(t.app);
    await expect.poll(async () => (await row(booked.id)).status, { timeout: 10_000, interval: 50 }).toBe("expired");
    const closed = await row(booked.id);
    expect(closed.startedAt).toBeNull();
    expect(closed.endedAt).toEqual(closed.expiresAt);
    expect(await actions(booked.id)).toEqual(["session.scheduled", "session.expired"]);
    const expired = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: booked.id, action: "session.expired" } });
    expect(JSON.parse(expired.details ?? "{}")).toMatchObject({ missed: true });
  });

  it("revokes a window whose holder lost the service behind revocation's back, instead of starting it", async () => {
    const { service, users } = await setup();
    const startsAt = at(3000);
    const booked = ZSession.parse((await book(service.id, users[0]!.headers, startsAt)).json());
    // As a database restore or a bug elsewhere might: the membership goes without its revocation.
    await t.app.ctx.db.groupMember.deleteMany({ where: { userId: users[0]!.id } });
    clock.advance(3500);
    t.app.sessionClock.poke();
    await t.app.sessionClock.settled();
    const revoked = await row(booked.id);
    expect(revoked.status).not.toBe("active");
    expect(revoked.startedAt).toBeNull();
    expect(await actions(booked.id)).toEqual(["session.scheduled", "session.revoked"]);
  });

  it("starts a booked session once when two instances share the database", async () => {
    const { service, users } = await setup();
    const startsAt = at(3000);
    const booked = ZSession.parse((await book(service.id, users[0]!.headers, startsAt)).json());
    extra = await secondInstance();
    const seen: TSession["id"][] = [];
    extra.changes.subscribe(({ event }) => {
      if (event.type === "session.started") seen.push(event.session.id);
    });
    await expect.poll(async () => (await row(booked.id)).status, { timeout: 10_000, interval: 50 }).toBe("active");
    // Give the slower instance time to try as well.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await t.app.ctx.db.auditEvent.count({ where: { sessionId: booked.id, action: "session.started" } })).toBe(1);
    // One start, in the log once: each instance hears of it exactly once, whichever made it.
    expect(changes.sessionVerbs(booked.id).filter((v) => v === "started")).toHaveLength(1);
    await expect.poll(() => seen.filter((id) => id === booked.id)).toHaveLength(1);
  });
});
