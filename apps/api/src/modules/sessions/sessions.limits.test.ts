// Booking limits: the horizon (POSTERN_MAX_BOOKING_DAYS), open bookings per user per service
// (POSTERN_MAX_BOOKINGS_PER_SERVICE) and back-to-back windows counted as one hold.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

const HOUR = 3600_000;

describe.each(providers)("booking limits on %s", { timeout: 60_000 }, (provider) => {
  let t: TestApp;
  let clock: TestClock;
  let member: TestUser;
  let serviceId: string;

  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
    const group = await createGroup(t.app);
    const service = await createService(t.app, { exclusive: true, groupIds: [group.id], maxDurationSeconds: 7200, defaultDurationSeconds: 3600 });
    serviceId = service.id;
    member = await createUser(t.app, { groupIds: [group.id] });
  });
  afterEach(async () => {
    await t.close();
  });

  const at = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
  const book = (startsAt: string | undefined, durationSeconds = 7200, id = serviceId) =>
    t.app.inject({
      method: "POST",
      url: `/api/services/${id}/sessions`,
      headers: member.headers,
      payload: { durationSeconds, ...(startsAt ? { startsAt } : {}) },
    });
  const openCount = () => t.app.ctx.db.accessSession.count({ where: { userId: member.id } });

  it("refuses six back-to-back 2 h windows on a 2 h-maximum service as one 12 h hold, naming why", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const res = await book(at(HOUR + i * 2 * HOUR));
      statuses.push(res.statusCode);
      if (res.statusCode === 409) expect(ZErrorBody.parse(res.json()).error.message).toMatch(/adjacent windows .* past its maximum of 7200 seconds|at most 3 at once/);
    }
    // Each accepted window is followed by a refused one: no two of them touch.
    expect(statuses).toEqual([201, 409, 201, 409, 201, 409]);
    const held = await t.app.ctx.db.accessSession.findMany({ where: { userId: member.id }, orderBy: { startsAt: "asc" } });
    for (let i = 1; i < held.length; i += 1) {
      expect(held[i]!.startsAt!.getTime() - held[i - 1]!.expiresAt!.getTime()).toBeGreaterThanOrEqual(2 * HOUR);
    }
  });

  it("chains a window that ends or starts within a minute of another", async () => {
    expect((await book(at(HOUR))).statusCode).toBe(201);
    expect((await book(at(HOUR / 2 - 30_000), 1800)).statusCode).toBe(409);
    expect((await book(at(3 * HOUR + 30_000), 3600)).statusCode).toBe(409);
    expect(await openCount()).toBe(1);
  });

  it("counts an active session's time toward the chain", async () => {
    expect((await book(undefined, 5400)).statusCode).toBe(201);
    const right = await book(at(1.5 * HOUR), 3600);
    expect(right.statusCode).toBe(409);
    expect(ZErrorBody.parse(right.json()).error.message).toContain("in a row");
    // After a real gap it is a new hold.
    expect((await book(at(4 * HOUR), 7200)).statusCode).toBe(201);
  });

  it("allows at most 3 open sessions per user per service", async () => {
    for (let i = 0; i < 3; i += 1) expect((await book(at(HOUR + i * 10 * HOUR), 3600)).statusCode).toBe(201);
    const fourth = await book(at(HOUR + 40 * HOUR), 3600);
    expect(fourth.statusCode).toBe(409);
    expect(ZErrorBody.parse(fourth.json()).error.message).toMatch(/already have 3 open .* at most 3/);
    expect(await openCount()).toBe(3);
  });

  it("refuses a window past the 30-day horizon (and year 9999) naming body.startsAt, and writes nothing", async () => {
    for (const startsAt of [at(31 * 24 * HOUR), "9999-12-31T00:00:00.000Z"]) {
      const res = await book(startsAt, 3600);
      expect(res.statusCode).toBe(400);
      const error = ZErrorBody.parse(res.json()).error;
      expect(JSON.stringify(error)).toContain("body.startsAt");
      // Year 9999 is refused by the contract's bound on every instant before the horizon is asked.
      expect(error.message).toMatch(startsAt.startsWith("9999") ? /body\.startsAt: must be between/ : /30 days/);
    }
    expect(await openCount()).toBe(0);
    expect((await book(at(29 * 24 * HOUR), 3600)).statusCode).toBe(201);
  });

  it("takes both limits from the configuration", async () => {
    await t.close();
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_MAX_BOOKING_DAYS: "2", POSTERN_MAX_BOOKINGS_PER_SERVICE: "1" } });
    const group = await createGroup(t.app);
    serviceId = (await createService(t.app, { exclusive: false, groupIds: [group.id] })).id;
    member = await createUser(t.app, { groupIds: [group.id] });
    expect((await book(at(3 * 24 * HOUR), 3600)).statusCode).toBe(400);
    expect((await book(at(HOUR), 3600)).statusCode).toBe(201);
    expect((await book(at(30 * HOUR), 3600)).statusCode).toBe(409);
  });

  describe("an extension is judged by the holder's own bookings", () => {
    const extend = (id: string, durationSeconds: number) =>
      t.app.inject({ method: "POST", url: `/api/sessions/${id}/extend`, headers: member.headers, payload: { durationSeconds } });
    const started = async (durationSeconds: number, id = serviceId) => {
      const res = await book(undefined, durationSeconds, id);
      expect(res.statusCode, res.body).toBe(201);
      return (res.json() as { id: string }).id;
    };

    it("refuses one that joins the active session to a booking into a hold past the maximum", async () => {
      const session = await started(3600);
      expect((await book(at(2 * HOUR), 3600)).statusCode).toBe(201);
      // To +2 h, touching the booking: now to +3 h in a row on a 2 h maximum.
      const joined = await extend(session, 3600);
      expect(joined.statusCode, joined.body).toBe(409);
      expect(ZErrorBody.parse(joined.json()).error.message).toContain("in a row");
      const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session } });
      expect(row.durationSeconds).toBe(3600);
      // Half an hour short of it leaves a real gap.
      expect((await extend(session, 1800)).statusCode).toBe(200);
    });

    it("refuses one that runs into the holder's own booking on a shared service", async () => {
      const group = await createGroup(t.app);
      const shared = (await createService(t.app, { exclusive: false, groupIds: [group.id], maxDurationSeconds: 7200 })).id;
      member = await createUser(t.app, { groupIds: [group.id] });
      const session = await started(1800, shared);
      expect((await book(at(HOUR), 3600, shared)).statusCode).toBe(201);
      const overlapping = await extend(session, 3600);
      expect(overlapping.statusCode, overlapping.body).toBe(409);
      expect(ZErrorBody.parse(overlapping.json()).error.message).toMatch(/already have an open \(scheduled\) session/);
      // The booking's start would otherwise have made two active sessions of one holder.
      clock.advance(1.25 * HOUR);
      t.app.sessionClock.poke();
      await t.app.sessionClock.settled();
      expect(await t.app.ctx.db.accessSession.count({ where: { userId: member.id, serviceId: shared, status: "active" } })).toBe(1);
    });
  });
});
