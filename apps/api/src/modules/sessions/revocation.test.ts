// Access follows permission: for each way of losing sight of a service × each open status, the
// session ends at once (status ended, endedBy the admin), the audit trail says `session.revoked`
// with the cause, and a live admin board hears of it. A booking made before never starts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZSession, type TLiveServerMessage, type TRevocationCause, type TSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { openLive, type LiveTestClient } from "../live/live.test-client";

type Loss = "member removed" | "service groups changed" | "group deleted" | "demoted" | "disabled";
type OpenStatus = "active" | "pending" | "scheduled" | "waiting" | "offered";

const causes: Record<Loss, TRevocationCause> = {
  "member removed": "member_removed",
  "service groups changed": "service_groups_changed",
  "group deleted": "group_deleted",
  demoted: "demoted",
  disabled: "user_disabled",
};
const losses = Object.keys(causes) as Loss[];
const statuses: OpenStatus[] = ["active", "pending", "scheduled", "waiting", "offered"];

describe.each(providers)("revocation on %s", (provider) => {
  let t: TestApp;
  let clock: TestClock;
  let admin: TestUser;
  let live: LiveTestClient;

  beforeAll(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_WAITLIST_OFFER_SECONDS: "600" } });
    admin = await createUser(t.app, { role: "admin" });
    live = await openLive(await t.app.listen({ port: 0, host: "127.0.0.1" }), admin.headers);
    await live.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
  });
  afterAll(async () => {
    await live?.close();
    await t?.close();
  });

  const call = async (method: "POST" | "PATCH" | "DELETE", url: string, who: TestUser, payload?: object) => {
    const res = await t.app.inject({ method, url, headers: who.headers, payload });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    return res;
  };

  /** A session of `holder` in `status` on a fresh service of a fresh group. */
  async function openSession(loss: Loss, status: OpenStatus) {
    const group = await createGroup(t.app);
    const service = await createService(t.app, {
      groupIds: [group.id],
      exclusive: status === "waiting" || status === "offered",
      requiresApproval: status === "pending",
    });
    // A demoted admin sees the service only as an admin; everyone else through the group.
    const holder = await createUser(t.app, loss === "demoted" ? { role: "admin" } : { groupIds: [group.id] });
    let session: TSession;
    if (status === "waiting" || status === "offered") {
      const other = await createUser(t.app, { groupIds: [group.id] });
      const held = ZSession.parse((await call("POST", `/api/services/${service.id}/sessions`, other, { durationSeconds: 600 })).json());
      session = ZSession.parse((await call("POST", `/api/services/${service.id}/waitlist`, holder, {})).json());
      if (status === "offered") {
        await call("DELETE", `/api/sessions/${held.id}`, other);
        await expect.poll(async () => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } })).status, { timeout: 10_000 }).toBe("offered");
      }
    } else {
      const startsAt = status === "scheduled" ? new Date(clock.now().getTime() + 3600_000).toISOString() : undefined;
      session = ZSession.parse((await call("POST", `/api/services/${service.id}/sessions`, holder, { durationSeconds: 600, startsAt })).json());
    }
    expect((await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } })).status).toBe(status);
    return { group, service, holder, session };
  }

  async function lose(loss: Loss, group: { id: string }, service: { id: string }, holder: TestUser) {
    if (loss === "member removed") await call("DELETE", `/api/groups/${group.id}/members/${holder.id}`, admin);
    if (loss === "service groups changed") await call("PATCH", `/api/services/${service.id}`, admin, { groupIds: [] });
    if (loss === "group deleted") await call("DELETE", `/api/groups/${group.id}`, admin);
    if (loss === "demoted") await call("PATCH", `/api/users/${holder.id}`, admin, { role: "member" });
    if (loss === "disabled") await call("PATCH", `/api/users/${holder.id}`, admin, { disabled: true });
  }

  for (const loss of losses) {
    for (const status of statuses) {
      it(`${loss} ends a ${status} session, audited and live`, async () => {
        const { group, service, holder, session } = await openSession(loss, status);
        await lose(loss, group, service, holder);

        const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } });
        expect(row).toMatchObject({ status: "ended", endedById: admin.id });
        const audit = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: session.id, action: "session.revoked" } });
        expect(audit.actorId).toBe(admin.id);
        expect(JSON.parse(audit.details ?? "{}")).toMatchObject({ reason: "access_revoked", cause: causes[loss], previousStatus: status });
        await live.waitFor(
          (ms) => ms.some((m) => m.type === "event" && m.event.type === "session.revoked" && m.event.session.id === session.id),
          "session.revoked on the live board",
        );
        const revoked = live.events().flatMap((m) => (m.event.type === "session.revoked" && m.event.session.id === session.id ? [m.event.session] : []));
        expect(revoked[0]).toMatchObject({ status: "ended", endedBy: { id: admin.id, username: admin.username } });
        // The holder can no longer see or touch it.
        const ended = await t.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: holder.headers });
        expect([401, 404]).toContain(ended.statusCode);
      });
    }
  }

  it("keeps the sessions of holders who still see the service another way", async () => {
    const [first, second] = [await createGroup(t.app), await createGroup(t.app)];
    const service = await createService(t.app, { groupIds: [first.id, second.id] });
    const both = await createUser(t.app, { groupIds: [first.id, second.id] });
    const onlyFirst = await createUser(t.app, { groupIds: [first.id] });
    const anAdmin = await createUser(t.app, { role: "admin" });
    const start = async (who: TestUser) =>
      ZSession.parse((await call("POST", `/api/services/${service.id}/sessions`, who, { durationSeconds: 600 })).json()).id;
    const [kept, revoked, admins] = [await start(both), await start(onlyFirst), await start(anAdmin)];
    await call("DELETE", `/api/groups/${first.id}/members/${both.id}`, admin);
    await call("DELETE", `/api/groups/${first.id}`, admin);
    const statusOf = async (id: string) => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id } })).status;
    expect([await statusOf(kept), await statusOf(revoked), await statusOf(admins)]).toEqual(["active", "ended", "active"]);
    expect(await t.app.ctx.db.auditEvent.count({ where: { sessionId: { in: [kept, admins] }, action: "session.revoked" } })).toBe(0);
  });

  it("ends every lost session of a group at once, each once, while a disabling of one member meets it", async () => {
    const group = await createGroup(t.app);
    const services = [await createService(t.app, { groupIds: [group.id] }), await createService(t.app, { groupIds: [group.id] })];
    const members = [await createUser(t.app, { groupIds: [group.id] }), await createUser(t.app, { groupIds: [group.id] }), await createUser(t.app, { groupIds: [group.id] })];
    const ids: string[] = [];
    for (const who of members) {
      for (const service of services) {
        ids.push(ZSession.parse((await call("POST", `/api/services/${service.id}/sessions`, who, { durationSeconds: 600 })).json()).id);
      }
    }
    // Both revocations want the first member's sessions; they take the locks in the same order.
    await Promise.all([
      call("DELETE", `/api/groups/${group.id}`, admin),
      call("PATCH", `/api/users/${members[0]!.id}`, admin, { disabled: true }),
    ]);
    const rows = await t.app.ctx.db.accessSession.findMany({ where: { id: { in: ids } } });
    expect(rows.map((r) => r.status)).toEqual(ids.map(() => "ended"));
    const revoked = await t.app.ctx.db.auditEvent.findMany({ where: { sessionId: { in: ids }, action: "session.revoked" } });
    expect(revoked.map((e) => e.sessionId).sort()).toEqual([...ids].sort());
    const heard = (id: string) => (ms: TLiveServerMessage[]) => ms.some((m) => m.type === "event" && m.event.type === "session.revoked" && m.event.session.id === id);
    await live.waitFor((ms) => ids.every((id) => heard(id)(ms)), "every revocation, live");
  });

  it("a window booked before the member was removed never starts", async () => {
    const { group, service, holder, session } = await openSession("member removed", "scheduled");
    await lose("member removed", group, service, holder);
    clock.advance(3600_000 + 1000);
    t.app.sessionClock.poke();
    await t.app.sessionClock.settled();
    const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } });
    expect(row.status).toBe("ended");
    expect(row.startedAt).toBeNull();
    expect(await t.app.ctx.db.auditEvent.count({ where: { sessionId: session.id, action: "session.started" } })).toBe(0);
  });

  it("a request approved after its requester lost the group is refused and ended, not started", async () => {
    const { group, holder, session } = await openSession("member removed", "pending");
    // Taken away behind the revocation's back (as a database restore or a bug elsewhere might):
    // the approval itself checks again.
    await t.app.ctx.db.groupMember.delete({ where: { groupId_userId: { groupId: group.id, userId: holder.id } } });
    const res = await t.app.inject({ method: "POST", url: `/api/sessions/${session.id}/approve`, headers: admin.headers });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: "conflict", message: expect.stringMatching(/may no longer see this service/) } });
    const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } });
    expect(row.status).toBe("ended");
    const audit = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { sessionId: session.id, action: "session.revoked" } });
    expect(JSON.parse(audit.details ?? "{}")).toMatchObject({ cause: "no_longer_visible" });
  });
});
