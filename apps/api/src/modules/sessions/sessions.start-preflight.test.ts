// A start the board in memory shows refused is answered before any transaction, with the answer
// the transaction gives when the board is cold: the window asked for, the caller's own booking
// limit, and on an exclusive service whoever holds it, is offered it or has booked the window
// (sessions.preflight.ts). What the board does not refuse, or cannot judge, still reaches the
// transaction.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZErrorBody, ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

vi.setConfig({ testTimeout: 120_000 });

describe.each(providers)("start refusals before the transaction on %s", (provider) => {
  let t: TestApp;
  let clock: TestClock;
  let groupId: string;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_WAITLIST_OFFER_SECONDS: "600" } });
    groupId = (await createGroup(t.app)).id;
    alice = await createUser(t.app, { groupIds: [groupId] });
    bob = await createUser(t.app, { groupIds: [groupId] });
    carol = await createUser(t.app, { groupIds: [groupId] });
  });
  afterEach(async () => t.close());

  const inMinutes = (m: number) => new Date(clock.now().getTime() + m * 60_000).toISOString();
  const start = (who: TestUser, serviceId: string, payload: object) =>
    t.app.inject({ method: "POST", url: `/api/services/${serviceId}/sessions`, headers: who.headers, payload });
  const started = async (who: TestUser, serviceId: string, payload: object) => {
    const res = await start(who, serviceId, payload);
    expect(res.statusCode, res.body).toBe(201);
    return ZSession.parse(res.json());
  };

  /** The start's answer with the board cold (the transaction's) and warm (the board's), which must
   * be the same refusal; the warm one opens no transaction. `ofNow`: the answer names an instant
   * reckoned from the clock, which moves between the two. */
  async function refusedAlike(who: TestUser, serviceId: string, payload: object, ofNow = false, send = () => start(who, serviceId, payload)) {
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    // Without a board in memory, the transaction answers.
    const peeks = [vi.spyOn(t.app.board, "peek").mockReturnValue(undefined), vi.spyOn(t.app.board, "peekFor").mockReturnValue(undefined)];
    const cold = await send();
    for (const peek of peeks) peek.mockRestore();
    expect(transactions).toHaveBeenCalled();
    expect((await t.app.inject({ url: "/api/services", headers: who.headers })).statusCode).toBe(200);
    transactions.mockClear();
    const warm = await send();
    expect(transactions, `${JSON.stringify(payload)}: ${warm.body}`).not.toHaveBeenCalled();
    transactions.mockRestore();
    expect(warm.statusCode).toBe(cold.statusCode);
    const instants = (text: string) => (ofNow ? text.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<instant>") : text);
    expect(instants(warm.body)).toEqual(instants(cold.body));
    return { status: warm.statusCode, ...ZErrorBody.parse(warm.json()).error };
  }

  it("refuses a window the service does not allow", async () => {
    const service = await createService(t.app, { groupIds: [groupId], maxDurationSeconds: 3600 });
    expect(await refusedAlike(alice, service.id, { durationSeconds: 7200 })).toMatchObject({
      status: 400,
      message: "body.durationSeconds: must not exceed the service's maximum of 3600 seconds",
    });
    expect(await refusedAlike(alice, service.id, { durationSeconds: 10 })).toMatchObject({ status: 400, details: [{ field: "body.durationSeconds" }] });
    expect(await refusedAlike(alice, service.id, { startsAt: inMinutes(-5) })).toMatchObject({ status: 400, details: [{ field: "body.startsAt" }] });
    expect(await refusedAlike(alice, service.id, { startsAt: inMinutes(40 * 24 * 60) }, true)).toMatchObject({
      status: 400,
      message: expect.stringMatching(/must be at most 30 days from now/),
    });
  });

  it("refuses a booking past the caller's limit, and windows that would chain past the maximum", async () => {
    // Both made before the board is first read: made straight in the database, a service the
    // board has not seen is a read's to find, and then the transaction's (sessions.test.ts).
    const service = await createService(t.app, { groupIds: [groupId], maxDurationSeconds: 3600 });
    const other = await createService(t.app, { groupIds: [groupId], maxDurationSeconds: 3600 });
    for (const at of [60, 180, 300]) await started(alice, service.id, { startsAt: inMinutes(at), durationSeconds: 600 });
    expect(await refusedAlike(alice, service.id, { startsAt: inMinutes(420), durationSeconds: 600 })).toMatchObject({
      status: 409,
      details: { limit: 3, open: 3 },
    });
    await started(alice, other.id, { startsAt: inMinutes(60), durationSeconds: 3000 });
    expect(await refusedAlike(alice, other.id, { startsAt: inMinutes(110), durationSeconds: 3000 })).toMatchObject({
      status: 409,
      details: { maxDurationSeconds: 3600 },
    });
  });

  it("names whoever holds an exclusive service or has booked the window asked for", async () => {
    const service = await createService(t.app, { exclusive: true, groupIds: [groupId] });
    const held = await started(bob, service.id, { durationSeconds: 600 });
    const booked = await started(carol, service.id, { startsAt: inMinutes(60), durationSeconds: 600 });
    const heldBy = await refusedAlike(alice, service.id, { durationSeconds: 600 });
    expect(heldBy).toMatchObject({ status: 409, message: `this service is held by ${bob.username} until ${held.expiresAt}` });
    expect(heldBy.details).toMatchObject({ holder: { id: bob.id }, sessionId: held.id, expiresAt: held.expiresAt });
    expect(await refusedAlike(alice, service.id, { startsAt: inMinutes(5), durationSeconds: 600 })).toMatchObject({ status: 409, details: { sessionId: held.id } });
    expect(await refusedAlike(alice, service.id, { startsAt: inMinutes(65), durationSeconds: 600 })).toMatchObject({
      status: 409,
      message: expect.stringMatching(new RegExp(`^this service is booked by ${carol.username} from `)),
      details: { sessionId: booked.id },
    });

    // Between the two, free: the board refuses nothing and the transaction books it.
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    await started(alice, service.id, { startsAt: inMinutes(20), durationSeconds: 600 });
    expect(transactions).toHaveBeenCalledTimes(1);
    // The holder ends: the board knows at once, and the service is the next caller's.
    expect((await t.app.inject({ method: "DELETE", url: `/api/sessions/${held.id}`, headers: bob.headers })).statusCode).toBe(200);
    const dave = await createUser(t.app, { groupIds: [groupId] });
    expect((await t.app.inject({ url: "/api/services", headers: dave.headers })).statusCode).toBe(200);
    await started(dave, service.id, { durationSeconds: 300 });
  });

  it("refuses an extension into someone's booking, naming them", async () => {
    const service = await createService(t.app, { exclusive: true, groupIds: [groupId] });
    const held = await started(bob, service.id, { durationSeconds: 600 });
    const booked = await started(carol, service.id, { startsAt: inMinutes(20), durationSeconds: 600 });
    const extend = (durationSeconds: number) =>
      t.app.inject({ method: "POST", url: `/api/sessions/${held.id}/extend`, headers: bob.headers, payload: { durationSeconds } });
    expect(await refusedAlike(bob, service.id, {}, false, () => extend(1200))).toMatchObject({
      status: 409,
      message: expect.stringMatching(new RegExp(`^this service is booked by ${carol.username} from `)),
      details: { sessionId: booked.id },
    });
    // Up to the booking is fine: the transaction extends it.
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    expect((await extend(300)).statusCode).toBe(200);
    expect(transactions).toHaveBeenCalledTimes(1);
  });

  it("names the person the service is offered to from its line", async () => {
    const service = await createService(t.app, { exclusive: true, groupIds: [groupId] });
    const held = await started(bob, service.id, { durationSeconds: 600 });
    const waiting = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/waitlist`, headers: carol.headers, payload: { durationSeconds: 600 } });
    expect(waiting.statusCode).toBe(201);
    expect((await t.app.inject({ method: "DELETE", url: `/api/sessions/${held.id}`, headers: bob.headers })).statusCode).toBe(200);
    const offered = ZSession.parse(waiting.json()).id;
    await expect.poll(async () => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: offered } })).status, { timeout: 5000, interval: 50 }).toBe("offered");
    expect(await refusedAlike(alice, service.id, { durationSeconds: 600 })).toMatchObject({
      status: 409,
      message: expect.stringMatching(new RegExp(`^this service is offered to ${carol.username} from its waitlist until `)),
      details: { sessionId: offered },
    });
  });

  it("refuses a booking on a service that needs approval, and leaves a request for now to the approver", async () => {
    const service = await createService(t.app, { exclusive: true, requiresApproval: true, groupIds: [groupId] });
    const admin = await createUser(t.app, { role: "admin" });
    const asked = await started(bob, service.id, { durationSeconds: 600 });
    const approved = await t.app.inject({ method: "POST", url: `/api/sessions/${asked.id}/approve`, headers: admin.headers });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(await refusedAlike(alice, service.id, { startsAt: inMinutes(5), durationSeconds: 600 })).toMatchObject({ status: 409, details: { sessionId: asked.id } });
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    expect((await start(alice, service.id, { durationSeconds: 600 })).statusCode).toBe(201);
  });

  it("leaves a holder past their end, whom the clock is about to close, to the transaction", async () => {
    const service = await createService(t.app, { exclusive: true, groupIds: [groupId] });
    await started(bob, service.id, { durationSeconds: 600 });
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    expect((await start(alice, service.id, { durationSeconds: 600 })).statusCode).toBe(409);
    expect(transactions).not.toHaveBeenCalled();
    clock.advance(600_001);
    await start(alice, service.id, { durationSeconds: 600 });
    expect(transactions).toHaveBeenCalled();
  });
});
