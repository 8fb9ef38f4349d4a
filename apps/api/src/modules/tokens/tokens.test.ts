// API tokens, Basic-for-bearer exchange, CSRF and rate limits, on real databases.
import { Writable } from "node:stream";
import Fastify, { type FastifyInstance, type RouteOptions } from "fastify";
import fp from "fastify-plugin";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ZCreatedToken, ZErrorBody, ZToken, type TScope } from "@postern/contracts";
import { openDatabase } from "@postern/db";
import serviceApp from "../../app";
import { loadConfig } from "../../config";
import { BODY_LIMIT } from "../../server";
import { tokenAllows } from "../../plugins/auth";
import { buildTestApp, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { createTestDatabase, providers } from "../../../test/databases";
import { presentToken } from "./tokens.presenter";

const ALL_SCOPES: TScope[] = ["sessions:read", "sessions:write", "relay:send", "agent", "tunnel:manage", "admin"];

async function mintToken(app: FastifyInstance, owner: TestUser, scopes: TScope[], extra: Record<string, unknown> = {}) {
  const res = await app.inject({ method: "POST", url: "/api/tokens", headers: owner.headers, payload: { name: `t-${scopes.join("-")}`, scopes, ...extra } });
  if (res.statusCode !== 201) throw new Error(`token creation failed: ${res.body}`);
  return ZCreatedToken.parse(res.json());
}

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

describe.each(providers)("API tokens (%s)", (provider) => {
  let t: TestApp;
  let clock: TestClock;
  let admin: TestUser;
  let member: TestUser;

  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
    admin = await createUser(t.app, { role: "admin" });
    member = await createUser(t.app);
  });
  afterEach(async () => {
    await t.close();
  });

  it("creates a token whose secret is shown once and stored only as a hash; members see only their own", async () => {
    const created = await mintToken(t.app, member, ["sessions:read", "relay:send"], { expiresAt: new Date(clock.now().getTime() + 86_400_000).toISOString() });
    expect(created.token).toMatch(/^pst_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.token.startsWith(created.prefix)).toBe(true);
    expect(created).toMatchObject({ scopes: ["sessions:read", "relay:send"], userId: member.id });

    const row = await t.app.ctx.db.apiToken.findUniqueOrThrow({ where: { id: created.id } });
    // The secret is everything after `pst_<prefix>_` (base64url, so it may itself hold "_").
    const secretPart = created.token.slice("pst_".length + 13);
    for (const value of Object.values(row)) {
      expect(String(value)).not.toContain(secretPart);
    }
    expect(row.secretHash).toMatch(/^[0-9a-f]{64}$/);

    await mintToken(t.app, admin, ["admin"]);
    const mine = await t.app.inject({ url: "/api/tokens", headers: member.headers });
    const list = ZToken.array().parse(mine.json());
    expect(list.map((x) => x.id)).toEqual([created.id]);
    expect(JSON.stringify(mine.json())).not.toContain(secretPart);
    const all = ZToken.array().parse((await t.app.inject({ url: "/api/tokens", headers: admin.headers })).json());
    expect(all).toHaveLength(2);
    // Every field as Prisma reads it, newest first: a last use, a revocation, an expiry.
    const revokedAt = clock.now();
    await t.app.ctx.db.apiToken.update({ where: { id: created.id }, data: { lastUsedAt: new Date(revokedAt.getTime() - 1234), lastUsedIp: "10.0.0.7", revokedAt } });
    const listed = ZToken.array().parse((await t.app.inject({ url: "/api/tokens", headers: admin.headers })).json());
    const viaPrisma = (await t.app.ctx.db.apiToken.findMany({ orderBy: [{ createdAt: "desc" }, { id: "desc" }] })).map(presentToken);
    expect(listed).toEqual(viaPrisma);
    expect(listed.find((x) => x.id === created.id)).toMatchObject({ lastUsedIp: "10.0.0.7", revokedAt: revokedAt.toISOString(), expiresAt: created.expiresAt });

    const audit = await t.app.ctx.db.auditEvent.findMany({ where: { action: "token.created" } });
    expect(audit).toHaveLength(2);
    expect(audit.map((a) => a.details).join()).not.toContain(secretPart);
  });

  it("lets a member grant only scopes they hold; service tokens are for admins", async () => {
    for (const scope of ["admin", "agent", "tunnel:manage"] as const) {
      const res = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "x", scopes: ["sessions:read", scope] } });
      expect(res.statusCode).toBe(403);
      expect(ZErrorBody.parse(res.json()).error.message).toContain(scope);
    }
    const service = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "x", scopes: ["relay:send"], service: true } });
    expect(service.statusCode).toBe(403);
    expect(await t.app.ctx.db.apiToken.count()).toBe(0);

    const bad = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "x", scopes: ["root"] } });
    expect(bad.statusCode).toBe(400);
    expect(ZErrorBody.parse(bad.json()).error.message).toContain("body.scopes");
    const past = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "x", scopes: ["sessions:read"], expiresAt: "2001-01-01T00:00:00Z" } });
    expect(past.statusCode).toBe(400);
    expect(ZErrorBody.parse(past.json()).error.message).toContain("body.expiresAt");

    const agent = await mintToken(t.app, admin, ["agent"], { service: true });
    expect(agent.userId).toBeUndefined();
    // A token never mints beyond its own scopes, even with the admin scope.
    const adminToken = await mintToken(t.app, admin, ["admin"]);
    const beyond = await t.app.inject({
      method: "POST",
      url: "/api/tokens",
      headers: { authorization: `Bearer ${adminToken.token}` },
      payload: { name: "y", scopes: ["agent"] },
    });
    expect(beyond.statusCode).toBe(403);
  });

  it("a token grants what its scopes imply (admin: sessions), no more, and what it grants is revoked with it", async () => {
    const maker = await mintToken(t.app, admin, ["admin"]);
    const automation = { authorization: `Bearer ${maker.token}` };
    expect((await t.app.inject({ method: "GET", url: "/api/services", headers: automation })).statusCode).toBe(200);
    const narrower = await t.app.inject({ method: "POST", url: "/api/tokens", headers: automation, payload: { name: "reader", scopes: ["sessions:read", "sessions:write"] } });
    expect(narrower.statusCode, narrower.body).toBe(201);
    const reader = ZCreatedToken.parse(narrower.json());
    expect(reader).toMatchObject({ scopes: ["sessions:read", "sessions:write"], userId: admin.id });
    expect((await t.app.inject({ method: "GET", url: "/api/services", headers: { authorization: `Bearer ${reader.token}` } })).statusCode).toBe(200);

    // The admin scope does not imply relay:send, though an admin signed in may grant it.
    const relay = await t.app.inject({ method: "POST", url: "/api/tokens", headers: automation, payload: { name: "monitor", scopes: ["relay:send"] } });
    expect(relay.statusCode).toBe(403);
    expect(ZErrorBody.parse(relay.json()).error.message).toContain("relay:send");

    expect((await t.app.inject({ method: "DELETE", url: `/api/tokens/${maker.id}`, headers: admin.headers })).statusCode).toBe(200);
    expect((await t.app.inject({ method: "GET", url: "/api/services", headers: { authorization: `Bearer ${reader.token}` } })).statusCode).toBe(401);
  });

  it("a token never creates one that outlives it: no service tokens, no later expiry, revoked with it", async () => {
    const hour = new Date(clock.now().getTime() + 3_600_000);
    const maker = await mintToken(t.app, admin, ["admin", "sessions:read"], { expiresAt: hour.toISOString() });
    const asMaker = { authorization: `Bearer ${maker.token}` };
    const create = (payload: Record<string, unknown>, headers: Record<string, string> = asMaker) =>
      t.app.inject({ method: "POST", url: "/api/tokens", headers, payload: { name: "child", scopes: ["sessions:read"], ...payload } });

    const service = await create({ service: true });
    expect(service.statusCode).toBe(403);
    expect(ZErrorBody.parse(service.json()).error.message).toContain("service tokens");
    const later = await create({ expiresAt: new Date(hour.getTime() + 1000).toISOString() });
    expect(later.statusCode).toBe(400);
    expect(ZErrorBody.parse(later.json()).error.message).toContain("body.expiresAt");
    expect(await t.app.ctx.db.apiToken.count()).toBe(1);

    // Without an expiry the child takes its maker's; an earlier one is kept.
    const child = ZCreatedToken.parse((await create({ scopes: ["admin", "sessions:read"] })).json());
    expect(child.expiresAt).toBe(hour.toISOString());
    const soon = new Date(hour.getTime() - 60_000).toISOString();
    const sibling = ZCreatedToken.parse((await create({ expiresAt: soon })).json());
    expect(sibling.expiresAt).toBe(soon);
    // A token made by the child, and one the admin made signed in, which nothing ties to the maker.
    const grandchild = ZCreatedToken.parse((await create({}, { authorization: `Bearer ${child.token}` })).json());
    const own = await mintToken(t.app, admin, ["sessions:read"]);

    const read = (token: string) => t.app.inject({ url: "/api/services", headers: { authorization: `Bearer ${token}` } });
    expect((await read(grandchild.token)).statusCode).toBe(200);
    expect((await t.app.inject({ method: "DELETE", url: `/api/tokens/${maker.id}`, headers: admin.headers })).statusCode).toBe(200);
    for (const token of [maker, child, sibling, grandchild]) expect((await read(token.token)).statusCode).toBe(401);
    expect((await read(own.token)).statusCode).toBe(200);
    const revoked = await t.app.ctx.db.auditEvent.findMany({ where: { action: "token.revoked" }, orderBy: { seq: "asc" } });
    expect(revoked.map((e) => e.target)).toHaveLength(4);
    expect(JSON.parse(revoked[3]!.details ?? "{}").cause).toContain(child.prefix);

    // A token without an expiry still cannot mint a service token.
    const forever = await mintToken(t.app, admin, ["admin"]);
    const fromForever = await create({ service: true }, { authorization: `Bearer ${forever.token}` });
    expect(fromForever.statusCode).toBe(403);
  });

  it("a demotion revokes the admin's tokens beyond a member's scopes, and what those created", async () => {
    const other = await createUser(t.app, { role: "admin" });
    const maker = await mintToken(t.app, other, ["admin", "sessions:read"]);
    const minted = await t.app.inject({
      method: "POST",
      url: "/api/tokens",
      headers: { authorization: `Bearer ${maker.token}` },
      payload: { name: "child", scopes: ["sessions:read"] },
    });
    const child = ZCreatedToken.parse(minted.json());
    const own = await mintToken(t.app, other, ["sessions:read"]);
    const demoted = await t.app.inject({ method: "PATCH", url: `/api/users/${other.id}`, headers: admin.headers, payload: { role: "member" } });
    expect(demoted.statusCode, demoted.body).toBe(200);
    const read = (token: string) => t.app.inject({ url: "/api/services", headers: { authorization: `Bearer ${token}` } });
    expect((await read(maker.token)).statusCode).toBe(401);
    expect((await read(child.token)).statusCode).toBe(401);
    // One the member made signed in, within a member's scopes, stays.
    expect((await read(own.token)).statusCode).toBe(200);
    const revoked = await t.app.ctx.db.auditEvent.findMany({ where: { action: "token.revoked" }, orderBy: { seq: "asc" } });
    expect(revoked.map((e) => JSON.parse(e.details ?? "{}").cause)).toEqual(["owner is no longer an admin", expect.stringContaining(maker.prefix)]);
  });

  it("a token revoked while its request was under way creates nothing", async () => {
    const maker = await mintToken(t.app, admin, ["admin", "sessions:read"]);
    const asMaker = { authorization: `Bearer ${maker.token}` };
    expect((await t.app.inject({ url: "/api/me", headers: asMaker })).statusCode).toBe(200);
    // The revocation commits after the request was let in and before its transaction: here the
    // row is changed behind the instance's back, so it still admits the maker from memory, as an
    // instance does until it hears of a revocation made on another.
    await t.app.ctx.db.apiToken.update({ where: { id: maker.id }, data: { revokedAt: clock.now() } });
    const minted = await t.app.inject({ method: "POST", url: "/api/tokens", headers: asMaker, payload: { name: "child", scopes: ["sessions:read"] } });
    expect(minted.statusCode).toBe(401);
    expect(ZErrorBody.parse(minted.json()).error.message).toContain("revoked");
    expect(await t.app.ctx.db.apiToken.count()).toBe(1);
  });

  it("an admin's API token manages users but grants no password, admin rights or enabled account", async () => {
    const adminToken = await mintToken(t.app, admin, ["admin"]);
    const asToken = { authorization: `Bearer ${adminToken.token}` };
    const before = await t.app.ctx.db.user.findMany({ orderBy: { id: "asc" } });
    const refused = [
      { method: "POST" as const, url: "/api/users", payload: { username: "mallory", password: "mallory-password" }, field: "password" },
      { method: "POST" as const, url: "/api/users", payload: { username: "mallory", role: "admin" }, field: "role" },
      { method: "PATCH" as const, url: `/api/users/${admin.id}`, payload: { password: "taken-over-1" }, field: "password" },
      { method: "PATCH" as const, url: `/api/users/${member.id}`, payload: { role: "admin" }, field: "role" },
      { method: "PATCH" as const, url: `/api/users/${member.id}`, payload: { disabled: false }, field: "disabled" },
    ];
    for (const { field, ...route } of refused) {
      const res = await t.app.inject({ ...route, headers: asToken });
      expect(res.statusCode, `${route.method} ${route.url} ${JSON.stringify(route.payload)}`).toBe(403);
      expect(ZErrorBody.parse(res.json()).error.message).toContain(`body.${field}`);
    }
    expect(await t.app.ctx.db.user.findMany({ orderBy: { id: "asc" } })).toEqual(before);
    // What grants nothing lasting is the token's to do.
    const created = await t.app.inject({ method: "POST", url: "/api/users", headers: asToken, payload: { username: "oidc-only" } });
    expect(created.statusCode).toBe(201);
    const disabled = await t.app.inject({ method: "PATCH", url: `/api/users/${member.id}`, headers: asToken, payload: { disabled: true } });
    expect(disabled.statusCode).toBe(200);
    // Signed in, the admin grants all of it.
    const enabled = await t.app.inject({ method: "PATCH", url: `/api/users/${member.id}`, headers: admin.headers, payload: { disabled: false, role: "admin" } });
    expect(enabled.statusCode).toBe(200);
  });

  it("accepts a token as Authorization: Bearer and as x-access-tokens, and records its last use", async () => {
    const created = await mintToken(t.app, member, ["sessions:read"]);
    const viaBearer = await t.app.inject({ url: "/api/test", headers: { authorization: `Bearer ${created.token}` }, remoteAddress: "198.51.100.7" });
    expect(viaBearer.statusCode).toBe(200);
    expect(viaBearer.json()).toMatchObject({ valid: true, user: { id: member.id } });
    const viaLegacy = await t.app.inject({ url: "/api/me", headers: { "x-access-tokens": created.token }, remoteAddress: "198.51.100.8" });
    expect(viaLegacy.statusCode).toBe(200);
    // Uses are written in batches, off the request path.
    await t.app.tokenUsage.flush();
    const row = await t.app.ctx.db.apiToken.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.lastUsedIp).toBe("198.51.100.8");
    expect(row.lastUsedAt?.getTime()).toBeGreaterThan(clock.now().getTime() - 5000);
    expect((await t.app.inject({ url: "/api/test" })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/test", headers: { authorization: "Bearer pst_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } })).statusCode).toBe(401);
  });

  // After one good request the cached token is checked against the secret that matched, not
  // hashed again: any other secret under the same prefix must still be refused.
  it("refuses another secret under a cached token's prefix, before and after the right one was seen", async () => {
    const created = await mintToken(t.app, member, ["sessions:read"]);
    const [, prefix, secret] = /^(pst_[0-9a-f]{12}_)(.+)$/.exec(created.token)!;
    const forged = `${prefix}${secret!.slice(0, -1)}${secret!.endsWith("A") ? "B" : "A"}`;
    const call = (token: string) => t.app.inject({ url: "/api/me", headers: { authorization: `Bearer ${token}` } });
    expect((await call(forged)).statusCode).toBe(401);
    expect((await call(created.token)).statusCode).toBe(200);
    expect((await call(forged)).statusCode).toBe(401);
    expect((await call(`${created.token}A`)).statusCode).toBe(401);
    expect((await call(created.token)).statusCode).toBe(200);
  });

  it("refuses revoked and expired tokens, and tokens of a disabled user", async () => {
    const revokedOne = await mintToken(t.app, member, ["sessions:read"]);
    const other = await createUser(t.app);
    const notYours = await t.app.inject({ method: "DELETE", url: `/api/tokens/${revokedOne.id}`, headers: other.headers });
    expect(notYours.statusCode).toBe(403);
    const del = await t.app.inject({ method: "DELETE", url: `/api/tokens/${revokedOne.id}`, headers: member.headers });
    expect(del.statusCode).toBe(200);
    expect(ZToken.parse(del.json()).revokedAt).toBeTruthy();
    const afterRevoke = await t.app.inject({ url: "/api/me", headers: { authorization: `Bearer ${revokedOne.token}` } });
    expect(afterRevoke.statusCode).toBe(401);
    expect((await t.app.inject({ method: "DELETE", url: "/api/tokens/nope", headers: admin.headers })).statusCode).toBe(404);

    const expiring = await mintToken(t.app, member, ["sessions:read"], { expiresAt: new Date(clock.now().getTime() + 60_000).toISOString() });
    expect((await t.app.inject({ url: "/api/me", headers: { authorization: `Bearer ${expiring.token}` } })).statusCode).toBe(200);
    clock.advance(61_000);
    expect((await t.app.inject({ url: "/api/me", headers: { authorization: `Bearer ${expiring.token}` } })).statusCode).toBe(401);

    const live = await mintToken(t.app, member, ["sessions:read"]);
    const basicRes = await t.app.inject({ method: "POST", url: "/api/auth/token", headers: { authorization: basic(member.username, member.password) } });
    const bearer = (basicRes.json() as { token: string }).token;
    const disable = await t.app.inject({ method: "PATCH", url: `/api/users/${member.id}`, headers: admin.headers, payload: { disabled: true } });
    expect(disable.statusCode).toBe(200);
    expect((await t.app.inject({ url: "/api/me", headers: { authorization: `Bearer ${live.token}` } })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/me", headers: { authorization: `Bearer ${bearer}` } })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/me", headers: member.headers })).statusCode).toBe(401);
    // One revoked by hand; disabling the member revoked the other two, saying why.
    const revocations = await t.app.ctx.db.auditEvent.findMany({ where: { action: "token.revoked" }, orderBy: { seq: "asc" } });
    expect(revocations.map((e) => (JSON.parse(e.details ?? "{}") as { cause?: string }).cause)).toEqual([undefined, "user disabled", "user disabled"]);
  });

  it("trades Basic credentials for a short-lived token on both routes, audited either way", async () => {
    for (const url of ["/api/auth/token", "/api/loginUser"]) {
      const ok = await t.app.inject({ method: "POST", url, headers: { authorization: basic(member.username, member.password) } });
      expect(ok.statusCode).toBe(200);
      const body = ok.json() as { token: string; tokenType: string; expiresIn: number };
      expect(body).toMatchObject({ tokenType: "Bearer", expiresIn: 3600 });
      const test = await t.app.inject({ url: "/api/test", headers: { "x-access-tokens": body.token } });
      expect(test.json()).toMatchObject({ valid: true, user: { username: member.username } });
      const wrong = await t.app.inject({ method: "POST", url, headers: { authorization: basic(member.username, "nope") } });
      expect(wrong.statusCode).toBe(401);
    }
    const issued = await t.app.ctx.db.auditEvent.findMany({ where: { action: "auth.token_issued" } });
    expect(issued.map((e) => [e.actorId, JSON.parse(e.details ?? "{}").route])).toEqual([
      [member.id, "/api/auth/token"],
      [member.id, "/api/loginUser"],
    ]);
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "user.login_failed", details: { contains: "basic" } } })).toBe(2);
  });

  it("rate-limits password and token routes with Retry-After", async () => {
    // Requests without credentials count too, and skip the deliberately slow password hash.
    let last = await t.app.inject({ method: "POST", url: "/api/auth/token" });
    for (let i = 0; i < 25 && last.statusCode !== 429; i += 1) {
      last = await t.app.inject({ method: "POST", url: "/api/auth/token" });
    }
    expect(last.statusCode).toBe(429);
    expect(Number(last.headers["retry-after"])).toBeGreaterThan(0);
    expect(ZErrorBody.parse(last.json()).error.code).toBe("rate_limited");
    // Another address is not affected.
    const other = await t.app.inject({ method: "POST", url: "/api/auth/token", remoteAddress: "192.0.2.9" });
    expect(other.statusCode).toBe(401);

    let create = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: {} });
    for (let i = 0; i < 40 && create.statusCode !== 429; i += 1) {
      create = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: {} });
    }
    expect(create.statusCode).toBe(429);
    expect(Number(create.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("refuses a cookie-authenticated change without the CSRF header, like a cross-site form post", async () => {
    const form = await t.app.inject({
      method: "POST",
      url: "/api/tokens",
      headers: { cookie: member.headers.cookie, "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      payload: "name=stolen&scopes=sessions:write",
    });
    expect(form.statusCode).toBe(403);
    expect(ZErrorBody.parse(form.json()).error.message).toContain("x-postern-csrf");
    const logoutAll = await t.app.inject({ method: "POST", url: "/api/auth/logout-all", headers: { cookie: member.headers.cookie, "content-type": "application/x-www-form-urlencoded" }, payload: "" });
    expect(logoutAll.statusCode).toBe(403);
    expect(await t.app.ctx.db.apiToken.count()).toBe(0);
    expect((await t.app.inject({ url: "/api/me", headers: member.headers })).statusCode).toBe(200);
    // The same change with the header (the SPA's requests) goes through.
    expect((await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "ok", scopes: ["sessions:write"] } })).statusCode).toBe(201);
  });
});

