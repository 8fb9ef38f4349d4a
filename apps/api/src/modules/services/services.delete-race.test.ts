// Deleting a service while its holders extend and end their sessions. A change to a session locks
// the service's row, then the session's; deleting the service must take them in the same order,
// or PostgreSQL breaks the cycle by failing one of the two (a deadlock, a 500). Found by the fuzzer
// (seed 785067). Each race either lets the holder's change in first or refuses it once the service
// is gone; nothing fails.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

describe.each(providers)("deleting a service while its sessions change, on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    t = await buildTestApp(provider);
    admin = await createUser(t.app, { role: "admin" });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = async (serviceId: string, who: TestUser, durationSeconds = 600) => {
    const res = await t.app.inject({ method: "POST", url: `/api/services/${serviceId}/sessions`, headers: who.headers, payload: { durationSeconds } });
    expect(res.statusCode, res.body).toBe(201);
    return ZSession.parse(res.json());
  };

  it("answers every request without a 5xx, and the service goes with its sessions", { timeout: 120_000 }, async () => {
    for (let round = 0; round < 20; round++) {
      const group = await createGroup(t.app);
      // Exclusive, with a waiter: the holder's end offers the service to the waiter.
      const exclusive = await createService(t.app, { groupIds: [group.id], exclusive: true, maxDurationSeconds: 3600 });
      const shared = await createService(t.app, { groupIds: [group.id], maxDurationSeconds: 3600 });
      const [holder, waiter, a, b] = await Promise.all([0, 1, 2, 3].map(() => createUser(t.app, { groupIds: [group.id] })));
      const held = await start(exclusive.id, holder!);
      const joined = await t.app.inject({ method: "POST", url: `/api/services/${exclusive.id}/waitlist`, headers: waiter!.headers, payload: { durationSeconds: 600 } });
      expect(joined.statusCode, joined.body).toBe(201);
      expect(ZSession.parse(joined.json()).status).toBe("waiting");
      const [sa, sb] = [await start(shared.id, a!), await start(shared.id, b!)];
      const answers = await Promise.all([
        t.app.inject({ method: "DELETE", url: `/api/sessions/${held.id}`, headers: holder!.headers }),
        t.app.inject({ method: "DELETE", url: `/api/services/${exclusive.id}`, headers: admin.headers }),
        t.app.inject({ method: "POST", url: `/api/sessions/${sa.id}/extend`, headers: a!.headers, payload: { durationSeconds: 1200 } }),
        t.app.inject({ method: "DELETE", url: `/api/services/${shared.id}`, headers: admin.headers }),
        t.app.inject({ method: "DELETE", url: `/api/sessions/${sb.id}`, headers: b!.headers }),
      ]);
      for (const res of answers) expect(res.statusCode, `round ${round}: ${res.body}`).toBeLessThan(500);
      expect(answers[1]!.statusCode, answers[1]!.body).toBe(204);
      expect(answers[3]!.statusCode, answers[3]!.body).toBe(204);
      expect(await t.app.ctx.db.service.count({ where: { id: { in: [exclusive.id, shared.id] } } })).toBe(0);
    }
    const verify = await t.app.inject({ url: "/api/audit/verify", headers: admin.headers });
    expect(verify.json()).toMatchObject({ intact: true });
  });
});
