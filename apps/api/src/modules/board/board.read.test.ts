// The board's plain-SQL read (board.read.ts) against Prisma's read of the same rows with the
// includes it replaced: for admins and for a member's class, every service and open session must
// be presented alike — groups, the exclusive holder, a gateway's status, the order of both lists.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPEN_STATUSES } from "@postern/contracts";
import type { Prisma } from "@postern/db";
import { buildTestApp, createGroup, createService, createUser, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";
import { ADMIN_CLASS, classOf, type VisibilityClass } from "../live/live.audience";
import { presentService, serviceInclude } from "../services/services.presenter";
import { presentSession, sessionInclude } from "../sessions/sessions.presenter";
import { readBoard } from "./board.read";

describe.each(providers)("the board's plain-SQL read (%s)", { timeout: 60_000 }, (provider) => {
  let t: TestApp;
  let member: VisibilityClass;
  let outsider: VisibilityClass;

  beforeAll(async () => {
    t = await buildTestApp(provider);
    const [team, ops, other] = [await createGroup(t.app), await createGroup(t.app), await createGroup(t.app)];
    member = classOf({ admin: false, groupIds: [team.id, ops.id] });
    outsider = classOf({ admin: false, groupIds: [(await createGroup(t.app)).id] });
    const db = t.app.ctx.db;
    const agent = await db.agent.create({
      data: { name: `edge-${provider}`, online: true, lastSeenAt: new Date(), rulesApplied: 1, rulesDesired: 2, lastError: "nft lacks privileges" },
    });
    const exclusive = await createService(t.app, { name: "b exclusive", exclusive: true, groupIds: [team.id, ops.id] });
    const shared = await createService(t.app, { name: "a shared", groupIds: [team.id] });
    const approval = await createService(t.app, { name: "c approval", requiresApproval: true, groupIds: [ops.id] });
    const hidden = await createService(t.app, { name: "d hidden", groupIds: [other.id] });
    await createService(t.app, { name: "e nobody's" });
    // Ordered by connection first: some with one, some without (each database puts nulls its own way).
    await db.service.update({ where: { id: shared.id }, data: { connectionMain: "Customer B", connectionSub: "VPN" } });
    await db.service.update({ where: { id: hidden.id }, data: { connectionMain: "Customer A" } });
    await db.service.update({
      where: { id: exclusive.id },
      data: { gatewayAgentId: agent.id, gatewayPublicPort: 18080, gatewayLanHost: "10.9.0.2", gatewayLanPort: 80, gatewayProtocol: "tcp" },
    });
    const users = await Promise.all([0, 1, 2, 3].map(() => createUser(t.app, { groupIds: [team.id, ops.id, other.id] })));
    const start = async (serviceId: string, who: number) => {
      const res = await t.app.inject({
        method: "POST",
        url: `/api/services/${serviceId}/sessions`,
        headers: users[who]!.headers,
        payload: { durationSeconds: 600, sourceIp: `198.51.100.${who + 1}` },
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
      return res.json() as { id: string };
    };
    await start(exclusive.id, 0);
    await start(shared.id, 1);
    await start(shared.id, 2);
    const ended = await start(shared.id, 3);
    expect((await t.app.inject({ method: "DELETE", url: `/api/sessions/${ended.id}`, headers: users[3]!.headers })).statusCode).toBe(200);
    await start(approval.id, 2); // pending
    await start(hidden.id, 3);
  });
  afterAll(async () => t.close());

  /** The board as Prisma read it before: two finds with the includes the presenters were written for. */
  async function prismaBoard(cls: VisibilityClass) {
    const where: Prisma.ServiceWhereInput = cls.admin ? {} : { groups: { some: { groupId: { in: [...cls.groupIds] } } } };
    const [services, sessions] = await Promise.all([
      t.app.ctx.db.service.findMany({ where, include: serviceInclude, orderBy: [{ connectionMain: "asc" }, { name: "asc" }] }),
      t.app.ctx.db.accessSession.findMany({
        where: { service: where, status: { in: [...OPEN_STATUSES] } },
        include: sessionInclude,
        orderBy: [{ requestedAt: "desc" }, { id: "desc" }],
      }),
    ]);
    return { services, sessions };
  }

  it.each([
    ["admins", () => ADMIN_CLASS],
    ["a member of two groups", () => member],
    ["a member of a group with no services", () => outsider],
  ])("presents what Prisma's read presented, for %s", async (_, cls) => {
    const now = new Date();
    const view = { detail: cls().admin, now };
    const sql = await readBoard(t.app.ctx, cls());
    const prisma = await prismaBoard(cls());
    const sorted = <T extends { groupIds: string[] }>(s: T) => ({ ...s, groupIds: [...s.groupIds].sort() });
    expect(sql.services.map((s) => sorted(presentService(s, view)))).toEqual(prisma.services.map((s) => sorted(presentService(s, view))));
    expect(sql.sessions.map(presentSession)).toEqual(prisma.sessions.map(presentSession));
    if (cls() === outsider) expect(sql.services).toEqual([]);
    else expect(sql.sessions.length).toBeGreaterThan(0);
  });

  it("shows the exclusive holder, the gateway's status to admins only, and nothing hidden", async () => {
    const now = new Date();
    const admin = (await readBoard(t.app.ctx, ADMIN_CLASS)).services.map((s) => presentService(s, { detail: true, now }));
    const mine = (await readBoard(t.app.ctx, member)).services.map((s) => presentService(s, { detail: false, now }));
    expect(admin.map((s) => s.name)).toContain("d hidden");
    expect(mine.map((s) => s.name).sort()).toEqual(["a shared", "b exclusive", "c approval"]);
    const exclusive = mine.find((s) => s.name === "b exclusive");
    expect(exclusive).toMatchObject({ activeSessions: 1, gatewayStatus: { online: true, inSync: false } });
    expect(exclusive?.holder?.username).toBeDefined();
    expect(exclusive?.gatewayStatus?.error).toBeUndefined();
    expect(admin.find((s) => s.name === "b exclusive")?.gatewayStatus).toEqual({ online: true, inSync: false, error: "nft lacks privileges" });
    expect(mine.find((s) => s.name === "a shared")).toMatchObject({ activeSessions: 2, connection: { main: "Customer B", sub: "VPN" } });
  });
});
