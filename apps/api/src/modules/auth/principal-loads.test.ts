// The principal cache's loads in plain SQL give what Prisma's nested include gave, field for field,
// on both databases: the user with every column, the memberships with their groups by name.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";
import { userInclude } from "../users/users.presenter";
import { loadLogin, loadToken } from "./principal-loads";

describe.each(providers)("principal loads on %s", (provider) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp(provider);
  }, 120_000);
  afterAll(async () => t?.close());

  const db = () => t.app.ctx.db;
  const groupsNamed = (...names: string[]) => Promise.all(names.map((name) => db().group.create({ data: { name: `${name}-${provider}` } })));

  it("loads a login session's user with their groups, as Prisma's include does", async () => {
    // Created out of name order: the memberships come back by group name.
    const groups = await groupsNamed("zulu", "alpha", "mike");
    const user = await db().user.create({
      data: { username: `loads-${provider}`, email: "l@example.com", displayName: "Ünïcode \"quoted\"", passwordHash: "x", role: "admin", memberships: { create: groups.map((g) => ({ groupId: g.id })) } },
    });
    const login = await db().loginSession.create({ data: { userId: user.id, expiresAt: new Date(Date.now() + 60_000), revokedAt: new Date(Date.now() - 1000) } });
    const viaPrisma = await db().loginSession.findUnique({ where: { id: login.id }, include: { user: { include: userInclude } } });
    const loaded = await loadLogin(t.app.ctx, login.id);
    expect(loaded).toEqual({ expiresAt: viaPrisma!.expiresAt, revokedAt: viaPrisma!.revokedAt, user: viaPrisma!.user });
    expect(loaded!.user.memberships.map((m) => m.group?.name)).toEqual(["alpha", "mike", "zulu"].map((n) => `${n}-${provider}`));
    expect(await loadLogin(t.app.ctx, "no-such-login")).toBeUndefined();
  });

  it("loads a token with its owner, a user without groups, and a service token without one", async () => {
    const owner = await db().user.create({ data: { username: `owner-${provider}`, disabled: true } });
    const owned = await db().apiToken.create({ data: { name: "owned", prefix: `own${provider}`.padEnd(12, "0"), secretHash: "h", scopes: "services:read", userId: owner.id, lastUsedIp: "203.0.113.7" } });
    const service = await db().apiToken.create({ data: { name: "service", prefix: `svc${provider}`.padEnd(12, "0"), secretHash: "h", scopes: "relay:send", expiresAt: new Date(Date.now() + 60_000) } });
    for (const token of [owned, service]) {
      const viaPrisma = await db().apiToken.findUnique({ where: { prefix: token.prefix }, include: { user: { include: userInclude } } });
      expect(await loadToken(t.app.ctx, token.prefix)).toEqual(viaPrisma);
    }
    expect(await loadToken(t.app.ctx, "nothing00000")).toBeNull();
  });
});
