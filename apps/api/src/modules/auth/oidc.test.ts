// OIDC logins end to end against two real OpenID Providers, on both databases.
import { describe, expect, it } from "vitest";
import { ZAuthProvider, ZLogoutResponse } from "@postern/contracts";
import { createGroup, createUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { Browser, useOidcWorld } from "../../../test/oidc-world";

describe.each(providers)("OIDC login (%s)", (provider) => {
  const w = useOidcWorld(provider);
  const { me, loginEvents } = w;

  it("lists every configured provider with its start URL, and local login", async () => {
    const res = await fetch(`${w.base}/api/auth/providers`);
    const list = ZAuthProvider.array().parse(await res.json());
    expect(list.map((p) => [p.id, p.type, p.startUrl])).toEqual([
      ["a", "oidc", "/api/auth/oidc/a/start"],
      ["auth0", "oidc", "/api/auth/oidc/auth0/start"],
      ["down", "oidc", "/api/auth/oidc/down/start"],
      ["local", "local", undefined],
    ]);
    expect(list[0]?.name).toBe("Company SSO");
  });

  it("logs in through the whole code flow with PKCE, state and nonce, creates the user, follows groups, returns to the path", async () => {
    const ops = await createGroup(w.t.app, "ops");
    w.idpA.nextAccount = {
      sub: "alice-sub",
      email: "alice@example.com",
      email_verified: true,
      name: "Alice Liddell",
      preferred_username: "alice",
      extra: { groups: ["ops", "not-a-postern-group"] },
    };
    const browser = new Browser();
    let authorize: URL | undefined;
    const { url } = await browser.follow(`${w.base}/api/auth/oidc/a/start?returnTo=${encodeURIComponent("/board?x=1#top")}`, (u) => {
      if (u.pathname === "/auth" && !authorize) authorize = u;
      return false;
    });
    expect(authorize?.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize?.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize?.searchParams.get("state")).toBeTruthy();
    expect(authorize?.searchParams.get("nonce")).toBeTruthy();
    expect(authorize?.searchParams.get("redirect_uri")).toBe(`${w.base}/api/auth/oidc/a/callback`);
    expect(url).toBe(`${w.base}/board?x=1#top`);

    const who = await me(browser);
    expect(who.status).toBe(200);
    expect(who.body.user).toMatchObject({ username: "alice", email: "alice@example.com", displayName: "Alice Liddell", role: "member" });
    expect(who.body.user.groups).toEqual([{ id: ops.id, name: "ops" }]);
    expect(await w.t.app.ctx.db.group.count({ where: { name: "not-a-postern-group" } })).toBe(0);
    const identity = await w.t.app.ctx.db.identity.findFirstOrThrow({ where: { subject: "alice-sub" } });
    expect(identity).toMatchObject({ issuer: w.idpA.issuer, provider: "a", userId: who.body.user.id });
    expect((await loginEvents("user.login")).at(-1)?.details).toContain('"provider":"a"');

    // The same identity logs in again as the same user; the groups claim is authoritative.
    w.idpA.nextAccount = { ...w.idpA.nextAccount, extra: { groups: [] } };
    const again = new Browser();
    await again.follow(`${w.base}/api/auth/oidc/a/start`);
    const second = await me(again);
    expect(second.body.user.id).toBe(who.body.user.id);
    expect(second.body.user.groups).toEqual([]);
    expect(await w.t.app.ctx.db.user.count()).toBe(1);
  });

  it("keeps two providers apart, reads a namespaced groups claim, and refuses sign-up where it is off", async () => {
    const team = await createGroup(w.t.app, "team");
    w.idpB.nextAccount = { sub: "bob-sub", email: "bob@example.com", email_verified: true, extra: { "https://example.com/groups": ["team"] } };
    const refused = new Browser();
    const r = await refused.follow(`${w.base}/api/auth/oidc/auth0/start`);
    expect(r.url).toBe(`${w.base}/login?error=signup_disabled`);
    expect((await me(refused)).status).toBe(401);
    expect(await w.t.app.ctx.db.identity.count()).toBe(0);
    expect((await loginEvents("user.login_failed")).at(-1)?.details).toContain("signup_disabled");

    // An existing identity logs in even without sign-up.
    const bob = await w.t.app.ctx.db.user.create({ data: { username: "bob" } });
    // Configured with a trailing slash (as Auth0 issuers are written); identities keep the issuer the provider names.
    await w.t.app.ctx.db.identity.create({ data: { userId: bob.id, provider: "auth0", issuer: w.idpB.issuer, subject: "bob-sub" } });
    const browser = new Browser();
    const ok = await browser.follow(`${w.base}/api/auth/oidc/auth0/start`);
    expect(ok.url).toBe(`${w.base}/`);
    const who = await me(browser);
    expect(who.body.user).toMatchObject({ id: bob.id, groups: [{ id: team.id, name: "team" }] });
  });

  it("links a first login to an existing user by verified e-mail only, when the provider allows it", async () => {
    const carol = await w.t.app.ctx.db.user.create({ data: { username: "carol", email: "carol@example.com" } });
    w.idpA.nextAccount = { sub: "carol-unverified", email: "carol@example.com", email_verified: false, preferred_username: "carol" };
    const first = new Browser();
    await first.follow(`${w.base}/api/auth/oidc/a/start`);
    const unverified = await me(first);
    expect(unverified.body.user.id).not.toBe(carol.id);
    expect(unverified.body.user.username).toBe("carol-2");
    expect(unverified.body.user.email).toBeUndefined();

    w.idpA.nextAccount = { sub: "carol-verified", email: "carol@example.com", email_verified: true };
    const second = new Browser();
    await second.follow(`${w.base}/api/auth/oidc/a/start`);
    expect((await me(second)).body.user.id).toBe(carol.id);
    expect(await loginEvents("user.identity_linked")).toHaveLength(1);
  });

  it("keeps a provider's name claim to one short plain line: no NUL, control or direction-override characters", async () => {
    // A name is the user's own text at most providers, and the board shows it to everyone (and to
    // admins deciding a request): a NUL failed the login on PostgreSQL, a right-to-left override
    // made "Mallory\u202Egnp.exe" read as someone else's, and any length went through.
    const cases: [string, string][] = [
      ["Eve\u0000Null", "EveNull"],
      ["Mallory\u202Egnp.exe", "Mallorygnp.exe"],
      ["\u2067Isolated\u2069 \u200Fname", "Isolated name"],
      ["tab\there\r\nnewline\u0085", "tab here newline"],
      ["x".repeat(5000), "x".repeat(128)],
      ["\u202E\u0007", ""],
    ];
    for (const [i, [name, shown]] of cases.entries()) {
      w.idpA.nextAccount = { sub: `named-${i}`, name, preferred_username: `named-${i}` };
      const browser = new Browser();
      const { url } = await browser.follow(`${w.base}/api/auth/oidc/a/start`);
      expect(url, JSON.stringify(name.slice(0, 20))).toBe(`${w.base}/`);
      const who = await me(browser);
      expect(who.status).toBe(200);
      expect(who.body.user.displayName).toBe(shown || undefined);
    }
    // An address no database stores as sent is no address: the login goes on without it.
    w.idpA.nextAccount = { sub: "nul-mail", email: "eve\u0000@example.com", email_verified: true, preferred_username: "nul-mail" };
    const browser = new Browser();
    expect((await browser.follow(`${w.base}/api/auth/oidc/a/start`)).url).toBe(`${w.base}/`);
    expect((await me(browser)).body.user.email).toBeUndefined();
  });

  it("refuses a disabled user, and disabling ends every login at once", async () => {
    w.idpA.nextAccount = { sub: "dave-sub", preferred_username: "dave" };
    const browser = new Browser();
    await browser.follow(`${w.base}/api/auth/oidc/a/start`);
    const dave = await me(browser);
    expect(dave.status).toBe(200);
    const admin = await createUser(w.t.app, { role: "admin" });
    const patched = await w.t.app.inject({ method: "PATCH", url: `/api/users/${dave.body.user.id}`, headers: admin.headers, payload: { disabled: true } });
    expect(patched.statusCode).toBe(200);
    expect((await me(browser)).status).toBe(401);
    const again = new Browser();
    expect((await again.follow(`${w.base}/api/auth/oidc/a/start`)).url).toBe(`${w.base}/login?error=user_disabled`);
  });

  it("logs out here and at the provider (end_session_endpoint with id_token_hint), and logs out everywhere", async () => {
    w.idpA.nextAccount = { sub: "erin-sub", preferred_username: "erin" };
    const laptop = new Browser();
    const phone = new Browser();
    await laptop.follow(`${w.base}/api/auth/oidc/a/start`);
    await phone.follow(`${w.base}/api/auth/oidc/a/start`);
    expect((await me(laptop)).status).toBe(200);

    const out = await laptop.get(`${w.base}/api/auth/logout`, { method: "POST", headers: { "x-postern-csrf": "1" } });
    const body = ZLogoutResponse.parse(await out.json());
    const logoutUrl = new URL(body.logoutUrl ?? "");
    expect(`${logoutUrl.origin}${logoutUrl.pathname}`).toBe(`${w.idpA.issuer}/session/end`);
    expect(logoutUrl.searchParams.get("post_logout_redirect_uri")).toBe(`${w.base}/login`);
    expect(logoutUrl.searchParams.get("id_token_hint")).toBeTruthy();
    expect((await me(laptop)).status).toBe(401);
    // The provider accepts the logout request (it shows its confirmation page).
    expect((await fetch(logoutUrl)).status).toBe(200);

    expect((await me(phone)).status).toBe(200);
    await phone.follow(`${w.base}/api/auth/oidc/a/start`);
    const all = await phone.get(`${w.base}/api/auth/logout-all`, { method: "POST", headers: { "x-postern-csrf": "1" } });
    expect(await all.json()).toEqual({ ok: true, ended: 2 });
    expect((await me(phone)).status).toBe(401);
    expect(await w.t.app.ctx.db.loginSession.count({ where: { revokedAt: null } })).toBe(0);
  });
});
