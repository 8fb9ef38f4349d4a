// A service's rules changed after sessions were asked for: what the new rules could not have let in
// is refused when the rules change, or judged again when the session would start.
import { afterEach, describe, expect, it } from "vitest";
import { ZErrorBody, ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

describe.each(providers)("a service's rules changed under its sessions on %s", { timeout: 90_000 }, (provider) => {
  let t: TestApp | undefined;
  let clock: TestClock;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(service: { exclusive?: boolean; requiresApproval?: boolean }) {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
    const group = await createGroup(t.app);
    const svc = await createService(t.app, { ...service, groupIds: [group.id] });
    const [alice, bob] = await Promise.all([1, 2].map(() => createUser(t!.app, { groupIds: [group.id] })));
    const admin = await createUser(t.app, { role: "admin" });
    return { group, service: svc, alice: alice!, bob: bob!, admin };
  }
  const call = (method: "POST" | "DELETE" | "PATCH", url: string, user: TestUser, payload?: object) =>
    t!.app.inject({ method, url, headers: user.headers, ...(payload ? { payload } : {}) });
  const session = async (res: Promise<{ statusCode: number; body: string; json: () => unknown }>) => {
    const r = await res;
    expect(r.statusCode, r.body).toBeLessThan(300);
    return ZSession.parse(r.json());
  };
  const statusOf = async (id: string) => (await t!.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id } })).status;
  const tick = async () => {
    t!.app.sessionClock.poke();
    await t!.app.sessionClock.settled();
  };
  const at = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
  const refusal = (res: { body: string; json: () => unknown }) => ZErrorBody.parse(res.json()).error;

  it("refuses approval switched on while people wait in line, who would get the service unapproved", async () => {
    const { service, alice, bob, admin } = await start({ exclusive: true });
    const held = await session(call("POST", `/api/services/${service.id}/sessions`, alice, { durationSeconds: 600 }));
    const entry = await session(call("POST", `/api/services/${service.id}/waitlist`, bob, { durationSeconds: 600 }));
    const refused = await call("PATCH", `/api/services/${service.id}`, admin, { requiresApproval: true });
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refusal(refused).message).toMatch(/^body\.requiresApproval: people wait in this service's line/);
    expect(refusal(refused).details).toEqual({ sessionIds: [entry.id] });
    expect((await t!.app.ctx.db.service.findUniqueOrThrow({ where: { id: service.id } })).requiresApproval).toBe(false);
    // Once the line is empty the switch goes through, and nothing starts unapproved.
    expect((await call("DELETE", `/api/sessions/${entry.id}`, admin)).statusCode).toBe(200);
    expect((await call("PATCH", `/api/services/${service.id}`, admin, { requiresApproval: true })).statusCode).toBe(200);
    expect((await call("POST", `/api/services/${service.id}/waitlist`, bob, { durationSeconds: 600 })).statusCode).toBe(409);
    expect((await call("DELETE", `/api/sessions/${held.id}`, alice)).statusCode).toBe(200);
  });

  it("refuses making a service exclusive while its sessions or bookings overlap", async () => {
    const { service, alice, bob, admin } = await start({ exclusive: false });
    const startsAt = at(3_600_000);
    const a = await session(call("POST", `/api/services/${service.id}/sessions`, alice, { durationSeconds: 600, startsAt }));
    const b = await session(call("POST", `/api/services/${service.id}/sessions`, bob, { durationSeconds: 600, startsAt }));
    const refused = await call("PATCH", `/api/services/${service.id}`, admin, { exclusive: true });
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refusal(refused).message).toMatch(/^body\.exclusive: these sessions overlap/);
    expect(refusal(refused).details).toEqual({ sessionIds: [a.id, b.id] });
    // Bob moves his window after Alice's: the two no longer overlap, and the switch is allowed.
    expect((await call("DELETE", `/api/sessions/${b.id}`, bob)).statusCode).toBe(200);
    await session(call("POST", `/api/services/${service.id}/sessions`, bob, { durationSeconds: 600, startsAt: at(3_600_000 + 600_000) }));
    expect((await call("PATCH", `/api/services/${service.id}`, admin, { exclusive: true })).statusCode).toBe(200);
    clock.advance(3_601_000);
    await tick();
    expect(await statusOf(a.id)).toBe("active");
  });

  it("cuts a booking to a maximum lowered since it was booked, when it starts", async () => {
    const { service, alice, admin } = await start({ exclusive: false });
    const startsAt = at(3_600_000);
    const booked = await session(call("POST", `/api/services/${service.id}/sessions`, alice, { durationSeconds: 7200, startsAt }));
    expect((await call("PATCH", `/api/services/${service.id}`, admin, { maxDurationSeconds: 600, defaultDurationSeconds: 600 })).statusCode).toBe(200);
    clock.advance(3_601_000);
    await tick();
    const row = await t!.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: booked.id } });
    expect(row.status).toBe("active");
    expect((row.expiresAt!.getTime() - row.startedAt!.getTime()) / 1000).toBe(600);
    expect(row.durationSeconds).toBe(600);
    const started = await t!.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: booked.id, action: "session.started" } });
    expect(JSON.parse(started.details ?? "{}")).toMatchObject({ cutToMaximumSeconds: 600 });
  });

  it("refuses to approve a request longer than a maximum lowered since, naming the length", async () => {
    const { service, alice, admin } = await start({ requiresApproval: true });
    const pending = await session(call("POST", `/api/services/${service.id}/sessions`, alice, { durationSeconds: 7200 }));
    expect(pending.status).toBe("pending");
    expect((await call("PATCH", `/api/services/${service.id}`, admin, { maxDurationSeconds: 600, defaultDurationSeconds: 600 })).statusCode).toBe(200);
    const approved = await call("POST", `/api/sessions/${pending.id}/approve`, admin);
    expect(approved.statusCode, approved.body).toBe(409);
    expect(refusal(approved).message).toBe("the request is for 7200 seconds, past the service's maximum of 600 seconds; deny the request");
    expect(await statusOf(pending.id)).toBe("pending");
    expect((await call("POST", `/api/sessions/${pending.id}/deny`, admin)).statusCode).toBe(200);
  });

  it("refuses to approve a booking request whose whole window has passed", async () => {
    const { service, alice, admin } = await start({ requiresApproval: true });
    const pending = await session(call("POST", `/api/services/${service.id}/sessions`, alice, { durationSeconds: 3600, startsAt: at(3_600_000) }));
    // Approved before the clock's next tick has expired it (sessions.approval.test.ts has the tick).
    clock.advance(2 * 86_400_000);
    const approved = await call("POST", `/api/sessions/${pending.id}/approve`, admin);
    expect(approved.statusCode, approved.body).toBe(409);
    expect(refusal(approved).message).toMatch(/^the requested window \(.+ to .+\) has passed; deny the request$/);
    expect(await statusOf(pending.id)).toBe("pending");
    await tick();
    expect(await statusOf(pending.id)).toBe("expired");
  });

  it("refuses service lengths below the shortest session allowed, when they are set", async () => {
    const { group, service, admin } = await start({});
    const make = (lengths: object) =>
      call("POST", "/api/services", admin, { name: "Short", slug: `short-${Math.random().toString(36).slice(2, 8)}`, kind: "web", groupIds: [group.id], maxDurationSeconds: 3600, ...lengths });
    for (const [lengths, field] of [
      [{ defaultDurationSeconds: 30 }, "body.defaultDurationSeconds"],
      [{ maxDurationSeconds: 30 }, "body.maxDurationSeconds"],
    ] as const) {
      const res = await make(lengths);
      expect(res.statusCode, res.body).toBe(400);
      expect(refusal(res).message).toBe(`${field}: must be at least 60 seconds, the shortest session allowed (POSTERN_MIN_SESSION_SECONDS)`);
    }
    const patched = await call("PATCH", `/api/services/${service.id}`, admin, { defaultDurationSeconds: 59 });
    expect(patched.statusCode).toBe(400);
    expect(refusal(patched).message).toMatch(/^body\.defaultDurationSeconds: must be at least 60 seconds/);
    expect((await make({ maxDurationSeconds: 60 })).statusCode).toBe(201);
    // An import names its query parameters, with or without a line to import.
    for (const [query, csv] of [["maxSeconds=30", "a;b\n"], ["defaultSeconds=30", "# nothing yet\n"]] as const) {
      const res = await t!.app.inject({ method: "POST", url: `/api/services/import?${query}`, headers: { ...admin.headers, "content-type": "text/csv" }, payload: csv });
      expect(res.statusCode, res.body).toBe(400);
      expect(refusal(res).message).toMatch(new RegExp(`^querystring\\.${query.split("=")[0]}: must be at least 60 seconds`));
    }
    // A row from before the rule keeps being editable: its lengths sent back unchanged are no change.
    await t!.app.ctx.db.service.update({ where: { id: service.id }, data: { defaultDurationSeconds: 30 } });
    const edited = await call("PATCH", `/api/services/${service.id}`, admin, { name: "Renamed", defaultDurationSeconds: 30, maxDurationSeconds: service.maxDurationSeconds });
    expect(edited.statusCode, edited.body).toBe(200);
  });
});
