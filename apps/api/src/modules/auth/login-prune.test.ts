// Ended logins' rows are deleted once they are an hour past their end; live ones stay and work.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { authHeaders, buildTestApp, createUser, testClock, type TestApp, type TestClock } from "../../../test/app";
import { providers } from "../../../test/databases";
import { ENDED_LOGIN_KEEP_MS, loginOpening, PRUNE_EVERY, pruneEndedLogins } from "./login-prune";

describe.each(providers)("ended logins on %s", { timeout: 90_000 }, (provider) => {
  let t: TestApp;
  let clock: TestClock;
  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
  });
  afterEach(async () => t.close());

  const login = async (username: string, password: string) => {
    const res = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username, password } });
    expect(res.statusCode, res.body).toBe(200);
    return res;
  };

  it("are deleted an hour after they end; a live login is kept and still answers", async () => {
    const alice = await createUser(t.app, { username: "alice" });
    const now = clock.now().getTime();
    const userId = alice.id;
    const at = (ms: number) => new Date(now + ms);
    await t.app.ctx.db.loginSession.createMany({
      data: [
        { id: "expired-long-ago", userId, expiresAt: at(-ENDED_LOGIN_KEEP_MS - 60_000) },
        { id: "expired-lately", userId, expiresAt: at(-60_000) },
        { id: "revoked-long-ago", userId, expiresAt: at(86_400_000), revokedAt: at(-ENDED_LOGIN_KEEP_MS - 60_000) },
        { id: "revoked-lately", userId, expiresAt: at(86_400_000), revokedAt: at(-60_000) },
      ],
    });
    const live = await login("alice", alice.password);

    expect(await pruneEndedLogins(t.app.ctx)).toBe(2);
    const left = await t.app.ctx.db.loginSession.findMany({ where: { id: { in: ["expired-long-ago", "expired-lately", "revoked-long-ago", "revoked-lately"] } }, orderBy: { id: "asc" } });
    expect(left.map((r) => r.id)).toEqual(["expired-lately", "revoked-lately"]);
    expect((await t.app.inject({ url: "/api/me", headers: authHeaders(live) })).statusCode).toBe(200);

    // A logout's row goes an hour later; the login it ended stays refused all along.
    expect((await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: authHeaders(live) })).statusCode).toBe(200);
    clock.advance(ENDED_LOGIN_KEEP_MS + 1000);
    expect(await pruneEndedLogins(t.app.ctx)).toBe(3);
    expect((await t.app.inject({ url: "/api/me", headers: authHeaders(live) })).statusCode).toBe(401);
  });

  it("are pruned by the logins that follow, without a timer", async () => {
    const alice = await createUser(t.app, { username: "alice" });
    await t.app.ctx.db.loginSession.create({ data: { userId: alice.id, expiresAt: new Date(clock.now().getTime() - 2 * ENDED_LOGIN_KEEP_MS) } });
    const count = () => t.app.ctx.db.loginSession.count({ where: { userId: alice.id } });
    const before = await count();
    // Logins opened since the last pruning in this process, whichever test made them, then one
    // through the route: the pruning comes once within any PRUNE_EVERY openings.
    for (let i = 0; i < PRUNE_EVERY - 1; i += 1) await loginOpening(t.app.ctx);
    await login("alice", alice.password);
    expect(await count()).toBe(before);
  });
});
