// Lines left on shared services: before a service made shared offered its line at once (commit
// 56c56ae), switching it left its line waiting, and the clock only offers a service nobody holds,
// which a shared service in use may never be. The clock (at start-up and on its ticks) offers a
// shared service's line to everyone in it, as the switch does now.
import { afterEach, describe, expect, it } from "vitest";
import { ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";

describe.each(providers)("lines left on shared services, on %s", { timeout: 90_000 }, (provider) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("are offered to everyone in them at start-up or on a tick, in use or not, and only once", async () => {
    const clock = testClock();
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_WAITLIST_OFFER_SECONDS: "600" } });
    const group = await createGroup(t.app);
    const service = await createService(t.app, { exclusive: false, groupIds: [group.id] });
    const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => createUser(t!.app, { groupIds: [group.id] })));
    const started = await t.app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: alice!.headers,
      payload: { durationSeconds: 3600 },
    });
    expect(started.statusCode, started.body).toBe(201);
    const held = ZSession.parse(started.json());
    // As the old code left them: waiting in the line of a service that is shared (and in use).
    const waiting = async (userId: string, minutesAgo: number) =>
      (
        await t!.app.ctx.db.accessSession.create({
          data: { serviceId: service.id, userId, status: "waiting", durationSeconds: 900, requestedAt: new Date(clock.now().getTime() - minutesAgo * 60_000) },
        })
      ).id;
    const entries = [await waiting(bob!.id, 30), await waiting(carol!.id, 20)];

    const app = await t.restart();
    const statusOf = async (id: string) => (await app.ctx.db.accessSession.findUniqueOrThrow({ where: { id } })).status;
    for (const id of entries) await expect.poll(() => statusOf(id), { timeout: 10_000, interval: 50 }).toBe("offered");
    await app.sessionClock.settled();
    const offers = () => app.ctx.db.auditEvent.findMany({ where: { action: "session.offered", serviceId: service.id }, orderBy: { seq: "asc" } });
    const made = await offers();
    expect(made.map((o) => o.sessionId).sort()).toEqual([...entries].sort());
    // The system's offers, as any the clock makes: no actor, no address.
    expect(made.map((o) => [o.actorId, o.sourceIp])).toEqual([
      [null, null],
      [null, null],
    ]);
    // In one change: their rows follow each other in the chain.
    expect(made[1]!.seq - made[0]!.seq).toBe(1);
    for (const id of entries) {
      const row = await app.ctx.db.accessSession.findUniqueOrThrow({ where: { id } });
      expect(row.offerExpiresAt!.getTime()).toBeGreaterThan(clock.now().getTime() + 500_000);
    }
    expect(await statusOf(held.id)).toBe("active");

    // The next tick, and the next start-up, find nobody waiting: nothing is offered twice.
    app.sessionClock.poke();
    await app.sessionClock.settled();
    const again = await t.restart();
    await again.sessionClock.settled();
    expect((await offers()).length).toBe(2);
    for (const id of entries) expect(await statusOf(id)).toBe("offered");

    // One found while running (another instance's old code, a restore) goes on the clock's tick.
    const dave = await createUser(again, { groupIds: [group.id] });
    const late = await waiting(dave.id, 10);
    again.sessionClock.poke();
    await again.sessionClock.settled();
    expect(await statusOf(late)).toBe("offered");
    expect((await offers()).map((o) => o.sessionId)).toEqual([...made.map((o) => o.sessionId), late]);
  });
});