/**
 * Every route × every kind of caller: anonymous, member, admin, and a token of each scope. The
 * expectation comes from the route's declared policy (`config.access`, `config.scope`), so a
 * new route is covered the day it is added; a few routes' policies are pinned below as well.
 */
describe("route authorisation table (sqlite)", () => {
  const routes: RouteOptions[] = [];
  const logLines: string[] = [];
  let app: FastifyInstance;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const database = await createTestDatabase("sqlite");
    drop = database.drop;
    const config = loadConfig(
      { DATABASE_URL: database.url, POSTERN_SECRET: "test-secret-test-secret-test-secret-0123456789", POSTERN_WEB_DIR: "/nonexistent" },
      "/dev/null",
    );
    const opened = await openDatabase(database.url, { poolSize: 4 });
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    // The production logger settings (server.ts), at the most talkative level.
    app = Fastify({
      logger: { level: "trace", stream, redact: ["req.headers.authorization", "req.headers.cookie", 'req.headers["x-access-tokens"]'] },
      bodyLimit: BODY_LIMIT,
    });
    app.addHook("onRoute", (route) => {
      routes.push(route);
    });
    await app.register(fp(serviceApp), { config, database: opened, secret: config.secret ?? "" });
    app.addHook("onClose", async () => opened.close());
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await drop();
  });

  type Caller = "anonymous" | "member login" | "admin login" | `token ${TScope}`;
  /**
   * Routes whose handler narrows access beyond the declared policy (where one policy cannot say
   * "admins, or a token with this scope"), and what those callers get there.
   */
  const HANDLER_CHECKED: Record<string, Partial<Record<Caller, "401" | "403" | "allowed">>> = {
    "POST /api/sessions/:id/approve": { "member login": "403" },
    "POST /api/sessions/:id/deny": { "member login": "403" },
    "GET /api/tunnel": { "member login": "403" },
    "POST /api/tunnel/open": { "member login": "403" },
    "POST /api/tunnel/close": { "member login": "403" },
  };
  function expected(route: RouteOptions, method: string, who: Caller): "401" | "403" | "allowed" {
    const url = route.url;
    const access = route.config?.access ?? (["/api/", "/conn/", "/session/", "/service/"].some((p) => url.startsWith(p)) ? "user" : "public");
    if (access === "public") return "allowed";
    if (who === "anonymous") return "401";
    if (who === "member login") return access === "admin" ? "403" : "allowed";
    if (who === "admin login") return "allowed";
    const scope = who.slice("token ".length) as TScope;
    const safe = ["GET", "HEAD", "OPTIONS"].includes(method);
    const needed = route.config?.scope ?? (access === "admin" ? "admin" : safe ? "sessions:read" : "sessions:write");
    if (access === "login" || (access === "admin" && scope !== "admin")) return "403";
    return needed === "any" || tokenAllows([scope], needed) ? "allowed" : "403";
  }

  // About 80 routes × 9 callers: seconds on a quiet machine, more on a busy CI one.
  it("enforces each route's declared access for every caller", { timeout: 180_000 }, async () => {
    const member = await createUser(app);
    const admin = await createUser(app, { role: "admin" });
    const callers: Record<string, Record<string, string>> = { anonymous: {}, "member login": member.headers, "admin login": admin.headers };
    for (const scope of ALL_SCOPES) {
      callers[`token ${scope}`] = { authorization: `Bearer ${(await mintToken(app, admin, [scope])).token}` };
    }
    // These end the caller's own login (tested on their own) or answer 401 by design (Basic).
    const skip = new Set(["/api/auth/logout", "/api/auth/logout-all", "/api/auth/token", "/api/loginUser"]);
    const checked: string[] = [];
    const mismatches: string[] = [];
    for (const route of routes) {
      const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== "HEAD");
      if (route.url.includes("*") || skip.has(route.url)) continue;
      const url = route.url.replace(/:[A-Za-z]+/g, "no-such-id");
      for (const method of methods) {
        for (const [who, headers] of Object.entries(callers)) {
          const res = await app.inject({ method: method as "GET", url, headers });
          const want = HANDLER_CHECKED[`${method} ${route.url}`]?.[who as Caller] ?? expected(route, method, who as Caller);
          const got = res.statusCode === 401 ? "401" : res.statusCode === 403 ? "403" : "allowed";
          if (got !== want) mismatches.push(`${method} ${route.url} as ${who}: ${res.statusCode} (want ${want}) ${res.body.slice(0, 120)}`);
        }
        checked.push(`${method} ${route.url}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toEqual(expect.arrayContaining(["GET /api/tokens", "POST /api/tokens", "DELETE /api/tokens/:id", "GET /api/users", "GET /api/me", "GET /api/auth/providers"]));
    expect(checked.length).toBeGreaterThan(20);

    // Pinned policies: who may do what on the routes that matter most.
    const policy = (method: string, url: string) => {
      const route = routes.find((r) => r.url === url && (Array.isArray(r.method) ? r.method.includes(method as "GET") : r.method === method));
      if (!route) throw new Error(`no route ${method} ${url}`);
      return ALL_SCOPES.filter((s) => expected(route, method, `token ${s}`) === "allowed");
    };
    expect(policy("POST", "/api/tokens")).toEqual(["admin"]);
    expect(policy("GET", "/api/users")).toEqual(["admin"]);
    expect(policy("GET", "/api/sessions")).toEqual(["sessions:read", "admin"]);
    expect(policy("POST", "/api/messages")).toEqual(["relay:send"]);
    // A token in a script cannot change its owner's password or sign them out everywhere.
    expect(policy("POST", "/api/me/password")).toEqual([]);
    expect(policy("POST", "/api/auth/logout-all")).toEqual([]);
  });

  it("never writes a token's secret or a password to the log", async () => {
    const admin = await createUser(app, { role: "admin" });
    const created = await mintToken(app, admin, ["sessions:read"]);
    await app.inject({ url: "/api/me", headers: { authorization: `Bearer ${created.token}` } });
    await app.inject({ url: "/api/me", headers: { "x-access-tokens": created.token } });
    await app.inject({ url: `/api/me?token=${encodeURIComponent("x")}`, headers: { "x-access-tokens": `${created.token.slice(0, -2)}zz` } });
    await app.inject({ method: "DELETE", url: `/api/tokens/${created.id}`, headers: admin.headers });
    await app.inject({ url: "/api/me", headers: { authorization: `Bearer ${created.token}` } });
    const basicRes = await app.inject({ method: "POST", url: "/api/auth/token", headers: { authorization: basic(admin.username, admin.password) } });
    expect(basicRes.statusCode).toBe(200);
    const text = logLines.join("");
    expect(text).toContain("/api/me"); // the log did capture these requests
    // The secret is everything after `pst_<prefix>_` (base64url, so it may itself hold "_").
    const secretPart = created.token.slice("pst_".length + 13);
    expect(text).not.toContain(secretPart);
    expect(text).not.toContain(admin.password);
    expect(text).not.toContain((basicRes.json() as { token: string }).token);
  });
});
