// Routes anyone may call answer the same with a credential that fails: a monitor polling /healthz
// with the token it sends everywhere, a script logging out with an expired bearer, a browser
// asking for a page. Elsewhere the failed credential is still a 401.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZCreatedToken } from "@postern/contracts";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

describe.each(providers)("public routes and failed credentials on %s", { timeout: 60_000 }, (provider) => {
  let t: TestApp;
  let member: TestUser;
  /** Every kind of bearer that fails: revoked API token, unknown token, token-shaped junk, a JWT from elsewhere. */
  const failing: Record<string, string> = {};

  beforeAll(async () => {
    t = await buildTestApp(provider);
    member = await createUser(t.app);
    const created = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "monitor", scopes: ["sessions:read"] } });
    const token = ZCreatedToken.parse(created.json());
    expect((await t.app.inject({ method: "DELETE", url: `/api/tokens/${token.id}`, headers: member.headers })).statusCode).toBe(200);
    failing.revoked = `Bearer ${token.token}`;
    failing.unknown = `Bearer pst_0123456789ab_${"x".repeat(43)}`;
    failing.junk = "Bearer not-a-token";
    failing.foreignJwt = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
  });
  afterAll(async () => t.close());

  it("answers /healthz, /readyz, the providers and unmatched paths as it answers anyone", async () => {
    for (const [kind, authorization] of Object.entries(failing)) {
      for (const url of ["/healthz", "/readyz", "/api/auth/providers"]) {
        const res = await t.app.inject({ url, headers: { authorization } });
        expect(res.statusCode, `${kind} bearer on ${url}`).toBe(200);
      }
      const unmatched = await t.app.inject({ url: "/no-such-page", headers: { authorization } });
      expect(unmatched.statusCode, `${kind} bearer on an unmatched path`).toBe(404);
    }
  });

  it("logs in and logs out with a failed bearer beside the request", async () => {
    const { authorization } = { authorization: failing.revoked! };
    const login = await t.app.inject({ method: "POST", url: "/api/auth/login", headers: { authorization }, payload: { username: member.username, password: member.password } });
    expect(login.statusCode).toBe(200);
    const logout = await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: { authorization } });
    expect(logout.statusCode).toBe(200);
    expect(logout.json()).toEqual({ ok: true });
  });

  it("still refuses the failed bearer where a caller is needed, and a cookie change without the CSRF header", async () => {
    for (const [kind, authorization] of Object.entries(failing)) {
      const res = await t.app.inject({ url: "/api/services", headers: { authorization } });
      expect(res.statusCode, `${kind} bearer on /api/services`).toBe(401);
    }
    const noCsrf = await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: { cookie: member.headers.cookie! } });
    expect(noCsrf.statusCode).toBe(403);
  });
});
