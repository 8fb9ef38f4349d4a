// Access sessions end to end through the routes: duration limits, ending and force-ending, and
// expiry on real timers (on time, after an extension, after a restart). sessions.test.ts has
// the 409 on exclusive services and expiry of a session that ran out while the API was down.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ZErrorBody, ZSession, type TSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { rowCounts } from "../../../test/counts";
import { providers } from "../../../test/databases";

// A few seconds each on a quiet machine; the margin is for a loaded CI box.
vi.setConfig({ testTimeout: 120_000 });

const fieldsOf = (body: unknown) => (ZErrorBody.parse(body).error.details as { field: string }[]).map((d) => d.field);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(providers)("access sessions through the API on %s", (provider) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(app: TestApp, user: TestUser, serviceId: string, payload: object): Promise<TSession> {
    const res = await app.app.inject({ method: "POST", url: `/api/services/${serviceId}/sessions`, headers: user.headers, payload });
    expect(res.statusCode, res.body).toBe(201);
    return ZSession.parse(res.json());
  }

  it("refuses durations below POSTERN_MIN_SESSION_SECONDS or past the maximum, naming durationSeconds", async () => {
    t = await buildTestApp(provider, { env: { POSTERN_MIN_SESSION_SECONDS: "300" } });
    const service = await createService(t.app, { maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    const admin = await createUser(t.app, { role: "admin" });
    const before = await rowCounts(t.app);

    const short = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: admin.headers, payload: { durationSeconds: 120 } });
    expect(short.statusCode).toBe(400);
    expect(fieldsOf(short.json())).toEqual(["body.durationSeconds"]);
    expect(ZErrorBody.parse(short.json()).error.message).toContain("at least 300 seconds");
    const long = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: admin.headers, payload: { durationSeconds: 3601 } });
    expect(long.statusCode).toBe(400);
    expect(fieldsOf(long.json())).toEqual(["body.durationSeconds"]);
    expect(ZErrorBody.parse(long.json()).error.message).toContain("3600");
    expect(await rowCounts(t.app)).toEqual(before);

    const session = await start(t, admin, service.id, { durationSeconds: 1800 });
    const afterStart = await rowCounts(t.app);
    const extend = (durationSeconds: unknown) =>
      t!.app.inject({ method: "POST", url: `/api/sessions/${session.id}/extend`, headers: admin.headers, payload: { durationSeconds } });

    const tooShort = await extend(120);
    expect(tooShort.statusCode).toBe(400);
    expect(fieldsOf(tooShort.json())).toEqual(["body.durationSeconds"]);
    // 1800 s left plus 1900 s would run past the 3600 s maximum.
    const pastMax = await extend(1900);
    expect(pastMax.statusCode).toBe(400);
    expect(fieldsOf(pastMax.json())).toEqual(["body.durationSeconds"]);
    expect(ZErrorBody.parse(pastMax.json()).error.message).toMatch(/maximum of 3600/);
    for (const bad of ["600", null, -5, 1.5]) {
      const res = await extend(bad);
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      expect(fieldsOf(res.json())).toContain("body.durationSeconds");
    }
    const missing = await t.app.inject({ method: "POST", url: `/api/sessions/${session.id}/extend`, headers: admin.headers, payload: {} });
    expect(fieldsOf(missing.json())).toEqual(["body.durationSeconds"]);
    const unknown = await t.app.inject({ method: "POST", url: "/api/sessions/no-such-session/extend", headers: admin.headers, payload: { durationSeconds: 600 } });
    expect(unknown.statusCode).toBe(404);
    expect(await rowCounts(t.app)).toEqual(afterStart);
    const unchanged = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } });
    expect(unchanged.expiresAt?.toISOString()).toBe(session.expiresAt);

    const ok = await extend(1800);
    expect(ok.statusCode).toBe(200);
    expect(Date.parse(ZSession.parse(ok.json()).expiresAt!) - Date.parse(session.expiresAt!)).toBe(1_800_000);
  });

  it("ends by the holder, force-ends by an admin, and refuses a member ending another's session", async () => {
    t = await buildTestApp(provider);
    const group = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [group.id] });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const bob = await createUser(t.app, { groupIds: [group.id] });
    const outsider = await createUser(t.app);
    const admin = await createUser(t.app, { role: "admin" });
    const mine = await start(t, alice, service.id, { durationSeconds: 600 });
    const bobs = await start(t, bob, service.id, { durationSeconds: 600 });

    const before = await rowCounts(t.app);
    const byAlice = await t.app.inject({ method: "DELETE", url: `/api/sessions/${bobs.id}`, headers: alice.headers });
    expect(byAlice.statusCode).toBe(403);
    expect(ZErrorBody.parse(byAlice.json()).error.code).toBe("forbidden");
    // Someone who cannot see the service cannot learn the session exists.
    const byOutsider = await t.app.inject({ method: "DELETE", url: `/api/sessions/${bobs.id}`, headers: outsider.headers });
    expect(byOutsider.statusCode).toBe(404);
    const extendOthers = await t.app.inject({ method: "POST", url: `/api/sessions/${bobs.id}/extend`, headers: alice.headers, payload: { durationSeconds: 60 } });
    expect(extendOthers.statusCode).toBe(403);
    expect(await rowCounts(t.app)).toEqual(before);

    const ended = await t.app.inject({ method: "DELETE", url: `/api/sessions/${mine.id}`, headers: alice.headers });
    expect(ended.statusCode).toBe(200);
    expect(ZSession.parse(ended.json())).toMatchObject({ id: mine.id, status: "ended" });
    const forced = await t.app.inject({ method: "DELETE", url: `/api/sessions/${bobs.id}`, headers: admin.headers });
    expect(forced.statusCode).toBe(200);
    expect(ZSession.parse(forced.json()).status).toBe("ended");
    const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: bobs.id } });
    expect(row.endedById).toBe(admin.id);
    expect(row.endedAt).toBeInstanceOf(Date);

    const twice = await t.app.inject({ method: "DELETE", url: `/api/sessions/${mine.id}`, headers: alice.headers });
    expect(twice.statusCode).toBe(409);
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { action: { in: ["session.ended", "session.force_ended"] } }, orderBy: { seq: "asc" } });
    expect(events.map((e) => [e.action, e.sessionId, e.actorId])).toEqual([
      ["session.ended", mine.id, alice.id],
      ["session.force_ended", bobs.id, admin.id],
    ]);
  });

  it("expires a session within a second of its expiry, not before, and after an extension only at the new time", { timeout: 60_000 }, async () => {
    t = await buildTestApp(provider, { env: { POSTERN_MIN_SESSION_SECONDS: "1" } });
    const service = await createService(t.app, { exclusive: true });
    const admin = await createUser(t.app, { role: "admin" });
    const session = await start(t, admin, service.id, { durationSeconds: 2 });
    const expiresAt = Date.parse(session.expiresAt!);

    const status = async () => (await t!.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } })).status;
    await sleep(Math.max(0, expiresAt - Date.now() - 400));
    expect(await status()).toBe("active");
    await expect.poll(status, { timeout: 5000, interval: 25 }).toBe("expired");
    const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } });
    expect(row.endedAt?.getTime()).toBe(expiresAt);
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { sessionId: session.id }, orderBy: { seq: "asc" } });
    expect(events.map((e) => e.action)).toEqual(["session.started", "session.expired"]);
    // The expiry event is stamped when the scheduler flipped the session: on time, within a second.
    const lateness = (events[1]?.at.getTime() ?? 0) - expiresAt;
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(1000);
    // The exclusive service is free again.
    const next = await start(t, admin, service.id, { durationSeconds: 2 });

    const extended = await t.app.inject({ method: "POST", url: `/api/sessions/${next.id}/extend`, headers: admin.headers, payload: { durationSeconds: 2 } });
    expect(extended.statusCode).toBe(200);
    const newExpiry = Date.parse(ZSession.parse(extended.json()).expiresAt!);
    await sleep(Math.max(0, Date.parse(next.expiresAt!) + 500 - Date.now()));
    expect((await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: next.id } })).status).toBe("active");
    await expect
      .poll(async () => (await t!.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: next.id } })).status, { timeout: 5000, interval: 25 })
      .toBe("expired");
    const expiredAt = (await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: next.id, action: "session.expired" } })).at.getTime();
    expect(expiredAt - newExpiry).toBeGreaterThanOrEqual(0);
    expect(expiredAt - newExpiry).toBeLessThan(1000);
  });

  it("after a restart, keeps a session that is not yet due and expires it on time", { timeout: 60_000 }, async () => {
    t = await buildTestApp(provider, { env: { POSTERN_MIN_SESSION_SECONDS: "1" } });
    const service = await createService(t.app);
    const admin = await createUser(t.app, { role: "admin" });
    const session = await start(t, admin, service.id, { durationSeconds: 6 });
    const expiresAt = Date.parse(session.expiresAt!);
    await t.restart();
    expect((await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } })).status).toBe("active");
    await expect
      .poll(async () => (await t!.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } })).status, { timeout: 12_000, interval: 25 })
      .toBe("expired");
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { sessionId: session.id, action: "session.expired" } });
    expect(events).toHaveLength(1);
    expect((events[0]?.at.getTime() ?? 0) - expiresAt).toBeLessThan(1000);
  });
});
