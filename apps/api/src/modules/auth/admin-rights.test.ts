// One authorisation rule: admin rights need the admin role *and*, for an API token, the admin
// scope. An admin's sessions:read / sessions:write tokens act like a member of the admin's groups;
// a demoted admin's admin and agent tokens stop working (and are revoked, audited).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZCreatedToken, ZSession, type TScope } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

describe.each(providers)("admin rights of a credential on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;
  let member: TestUser;
  let ownGroupService: { id: string };
  let otherGroupService: { id: string };

  beforeEach(async () => {
    t = await buildTestApp(provider);
    const own = await createGroup(t.app);
    const other = await createGroup(t.app);
    admin = await createUser(t.app, { role: "admin", groupIds: [own.id] });
    member = await createUser(t.app, { groupIds: [own.id, other.id] });
    ownGroupService = await createService(t.app, { groupIds: [own.id], requiresApproval: true });
    otherGroupService = await createService(t.app, { groupIds: [other.id] });
  });
  afterEach(async () => t.close());

  const token = async (who: TestUser, scopes: TScope[]) => {
    const res = await t.app.inject({ method: "POST", url: "/api/tokens", headers: who.headers, payload: { name: scopes.join("+"), scopes } });
    expect(res.statusCode, res.body).toBe(201);
    return ZCreatedToken.parse(res.json());
  };
  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  const start = async (serviceId: string) =>
    ZSession.parse(
      (await t.app.inject({ method: "POST", url: `/api/services/${serviceId}/sessions`, headers: member.headers, payload: { durationSeconds: 600 } })).json(),
    );

  it("an admin's sessions:write token cannot approve, deny or force-end", async () => {
    const write = await token(admin, ["sessions:write"]);
    const pending = await start(ownGroupService.id);
    const running = await start(otherGroupService.id);
    for (const verb of ["approve", "deny"]) {
      const res = await t.app.inject({ method: "POST", url: `/api/sessions/${pending.id}/${verb}`, headers: bearer(write.token) });
      expect(res.statusCode, `${verb}: ${res.body}`).toBe(403);
    }
    // The other group's session is not even visible to this token; in the admin's own group the
    // token may see it but not end someone else's.
    const hidden = await t.app.inject({ method: "DELETE", url: `/api/sessions/${running.id}`, headers: bearer(write.token) });
    expect(hidden.statusCode).toBe(404);
    const pendingEnd = await t.app.inject({ method: "DELETE", url: `/api/sessions/${pending.id}`, headers: bearer(write.token) });
    expect(pendingEnd.statusCode).toBe(403);
    expect((await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: pending.id } })).status).toBe("pending");
    expect((await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: running.id } })).status).toBe("active");

    // The same admin with the admin scope (or the login itself) may.
    const full = await token(admin, ["admin"]);
    const approved = await t.app.inject({ method: "POST", url: `/api/sessions/${pending.id}/approve`, headers: bearer(full.token) });
    expect(approved.statusCode, approved.body).toBe(200);
    const forced = await t.app.inject({ method: "DELETE", url: `/api/sessions/${running.id}`, headers: admin.headers });
    expect(forced.statusCode).toBe(200);
  });

  it("refuses a caller before reading the body: a refusal does not depend on what was sent", async () => {
    // Malformed JSON: were the body parsed first, each of these would be a 400 about it.
    const broken = { "content-type": "application/json" };
    const read = await token(member, ["sessions:read"]);
    const cases = [
      { who: "no one", url: `/api/services/${ownGroupService.id}/sessions`, headers: broken, status: 401 },
      { who: "a sessions:read token", url: `/api/services/${ownGroupService.id}/sessions`, headers: { ...broken, ...bearer(read.token) }, status: 403 },
      { who: "a member", url: "/api/services", headers: { ...broken, ...member.headers }, status: 403 },
    ];
    for (const c of cases) {
      const res = await t.app.inject({ method: "POST", url: c.url, headers: c.headers, payload: '{"durationSeconds": ' });
      expect(res.statusCode, `${c.who}: ${res.body}`).toBe(c.status);
    }
    // The body is read once the caller may call the route.
    const res = await t.app.inject({ method: "POST", url: `/api/services/${ownGroupService.id}/sessions`, headers: { ...broken, ...member.headers }, payload: '{"durationSeconds": ' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: "bad_request", details: [{ field: "body" }] } });
  });

  it("an admin's sessions:read token lists only the sessions of the admin's own groups", async () => {
    const read = await token(admin, ["sessions:read"]);
    const mine = await start(ownGroupService.id);
    const theirs = await start(otherGroupService.id);
    const listed = ZSession.array().parse((await t.app.inject({ url: "/api/sessions?active=true", headers: bearer(read.token) })).json());
    expect(listed.map((s) => s.id)).toEqual([mine.id]);
    const services = (await t.app.inject({ url: "/api/services", headers: bearer(read.token) })).json() as { id: string }[];
    expect(services.map((s) => s.id)).toEqual([ownGroupService.id]);
    const me = (await t.app.inject({ url: "/api/me", headers: bearer(read.token) })).json() as { permissions: string[] };
    expect(me.permissions).not.toContain("admin");
    // The admin's login sees both.
    const all = ZSession.array().parse((await t.app.inject({ url: "/api/sessions?active=true", headers: admin.headers })).json());
    expect(all.map((s) => s.id).sort()).toEqual([mine.id, theirs.id].sort());
  });

  it("a demoted admin's admin and agent tokens stop working at once and are revoked, audited", async () => {
    const other = await createUser(t.app, { role: "admin" });
    const adminToken = await token(admin, ["admin"]);
    const agentToken = await token(admin, ["agent"]);
    const readToken = await token(admin, ["sessions:read"]);
    expect((await t.app.inject({ url: "/api/users", headers: bearer(adminToken.token) })).statusCode).toBe(200);

    const demoted = await t.app.inject({ method: "PATCH", url: `/api/users/${admin.id}`, headers: other.headers, payload: { role: "member" } });
    expect(demoted.statusCode, demoted.body).toBe(200);
    expect((await t.app.inject({ url: "/api/users", headers: bearer(adminToken.token) })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/test", headers: bearer(agentToken.token) })).statusCode).toBe(401);
    // What a member may hold stays.
    expect((await t.app.inject({ url: "/api/me", headers: bearer(readToken.token) })).statusCode).toBe(200);
    const revoked = await t.app.ctx.db.auditEvent.findMany({ where: { action: "token.revoked" }, orderBy: { seq: "asc" } });
    expect(revoked.map((e) => e.target)).toEqual([`token:${adminToken.id}`, `token:${agentToken.id}`]);
    expect(revoked.every((e) => JSON.parse(e.details ?? "{}").cause === "owner is no longer an admin")).toBe(true);
    expect(revoked.every((e) => e.actorId === other.id)).toBe(true);
  });

  it("refuses a token whose scopes outgrew its owner even without the demotion's revocation", async () => {
    const adminToken = await token(admin, ["admin"]);
    // As if the role changed behind the API's back (a restored database, a manual edit).
    await t.app.ctx.db.user.update({ where: { id: admin.id }, data: { role: "member" } });
    expect((await t.app.inject({ url: "/api/me", headers: bearer(adminToken.token) })).statusCode).toBe(401);
  });

  it("an admin token cannot set an e-mail address while a provider links logins by it", async () => {
    await t.close();
    t = await buildTestApp(provider, {
      env: {
        POSTERN_OIDC_CORP_ISSUER: "http://127.0.0.1:9/unreachable",
        POSTERN_OIDC_CORP_CLIENT_ID: "postern",
        POSTERN_OIDC_CORP_LINK_BY_EMAIL: "true",
      },
    });
    admin = await createUser(t.app, { role: "admin" });
    const full = await token(admin, ["admin"]);
    const bearer = { authorization: `Bearer ${full.token}` };
    // Whoever holds that mailbox could then log in through the provider as the admin, for good.
    const set = await t.app.inject({ method: "PATCH", url: `/api/users/${admin.id}`, headers: bearer, payload: { email: "attacker@example.com" } });
    expect(set.statusCode, set.body).toBe(403);
    expect(set.body).toContain("body.email");
    const made = await t.app.inject({ method: "POST", url: "/api/users", headers: bearer, payload: { username: "mailbox", email: "attacker@example.com" } });
    expect(made.statusCode, made.body).toBe(403);
    expect((await t.app.ctx.db.user.findUniqueOrThrow({ where: { id: admin.id } })).email).toBeNull();
    // Clearing one, or any other field, is still the token's to do; an admin signed in may set it.
    expect((await t.app.inject({ method: "PATCH", url: `/api/users/${admin.id}`, headers: bearer, payload: { email: null, displayName: "Ops" } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: "PATCH", url: `/api/users/${admin.id}`, headers: admin.headers, payload: { email: "ops@example.com" } })).statusCode).toBe(200);
    // An edit that sends the address the user already has, as a form does, grants nothing new.
    const same = await t.app.inject({ method: "PATCH", url: `/api/users/${admin.id}`, headers: bearer, payload: { email: "ops@example.com", displayName: "Ops team" } });
    expect(same.statusCode, same.body).toBe(200);
    const other = await t.app.inject({ method: "PATCH", url: `/api/users/${admin.id}`, headers: bearer, payload: { email: "attacker@example.com", displayName: "x" } });
    expect(other.statusCode, other.body).toBe(403);
    expect(other.body).toContain("body.email");
    const kept = await t.app.ctx.db.user.findUniqueOrThrow({ where: { id: admin.id } });
    expect([kept.email, kept.displayName]).toEqual(["ops@example.com", "Ops team"]);
  });
});
