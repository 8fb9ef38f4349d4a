// Users and groups through the real admin routes, on SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ZErrorBody, ZGroup, ZSession, ZUser } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { rowCounts } from "../../../test/counts";
import { providers } from "../../../test/databases";
import { groupInclude, presentGroup, presentUser, userInclude } from "./users.presenter";

// A few seconds each on a quiet machine; the margin is for a loaded CI box.
vi.setConfig({ testTimeout: 120_000 });

const fieldsOf = (body: unknown) => (ZErrorBody.parse(body).error.details as { field: string }[]).map((d) => d.field);

describe.each(providers)("users and groups on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;
  beforeEach(async () => {
    t = await buildTestApp(provider);
    admin = await createUser(t.app, { role: "admin", username: "root-admin" });
  });
  afterEach(async () => t.close());

  it("creates users and groups, manages membership, and answers 409 for taken names", async () => {
    const group = await t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name: "ops" } });
    expect(group.statusCode).toBe(201);
    const ops = ZGroup.parse(group.json());
    expect(ops).toMatchObject({ name: "ops", members: [] });

    const created = await t.app.inject({
      method: "POST",
      url: "/api/users",
      headers: admin.headers,
      payload: { username: "frank", password: "frank-password", email: "frank@example.com", groupIds: [ops.id] },
    });
    expect(created.statusCode).toBe(201);
    const frank = ZUser.parse(created.json());
    expect(frank).toMatchObject({ username: "frank", email: "frank@example.com", role: "member", disabled: false, groups: [{ id: ops.id, name: "ops" }] });
    expect(created.body).not.toContain("passwordHash");
    // The new user can log in with the password the admin set.
    const login = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: "frank", password: "frank-password" } });
    expect(login.statusCode).toBe(200);

    const before = await rowCounts(t.app);
    const dupUser = await t.app.inject({ method: "POST", url: "/api/users", headers: admin.headers, payload: { username: "frank" } });
    expect(dupUser.statusCode).toBe(409);
    expect(ZErrorBody.parse(dupUser.json()).error).toMatchObject({ code: "conflict", message: 'username "frank" is already taken' });
    const dupGroup = await t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name: "ops" } });
    expect(dupGroup.statusCode).toBe(409);
    expect(await rowCounts(t.app)).toEqual(before);

    const gina = await createUser(t.app, { username: "gina" });
    const added = await t.app.inject({ method: "POST", url: `/api/groups/${ops.id}/members/${gina.id}`, headers: admin.headers });
    expect(added.statusCode).toBe(200);
    expect(ZGroup.parse(added.json()).members?.map((m) => m.username)).toEqual(["frank", "gina"]);
    const removed = await t.app.inject({ method: "DELETE", url: `/api/groups/${ops.id}/members/${frank.id}`, headers: admin.headers });
    expect(ZGroup.parse(removed.json()).members?.map((m) => m.username)).toEqual(["gina"]);

    const users = await t.app.inject({ method: "GET", url: "/api/users", headers: admin.headers });
    expect(z.array(ZUser).parse(users.json()).map((u) => u.username)).toEqual(["frank", "gina", "root-admin"]);
    const groups = await t.app.inject({ method: "GET", url: "/api/groups", headers: admin.headers });
    expect(z.array(ZGroup).parse(groups.json()).map((g) => g.name)).toEqual(["ops"]);

    const actions = (await t.app.ctx.db.auditEvent.findMany({ where: { actorId: admin.id }, orderBy: { seq: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(["group.created", "user.created", "group.member_added", "group.member_removed"]);
  });

  it("lists users and groups as Prisma's nested includes did: every field, by name", async () => {
    const [support, ops, empty] = [await createGroup(t.app, "support"), await createGroup(t.app, "ops"), await createGroup(t.app, "empty")];
    await createUser(t.app, { username: "zed", groupIds: [support.id, ops.id] });
    await createUser(t.app, { username: "amy", groupIds: [ops.id] });
    const off = await createUser(t.app, { username: "mo", role: "admin" });
    await t.app.inject({ method: "PATCH", url: `/api/users/${off.id}`, headers: admin.headers, payload: { disabled: true, email: "mo@example.com", displayName: "Mo" } });

    const users = await t.app.inject({ method: "GET", url: "/api/users", headers: admin.headers });
    const viaPrisma = (await t.app.ctx.db.user.findMany({ include: userInclude, orderBy: { username: "asc" } })).map(presentUser);
    expect(z.array(ZUser).parse(users.json())).toEqual(viaPrisma);
    expect(viaPrisma.map((u) => u.username)).toEqual(["amy", "mo", "root-admin", "zed"]);
    expect(viaPrisma.find((u) => u.username === "zed")?.groups.map((g) => g.name)).toEqual(["ops", "support"]);
    expect(viaPrisma.find((u) => u.username === "mo")).toMatchObject({ disabled: true, email: "mo@example.com", displayName: "Mo", role: "admin", groups: [] });

    const groups = await t.app.inject({ method: "GET", url: "/api/groups", headers: admin.headers });
    const groupsViaPrisma = (await t.app.ctx.db.group.findMany({ include: groupInclude, orderBy: { name: "asc" } })).map(presentGroup);
    expect(z.array(ZGroup).parse(groups.json())).toEqual(groupsViaPrisma);
    expect(groupsViaPrisma.find((g) => g.id === ops.id)?.members?.map((m) => m.username)).toEqual(["amy", "zed"]);
    expect(groupsViaPrisma.find((g) => g.id === empty.id)?.members).toEqual([]);
  });

  it("answers a membership change with the group as Prisma's nested includes did, and records a repeat not at all", async () => {
    const [ops, support] = [await createGroup(t.app, "ops"), await createGroup(t.app, "support")];
    const zed = await createUser(t.app, { username: "zed", groupIds: [support.id] });
    const amy = await createUser(t.app, { username: "amy", groupIds: [ops.id, support.id] });
    await t.app.inject({ method: "PATCH", url: `/api/users/${zed.id}`, headers: admin.headers, payload: { email: "zed@example.com", displayName: "Zed" } });
    const member = (method: "POST" | "DELETE", userId: string) =>
      t.app.inject({ method, url: `/api/groups/${ops.id}/members/${userId}`, headers: admin.headers });
    const viaPrisma = async () => presentGroup(await t.app.ctx.db.group.findUniqueOrThrow({ where: { id: ops.id }, include: groupInclude }));
    const membershipEvents = () => t.app.ctx.db.auditEvent.count({ where: { action: { startsWith: "group.member_" } } });

    const added = await member("POST", zed.id);
    expect(added.statusCode).toBe(200);
    expect(ZGroup.parse(added.json())).toEqual(await viaPrisma());
    expect(ZGroup.parse(added.json()).members?.map((m) => [m.username, m.groups.map((g) => g.name)])).toEqual([
      ["amy", ["ops", "support"]],
      ["zed", ["ops", "support"]],
    ]);
    const events = await membershipEvents();
    // Adding a member again, or removing one who is not, changes and records nothing.
    expect(ZGroup.parse((await member("POST", zed.id)).json())).toEqual(await viaPrisma());
    const removed = await member("DELETE", amy.id);
    expect(ZGroup.parse(removed.json())).toEqual(await viaPrisma());
    expect(ZGroup.parse((await member("DELETE", amy.id)).json())).toEqual(await viaPrisma());
    expect(await membershipEvents()).toBe(events + 1);
    expect(await t.app.ctx.db.groupMember.count({ where: { groupId: ops.id } })).toBe(1);
  });

  it("disabling a user ends their sessions and logins; enabling lets them log in again", async () => {
    const service = await createService(t.app, { exclusive: true });
    const holder = await createUser(t.app, { role: "admin" });
    const started = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: holder.headers, payload: { durationSeconds: 600 } });
    const session = ZSession.parse(started.json());

    const disabled = await t.app.inject({ method: "PATCH", url: `/api/users/${holder.id}`, headers: admin.headers, payload: { disabled: true } });
    expect(disabled.statusCode).toBe(200);
    expect(ZUser.parse(disabled.json()).disabled).toBe(true);
    expect((await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } })).status).toBe("ended");
    expect((await t.app.inject({ method: "GET", url: "/api/me", headers: holder.headers })).statusCode).toBe(401);
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "user.disabled", target: `user:${holder.id}` } })).toBe(1);
    const revoked = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { action: "session.revoked", sessionId: session.id } });
    expect(JSON.parse(revoked.details ?? "{}")).toMatchObject({ cause: "user_disabled", reason: "access_revoked", previousStatus: "active" });

    const enabled = await t.app.inject({ method: "PATCH", url: `/api/users/${holder.id}`, headers: admin.headers, payload: { disabled: false } });
    expect(ZUser.parse(enabled.json()).disabled).toBe(false);
    const login = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: holder.username, password: holder.password } });
    expect(login.statusCode).toBe(200);
  });

  it("keeps user and group management to admins (403) and away from anonymous callers (401)", async () => {
    const member = await createUser(t.app);
    const group = await createGroup(t.app);
    const before = await rowCounts(t.app);
    const routes = [
      { method: "GET" as const, url: "/api/users" },
      { method: "POST" as const, url: "/api/users", payload: { username: "mallory", password: "mallory-password", role: "admin" } },
      { method: "PATCH" as const, url: `/api/users/${member.id}`, payload: { role: "admin" } },
      { method: "GET" as const, url: "/api/groups" },
      { method: "POST" as const, url: "/api/groups", payload: { name: "mine" } },
      { method: "POST" as const, url: `/api/groups/${group.id}/members/${member.id}` },
      { method: "DELETE" as const, url: `/api/groups/${group.id}/members/${member.id}` },
    ];
    for (const route of routes) {
      const asMember = await t.app.inject({ ...route, headers: member.headers });
      expect(asMember.statusCode, `${route.method} ${route.url}`).toBe(403);
      expect(ZErrorBody.parse(asMember.json()).error.code).toBe("forbidden");
      const anonymous = await t.app.inject(route);
      expect(anonymous.statusCode, `${route.method} ${route.url}`).toBe(401);
      expect(ZErrorBody.parse(anonymous.json()).error.code).toBe("unauthorized");
    }
    expect(await rowCounts(t.app)).toEqual(before);
    expect((await t.app.ctx.db.user.findUniqueOrThrow({ where: { id: member.id } })).role).toBe("member");
  });

  it("names the field of bad user and group input, answers 404 for unknown ids, and writes nothing", async () => {
    const member = await createUser(t.app);
    const group = await createGroup(t.app);
    const before = await rowCounts(t.app);
    const cases: ["POST" | "PATCH", string, object, string][] = [
      ["POST", "/api/users", {}, "body.username"],
      ["POST", "/api/users", { username: "has space" }, "body.username"],
      ["POST", "/api/users", { username: "ok", password: "short" }, "body.password"],
      ["POST", "/api/users", { username: "ok", role: "root" }, "body.role"],
      ["POST", "/api/users", { username: "ok", email: "not-an-email" }, "body.email"],
      ["POST", "/api/users", { username: "ok", groupIds: ["no-such-group"] }, "body.groupIds"],
      ["POST", "/api/users", { username: 42 }, "body.username"],
      ["PATCH", `/api/users/${member.id}`, { disabled: "yes" }, "body.disabled"],
      ["PATCH", `/api/users/${member.id}`, { groupIds: [group.id, "no-such-group"] }, "body.groupIds"],
      ["PATCH", `/api/users/${admin.id}`, { disabled: true }, "body.disabled"],
      ["PATCH", `/api/users/${admin.id}`, { role: "member" }, "body.role"],
      ["POST", "/api/groups", {}, "body.name"],
      ["POST", "/api/groups", { name: ["ops"] }, "body.name"],
    ];
    for (const [method, url, payload, field] of cases) {
      const res = await t.app.inject({ method, url, headers: admin.headers, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(fieldsOf(res.json()), JSON.stringify(payload)).toContain(field);
    }
    const notFound = [
      await t.app.inject({ method: "PATCH", url: "/api/users/no-such-user", headers: admin.headers, payload: { displayName: "x" } }),
      await t.app.inject({ method: "POST", url: `/api/groups/no-such-group/members/${member.id}`, headers: admin.headers }),
      await t.app.inject({ method: "POST", url: `/api/groups/${group.id}/members/no-such-user`, headers: admin.headers }),
    ];
    expect(notFound.map((r) => [r.statusCode, ZErrorBody.parse(r.json()).error.message])).toEqual([
      [404, "user not found"],
      [404, "group not found"],
      [404, "user not found"],
    ]);
    expect(await rowCounts(t.app)).toEqual(before);
  });
});
