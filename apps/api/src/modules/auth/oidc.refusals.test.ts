// Refused OIDC logins: wrong state, replayed code, bad ID tokens, providers out of reach.
// These are decided before anything but an audit event is written, so one database suffices
// (oidc.test.ts runs the logins that write users, identities and sessions on both).
import { describe, expect, it } from "vitest";
import { SESSION_COOKIE } from "../../plugins/auth";
import { Browser, isCallback, useOidcWorld } from "../../../test/oidc-world";
import { safeReturnTo } from "./oidc.routes";

describe("OIDC login refusals (sqlite)", () => {
  const w = useOidcWorld("sqlite");
  const { me, loginEvents } = w;

  it("refuses a wrong state, and a state with no login started in this browser", async () => {
    const browser = new Browser();
    const { url } = await browser.follow(`${w.base}/api/auth/oidc/a/start`, isCallback);
    const callback = new URL(url);
    callback.searchParams.set("state", "forged-state");
    expect((await browser.follow(callback.toString())).url).toBe(`${w.base}/login?error=invalid_state`);
    expect((await me(browser)).status).toBe(401);

    // A callback URL carried to another browser (login CSRF) finds no flow there.
    const other = new Browser();
    const stolen = await browser.follow(`${w.base}/api/auth/oidc/a/start`, isCallback);
    expect((await other.follow(stolen.url)).url).toBe(`${w.base}/login?error=invalid_state`);
    expect((await loginEvents("user.login_failed")).length).toBeGreaterThanOrEqual(2);
  });

  it("refuses a replayed code", async () => {
    const browser = new Browser();
    const { url } = await browser.follow(`${w.base}/api/auth/oidc/a/start`, isCallback);
    const cookiesAtCallback = new Map(browser.cookies);
    expect((await browser.follow(url)).url).toBe(`${w.base}/`);
    const attacker = new Browser();
    attacker.cookies = new Map([...cookiesAtCallback].filter(([k]) => k !== SESSION_COOKIE));
    expect((await attacker.follow(url)).url).toBe(`${w.base}/login?error=code_rejected`);
    expect((await me(attacker)).status).toBe(401);
    expect(w.idpA.tokenRequests).toBe(2);
  });

  it.each([
    ["audience", "an ID token for another audience"],
    ["expired", "an expired ID token"],
    ["nonce", "an ID token with the wrong nonce"],
    ["signature", "an ID token signed with a foreign key"],
  ] as const)("refuses %s (%s)", async (tamper, _what) => {
    w.idpA.tamper = tamper;
    const browser = new Browser();
    expect((await browser.follow(`${w.base}/api/auth/oidc/a/start`)).url).toBe(`${w.base}/login?error=invalid_id_token`);
    expect((await me(browser)).status).toBe(401);
    expect(await w.t.app.ctx.db.user.count()).toBe(0);
    expect(await w.t.app.ctx.db.loginSession.count()).toBe(0);
    const failed = await loginEvents("user.login_failed");
    expect(failed.at(-1)?.details).toContain("invalid_id_token");
  });

  it("answers an unreachable provider or an unknown one with a clear error and keeps serving", async () => {
    const browser = new Browser();
    expect((await browser.follow(`${w.base}/api/auth/oidc/down/start`)).url).toBe(`${w.base}/login?error=provider_unavailable`);
    expect((await browser.follow(`${w.base}/api/auth/oidc/nope/start`)).url).toBe(`${w.base}/login?error=unknown_provider`);
    expect((await browser.follow(`${w.base}/api/auth/oidc/down/callback?code=x&state=y`)).url).toBe(`${w.base}/login?error=invalid_state`);
    expect((await fetch(`${w.base}/healthz`)).status).toBe(200);
    // The reachable provider still works meanwhile.
    const ok = new Browser();
    expect((await ok.follow(`${w.base}/api/auth/oidc/a/start`)).url).toBe(`${w.base}/`);
  });

  it("answers a provider's own error (the user cancelled) with a clear error", async () => {
    const browser = new Browser();
    await browser.follow(`${w.base}/api/auth/oidc/a/start`, (u) => u.pathname === "/auth");
    const res = await browser.follow(`${w.base}/api/auth/oidc/a/callback?error=access_denied&state=whatever`);
    expect(res.url).toBe(`${w.base}/login?error=provider_error`);
  });

  it("returns only to our own origin", async () => {
    expect(safeReturnTo("/sessions?x=1")).toBe("/sessions?x=1");
    for (const evil of ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "evil", "/%0d%0aSet-Cookie:x"]) {
      const target = safeReturnTo(evil);
      expect(target.startsWith("/") && !target.startsWith("//")).toBe(true);
      expect(new URL(target, w.base).origin).toBe(w.base);
    }
    const browser = new Browser();
    expect((await browser.follow(`${w.base}/api/auth/oidc/a/start?returnTo=${encodeURIComponent("https://evil.example/")}`)).url).toBe(`${w.base}/`);
  });

  it("does not let dot segments turn a return path into another site's address", async () => {
    // Each starts with one slash, but resolves to "//evil.example": a browser told to go there
    // after the login leaves for evil.example.
    const dotted = ["/.//evil.example", "/..//evil.example/x", "/a/..//evil.example", "/%2e//evil.example", "/%2E%2E//evil.example"];
    for (const evil of dotted) {
      const target = safeReturnTo(evil);
      expect(target.startsWith("//"), `${evil} → ${target}`).toBe(false);
      expect(new URL(target, w.base).origin).toBe(w.base);
    }
    // Through a whole login: the last redirect stays on Postern (stopped before leaving it).
    const browser = new Browser();
    const { url } = await browser.follow(`${w.base}/api/auth/oidc/a/start?returnTo=${encodeURIComponent("/.//evil.example/")}`, (u) => u.hostname === "evil.example");
    expect(url).toBe(`${w.base}/`);
    expect((await me(browser)).status).toBe(200);
  });
});
