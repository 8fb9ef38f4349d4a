// A start that read its caller's groups before a removal and committed after the removal's
// revocation had looked for open sessions: the session it opened still ends (late-starts.ts).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { ZSession } from "@postern/contracts";
import { providers } from "../../../test/databases";
import { userInclude } from "../users/users.presenter";
import { sessionLimitsOf, startSession } from "./sessions.service";

describe.each(providers)("starts that race a loss of access on %s", { timeout: 120_000 }, (provider) => {
  let t: TestApp;
  let admin: TestUser;

  beforeEach(async () => {
    t = await buildTestApp(provider);
    admin = await createUser(t.app, { role: "admin" });
  });
  afterEach(async () => {
    await t.close();
  });

  async function expectRevokedBy(sessionId: string, who: TestUser, cause: string) {
    const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: sessionId } });
    expect(row.endedById).toBe(who.id);
    const listed = ZSession.array()
      .parse((await t.app.inject({ url: `/api/sessions?userId=${row.userId}`, headers: admin.headers })).json())
      .find((s) => s.id === sessionId);
    expect(listed?.endedBy).toEqual({ id: who.id, username: who.username });
    const revoked = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { action: "session.revoked", sessionId } });
    expect(revoked.actorId).toBe(who.id);
    expect(JSON.parse(revoked.details ?? "{}")).toMatchObject({ cause });
  }

  const openOf = (userId: string) => t.app.ctx.db.accessSession.findMany({ where: { userId, status: { in: ["active", "pending", "scheduled", "waiting", "offered"] } } });
  const removeMember = async (groupId: string, userId: string) => {
    const res = await t.app.inject({ method: "DELETE", url: `/api/groups/${groupId}/members/${userId}`, headers: admin.headers });
    expect(res.statusCode, res.body).toBeLessThan(300);
  };

  it("ends a session started, with the groups read before a removal, after the removal committed", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [group.id], exclusive: true });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    // What the start's request read of its caller when it arrived.
    const viewer = { user: await t.app.ctx.db.user.findUniqueOrThrow({ where: { id: alice.id }, include: userInclude }), admin: false };
    await removeMember(group.id, alice.id);

    const origin = { actor: { id: alice.id, username: alice.username, kind: "user" as const }, sourceIp: "192.0.2.7" };
    const started = await startSession(t.app.ctx, { viewer, origin }, service.id, { durationSeconds: 600 }, sessionLimitsOf(t.app.config));
    expect(started.status).toBe("active");

    await expect.poll(async () => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: started.id } })).status, { timeout: 10_000 }).toBe("ended");
    // Ended in the name of the admin whose removal took the right away, for that cause, as the
    // removal's own revocation would have: My sessions and the audit say who and why.
    await expectRevokedBy(started.id, admin, "member_removed");
  });

  it("names the admin whose change took the right away when its sweep, not the change, ends a session", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [group.id] });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const res = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: alice.headers, payload: { sourceIp: "192.0.2.8" } });
    expect(res.statusCode, res.body).toBe(201);
    const session = ZSession.parse(res.json());
    // The membership gone behind the changes' backs (a restore); an admin's next change to Alice
    // revokes nothing itself, and its sweep finds the session.
    await t.app.ctx.db.groupMember.delete({ where: { groupId_userId: { groupId: group.id, userId: alice.id } } });
    const renamed = await t.app.inject({ method: "PATCH", url: `/api/users/${alice.id}`, headers: admin.headers, payload: { displayName: "Alice A." } });
    expect(renamed.statusCode, renamed.body).toBe(200);

    await expect.poll(async () => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } })).status, { timeout: 10_000 }).toBe("ended");
    await expectRevokedBy(session.id, admin, "member_removed");
  });

  it("leaves no open session after many starts race one removal", async () => {
    for (let round = 0; round < 3; round += 1) {
      const group = await createGroup(t.app);
      const services = await Promise.all(Array.from({ length: 24 }, () => createService(t.app, { groupIds: [group.id], exclusive: true })));
      const alice = await createUser(t.app, { groupIds: [group.id] });
      const starts = services.map(async (service, i) => {
        await new Promise((r) => setTimeout(r, i * 2));
        return t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: alice.headers, payload: { sourceIp: "192.0.2.44" } });
      });
      const removal = (async () => {
        await new Promise((r) => setTimeout(r, 20));
        await removeMember(group.id, alice.id);
      })();
      const answers = await Promise.all(starts);
      await removal;
      // Each start either went through before the removal or was refused; none failed.
      expect(answers.filter((a) => ![200, 201, 404].includes(a.statusCode)).map((a) => a.body)).toEqual([]);
      await expect.poll(async () => (await openOf(alice.id)).length, { timeout: 10_000 }).toBe(0);
    }
  });
});
