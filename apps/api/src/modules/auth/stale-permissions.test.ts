// The caches that make reads fast (the principal cache and the board per visibility class) never
// answer with a permission that was just taken away: the very next request after the change is
// decided on the new rights, for cookies and API tokens alike.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZErrorBody, ZMe, ZService } from "@postern/contracts";
import { queriesSent } from "@postern/db";
import { authHeaders, buildTestApp, createGroup, createService, createUser, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";

describe.each(providers)("no stale permission from the caches (%s)", (provider) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp(provider);
  });
  afterEach(async () => t.close());

  async function tokenOf(headers: Record<string, string>, scopes: string[]) {
    const res = await t.app.inject({ method: "POST", url: "/api/tokens", headers, payload: { name: "cache test", scopes } });
    expect(res.statusCode).toBe(201);
    return { authorization: `Bearer ${(res.json() as { token: string }).token}` };
  }

  const serviceIds = async (headers: Record<string, string>) => {
    const res = await t.app.inject({ method: "GET", url: "/api/services", headers });
    expect(res.statusCode).toBe(200);
    return (res.json() as unknown[]).map((s) => ZService.parse(s).id);
  };

  it("a member removed from a group loses its services on the very next request", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [group.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const bob = await createUser(t.app, { groupIds: [group.id] });
    const bobToken = await tokenOf(bob.headers, ["sessions:read"]);
    // Warm every cache on the way: the principal (cookie and token) and Bob's board.
    for (let i = 0; i < 2; i++) {
      expect(await serviceIds(bob.headers)).toContain(service.id);
      expect(await serviceIds(bobToken)).toContain(service.id);
      expect((await t.app.inject({ method: "GET", url: `/api/services/${service.id}`, headers: bobToken })).statusCode).toBe(200);
    }

    const removed = await t.app.inject({ method: "DELETE", url: `/api/groups/${group.id}/members/${bob.id}`, headers: admin.headers });
    expect(removed.statusCode).toBe(200);

    expect(await serviceIds(bob.headers)).not.toContain(service.id);
    expect(await serviceIds(bobToken)).not.toContain(service.id);
    expect((await t.app.inject({ method: "GET", url: `/api/services/${service.id}`, headers: bob.headers })).statusCode).toBe(404);
    const start = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: bob.headers, payload: {} });
    expect(start.statusCode).toBe(404);
    const me = await t.app.inject({ method: "GET", url: "/api/me", headers: bob.headers });
    expect(ZMe.parse(me.json()).user.groups).toEqual([]);
  });

  it("a demoted admin is refused admin routes on the very next request", async () => {
    const admin = await createUser(t.app, { role: "admin" });
    const carol = await createUser(t.app, { role: "admin" });
    for (let i = 0; i < 2; i++) expect((await t.app.inject({ method: "GET", url: "/api/users", headers: carol.headers })).statusCode).toBe(200);
    const demoted = await t.app.inject({ method: "PATCH", url: `/api/users/${carol.id}`, headers: admin.headers, payload: { role: "member" } });
    expect(demoted.statusCode).toBe(200);
    expect((await t.app.inject({ method: "GET", url: "/api/users", headers: carol.headers })).statusCode).toBe(403);
  });

  it("a disabled user is refused on the very next request, cookie and token", async () => {
    const admin = await createUser(t.app, { role: "admin" });
    const dave = await createUser(t.app);
    const daveToken = await tokenOf(dave.headers, ["sessions:read"]);
    for (let i = 0; i < 2; i++) {
      expect((await t.app.inject({ method: "GET", url: "/api/me", headers: dave.headers })).statusCode).toBe(200);
      expect((await t.app.inject({ method: "GET", url: "/api/services", headers: daveToken })).statusCode).toBe(200);
    }
    const disabled = await t.app.inject({ method: "PATCH", url: `/api/users/${dave.id}`, headers: admin.headers, payload: { disabled: true } });
    expect(disabled.statusCode).toBe(200);
    for (let i = 0; i < 2; i++) {
      const me = await t.app.inject({ method: "GET", url: "/api/me", headers: dave.headers });
      expect(me.statusCode).toBe(401);
      expect(ZErrorBody.parse(me.json()).error.message).toContain("disabled");
      expect((await t.app.inject({ method: "GET", url: "/api/services", headers: daveToken })).statusCode).toBe(401);
    }
  });

  it("refuses a logged-out cookie and an unknown token from memory after the first time", async () => {
    const erin = await createUser(t.app);
    const loggedOut = { cookie: erin.headers.cookie ?? "", "x-postern-csrf": "1" };
    expect((await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: loggedOut })).statusCode).toBe(200);
    const unknownToken = { authorization: `Bearer pst_0123456789ab_${"x".repeat(43)}` };
    for (const headers of [{ cookie: loggedOut.cookie }, unknownToken]) {
      // The first refusal asks the database; the ones after it come from memory, and say the same.
      const first = await t.app.inject({ method: "GET", url: "/api/me", headers });
      expect(first.statusCode).toBe(401);
      const before = queriesSent();
      for (let i = 0; i < 5; i++) {
        const again = await t.app.inject({ method: "GET", url: "/api/me", headers });
        expect(again.statusCode).toBe(401);
        expect(again.json()).toEqual(first.json());
      }
      expect(queriesSent() - before).toBe(0);
    }
    // Erin's next login is a new session, unaffected.
    const login = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: erin.username, password: erin.password } });
    expect(login.statusCode).toBe(200);
    expect((await t.app.inject({ method: "GET", url: "/api/me", headers: authHeaders(login) })).statusCode).toBe(200);
  });
});
