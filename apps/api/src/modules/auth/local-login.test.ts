// Local login, logout and /api/me through the real routes on SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZErrorBody, ZMe } from "@postern/contracts";
import { authHeaders, buildTestApp, createUser, type TestApp } from "../../../test/app";
import { rowCounts } from "../../../test/counts";
import { providers } from "../../../test/databases";
import { CSRF_HEADER, SESSION_COOKIE } from "../../plugins/auth";

// A few seconds each on a quiet machine; the margin is for a loaded CI box.
vi.setConfig({ testTimeout: 120_000 });

describe.each(providers)("local login on %s", (provider) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp(provider);
  });
  afterEach(async () => t.close());

  const login = (username: string, password: string) =>
    t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username, password } });

  it("logs in with the right password and sets an httpOnly cookie that /api/me accepts", async () => {
    const alice = await createUser(t.app, { username: "alice" });
    const res = await login("alice", alice.password);
    expect(res.statusCode).toBe(200);
    const me = ZMe.parse(res.json());
    expect(me.user.username).toBe("alice");
    expect(me.permissions).not.toContain("admin");
    const cookie = res.cookies.find((c) => c.name === SESSION_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });

    const meRes = await t.app.inject({ method: "GET", url: "/api/me", headers: authHeaders(res) });
    expect(meRes.statusCode).toBe(200);
    expect(ZMe.parse(meRes.json()).user.id).toBe(alice.id);

    const logins = await t.app.ctx.db.auditEvent.findMany({ where: { action: "user.login", actorId: alice.id } });
    expect(logins).toHaveLength(1); // createUser made its login session directly; this one is audited
  });

  it("answers 401 with one message for a wrong password and an unknown user; tells a disabled user only with the right password", async () => {
    const bob = await createUser(t.app, { username: "bob" });
    await t.app.ctx.db.user.create({ data: { username: "carol", passwordHash: null } });
    const disabled = await createUser(t.app, { username: "dave" });
    await t.app.ctx.db.user.update({ where: { id: disabled.id }, data: { disabled: true } });
    const before = await rowCounts(t.app);

    const answers = [
      await login("bob", "not-the-password"),
      await login("nobody", "whatever-password"),
      await login("carol", "no-password-set"),
      await login("dave", disabled.password),
    ];
    for (const [i, res] of answers.entries()) {
      expect(res.statusCode).toBe(401);
      expect(res.cookies.find((c) => c.name === SESSION_COOKIE)).toBeUndefined();
      // Whoever knows the password learns the account is disabled; nobody else learns it exists.
      const message = i === 3 ? "this account is disabled; ask an admin" : "wrong username or password";
      expect(ZErrorBody.parse(res.json()).error).toEqual({ code: "unauthorized", message });
    }
    const after = await rowCounts(t.app);
    expect(after).toEqual({ ...before, audit: before.audit + 4 });
    const failed = await t.app.ctx.db.auditEvent.findMany({ where: { action: "user.login_failed" }, orderBy: { seq: "asc" } });
    expect(failed.map((e) => [e.target, (JSON.parse(e.details ?? "{}") as { reason?: string }).reason])).toEqual([
      [`user:${bob.id}`, "wrong password"],
      ["username:nobody", "unknown user"],
      [expect.stringMatching(/^user:/), "wrong password"],
      [`user:${disabled.id}`, "user disabled"],
    ]);
    expect(failed[0]?.actorId).toBe(bob.id);
  });

  it("a user disabled while logged in loses the login at once", async () => {
    const admin = await createUser(t.app, { role: "admin" });
    const member = await createUser(t.app);
    expect((await t.app.inject({ method: "GET", url: "/api/me", headers: member.headers })).statusCode).toBe(200);
    const disable = await t.app.inject({ method: "PATCH", url: `/api/users/${member.id}`, headers: admin.headers, payload: { disabled: true } });
    expect(disable.statusCode).toBe(200);
    const me = await t.app.inject({ method: "GET", url: "/api/me", headers: member.headers });
    expect(me.statusCode).toBe(401);
    expect(ZErrorBody.parse(me.json()).error.code).toBe("unauthorized");
  });

  it("a login whose password check raced a password reset or a disable opens no login", async () => {
    const alice = await createUser(t.app, { username: "alice" });
    const admin = await createUser(t.app, { role: "admin" });
    const patch = (payload: object) => t.app.inject({ method: "PATCH", url: `/api/users/${alice.id}`, headers: admin.headers, payload });
    // The admin's change commits while the login checks the password it read before it.
    const during = (change: () => Promise<unknown>) => {
      const users = t.app.ctx.db.user;
      const real = users.findUnique.bind(users);
      const spy = vi.spyOn(users, "findUnique").mockImplementation((async (args: { where: { username?: string } }) => {
        const found = await real(args as never);
        if (args.where.username === "alice") {
          spy.mockRestore();
          await change();
        }
        return found;
      }) as never);
    };
    const logins = () => t.app.ctx.db.loginSession.count({ where: { userId: alice.id, revokedAt: null } });
    const before = await logins();

    during(() => patch({ password: "brand-new-password-123" }));
    const afterReset = await login("alice", alice.password);
    expect(afterReset.statusCode, afterReset.body).toBe(401);
    expect(await logins()).toBe(0);

    during(() => patch({ disabled: true }));
    const afterDisable = await login("alice", "brand-new-password-123");
    expect(afterDisable.statusCode, afterDisable.body).toBe(401);
    expect((await patch({ disabled: false })).statusCode).toBe(200);
    expect(await logins()).toBe(0);
    expect(before).toBeGreaterThan(0);
    // The refusals are on record as failed logins.
    const failed = await t.app.ctx.db.auditEvent.count({ where: { action: "user.login_failed", actorId: alice.id } });
    expect(failed).toBeGreaterThanOrEqual(2);
  });

  it("logout ends the login on the server: the old cookie no longer works", async () => {
    const alice = await createUser(t.app);
    const out = await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: alice.headers });
    expect(out.statusCode).toBe(200);
    expect(out.json()).toMatchObject({ ok: true });
    // The browser is told to drop the cookie, but a copy kept elsewhere must be dead too.
    expect(out.cookies.find((c) => c.name === SESSION_COOKIE)?.value).toBe("");
    const replay = await t.app.inject({ method: "GET", url: "/api/me", headers: alice.headers });
    expect(replay.statusCode).toBe(401);
    const sessions = await t.app.ctx.db.loginSession.findMany({ where: { userId: alice.id } });
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.revokedAt).toBeInstanceOf(Date);
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "user.logout", actorId: alice.id } })).toBe(1);
  });

  it("/api/me answers 401 in the error format without a cookie or with a forged one", async () => {
    for (const headers of [{}, { cookie: `${SESSION_COOKIE}=forged.jwt.value` }]) {
      const res = await t.app.inject({ method: "GET", url: "/api/me", headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(ZErrorBody.parse(res.json()).error.code).toBe("unauthorized");
    }
  });

  it("refuses a login cookie that fails to verify every time, and still admits its owner's real one", async () => {
    const alice = await createUser(t.app, { username: "alice-stale" });
    const real = alice.headers.cookie ?? "";
    const signed = real.slice(real.indexOf("=") + 1);
    // Signed with another secret (an earlier install's), and one of ours that has expired.
    const foreign = `${signed.slice(0, signed.lastIndexOf(".") + 1)}${"A".repeat(43)}`;
    const { sid } = t.app.jwt.decode<{ sid: string }>(signed) ?? { sid: "" };
    const expired = t.app.jwt.sign({ typ: "login", sid }, { expiresIn: 60, clockTimestamp: Date.now() - 3_600_000 });
    for (const stale of [foreign, expired]) {
      // Twice: the second answer comes from the refusal remembered, and must be the same.
      for (let i = 0; i < 2; i++) {
        const res = await t.app.inject({ method: "GET", url: "/api/me", headers: { cookie: `${SESSION_COOKIE}=${stale}` } });
        expect(res.statusCode).toBe(401);
        expect(ZErrorBody.parse(res.json()).error.code).toBe("unauthorized");
      }
    }
    const me = await t.app.inject({ method: "GET", url: "/api/me", headers: { cookie: real } });
    expect(me.statusCode).toBe(200);
    expect(ZMe.parse(me.json()).user.username).toBe("alice-stale");
  });

  it("cookie-authenticated changes need the CSRF header", async () => {
    const admin = await createUser(t.app, { role: "admin" });
    const before = await rowCounts(t.app);
    const res = await t.app.inject({
      method: "POST",
      url: "/api/groups",
      headers: { cookie: admin.headers.cookie ?? "" },
      payload: { name: "sneaky" },
    });
    expect(res.statusCode).toBe(403);
    expect(ZErrorBody.parse(res.json()).error.message).toContain(CSRF_HEADER);
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("rejects a login body with a missing or mistyped field, naming it, and writes nothing", async () => {
    await createUser(t.app, { username: "erin" });
    const before = await rowCounts(t.app);
    const cases: [unknown, string][] = [
      [{ username: "erin" }, "body.password"],
      [{ username: "erin", password: 12345678 }, "body.password"],
      [{ password: "x" }, "body.username"],
      [{ username: "erin", password: "x", admin: true }, "body.admin"],
    ];
    for (const [payload, field] of cases) {
      const res = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: payload as object });
      expect(res.statusCode).toBe(400);
      const body = ZErrorBody.parse(res.json());
      expect(body.error.code).toBe("validation_failed");
      expect((body.error.details as { field: string }[]).map((d) => d.field)).toContain(field);
      expect(res.body).not.toMatch(/at .*\.ts:\d+/);
    }
    expect(await rowCounts(t.app)).toEqual(before);
  });
});
