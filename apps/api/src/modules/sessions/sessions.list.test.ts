// `GET /api/sessions` with a question the board does not answer (a history: one's own, a service's,
// a person's, ended sessions): one plain read, with who may see what applied in it.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

vi.setConfig({ testTimeout: 120_000 });

describe.each(providers)("session lists on %s", (provider) => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  let ops: string;
  let shared: string;
  let hidden: string;
  const ids: Record<string, string> = {};
  beforeEach(async () => {
    const clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
    const opsGroup = (await createGroup(t.app)).id;
    const otherGroup = (await createGroup(t.app)).id;
    alice = await createUser(t.app, { groupIds: [opsGroup] });
    bob = await createUser(t.app, { groupIds: [opsGroup, otherGroup] });
    admin = await createUser(t.app, { role: "admin" });
    ops = (await createService(t.app, { groupIds: [opsGroup] })).id;
    shared = (await createService(t.app, { groupIds: [opsGroup, otherGroup] })).id;
    hidden = (await createService(t.app, { groupIds: [otherGroup] })).id;
    const start = async (who: TestUser, serviceId: string) => {
      clock.advance(1000);
      const res = await t.app.inject({ method: "POST", url: `/api/services/${serviceId}/sessions`, headers: who.headers, payload: { durationSeconds: 600 } });
      expect(res.statusCode, res.body).toBe(201);
      return ZSession.parse(res.json()).id;
    };
    ids.aliceOps = await start(alice, ops);
    ids.bobHidden = await start(bob, hidden);
    ids.bobShared = await start(bob, shared);
    ids.aliceShared = await start(alice, shared);
    // Ended by an admin: the list names who ended it.
    const ended = await t.app.inject({ method: "DELETE", url: `/api/sessions/${ids.aliceOps}`, headers: admin.headers });
    expect(ended.statusCode).toBe(200);
  });
  afterEach(async () => t.close());

  const list = async (who: TestUser, query: string) => {
    const res = await t.app.inject({ url: `/api/sessions?${query}`, headers: who.headers });
    expect(res.statusCode, res.body).toBe(200);
    return ZSession.array().parse(res.json());
  };
  const idsOf = (sessions: { id: string }[]) => sessions.map((s) => s.id);

  it("shows a member the sessions on services in their groups, newest request first, and an admin all", async () => {
    expect(idsOf(await list(alice, ""))).toEqual([ids.aliceShared, ids.bobShared, ids.aliceOps]);
    expect(idsOf(await list(bob, ""))).toEqual([ids.aliceShared, ids.bobShared, ids.bobHidden, ids.aliceOps]);
    expect(idsOf(await list(admin, ""))).toEqual([ids.aliceShared, ids.bobShared, ids.bobHidden, ids.aliceOps]);
    const loner = await createUser(t.app);
    expect(await list(loner, "")).toEqual([]);
  });

  it("answers each filter, alone and together", async () => {
    expect(idsOf(await list(alice, "mine=true"))).toEqual([ids.aliceShared, ids.aliceOps]);
    expect(idsOf(await list(bob, "mine=true"))).toEqual([ids.bobShared, ids.bobHidden]);
    // Someone else's history, only where the caller sees the service.
    expect(idsOf(await list(alice, `userId=${bob.id}`))).toEqual([ids.bobShared]);
    expect(idsOf(await list(alice, `serviceId=${shared}`))).toEqual([ids.aliceShared, ids.bobShared]);
    expect(await list(alice, `serviceId=${hidden}`)).toEqual([]);
    expect(idsOf(await list(alice, "active=false"))).toEqual([ids.aliceOps]);
    expect(idsOf(await list(bob, "active=true&mine=true"))).toEqual([ids.bobShared, ids.bobHidden]);
    expect(idsOf(await list(admin, `active=true&userId=${bob.id}&serviceId=${hidden}`))).toEqual([ids.bobHidden]);
    expect(idsOf(await list(admin, "limit=2"))).toEqual([ids.aliceShared, ids.bobShared]);
  });

  it("presents each session as the board does, with who ended it", async () => {
    const [ended] = await list(alice, "active=false");
    expect(ended).toMatchObject({ id: ids.aliceOps, status: "ended", serviceId: ops, userId: alice.id, user: { id: alice.id, username: alice.username } });
    expect(ended!.endedBy).toEqual({ id: admin.id, username: admin.username });
    const board = await list(alice, "active=true");
    const open = await list(alice, "active=true&mine=true");
    // The holder's own list carries the address a session admits; the board every member shares
    // does not (services.leaks.test.ts).
    expect(open.length).toBeGreaterThan(0);
    expect(open.every((s) => s.sourceIp !== undefined)).toBe(true);
    expect(open.map(({ sourceIp: _shownToTheHolder, ...rest }) => rest)).toEqual(board.filter((s) => s.userId === alice.id));
  });
});
