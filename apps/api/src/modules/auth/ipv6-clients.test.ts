// An IPv6 client is normally handed a whole /64 (a home, a VPS), so it can send every request
// from a new address. Every per-address limit counts such a client by its /64; what is recorded
// as the source of a request stays its full address.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { FREE_FAILURES } from "./login-throttle";
import { UNKNOWN_TOKENS_PER_WINDOW } from "./unknown-token-guard";

/** An address in the /64 `2001:db8:<net>::/64`, a new one for each `host`. */
const inNet = (net: number, host: number) => `2001:db8:${net.toString(16)}:0:${host.toString(16)}::${(host * 7 + 1).toString(16)}`;

describe.each(providers)("limits count an IPv6 client by its /64 (%s)", { timeout: 90_000 }, (provider) => {
  let t: TestApp;
  let alice: TestUser;
  beforeEach(async () => {
    t = await buildTestApp(provider);
    alice = await createUser(t.app, { username: "alice" });
  });
  afterEach(async () => t.close());

  const login = (username: string, password: string, remoteAddress: string) =>
    t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username, password }, remoteAddress });

  it("password guesses from many addresses in one /64 are throttled as one client's; another /64 counts apart", async () => {
    // Different usernames each time, so only the address's count can run out.
    for (let i = 0; i <= FREE_FAILURES.ip; i += 1) {
      expect((await login(`nobody${i}`, "guess", inNet(1, i))).statusCode).toBe(401);
    }
    const refused = await login(alice.username, alice.password, inNet(1, 99));
    expect(refused.statusCode).toBe(429);
    expect(ZErrorBody.parse(refused.json()).error).toMatchObject({ code: "rate_limited", details: { blockedBy: ["ip"] } });
    // The same form written another way is the same client.
    expect((await login(alice.username, alice.password, "2001:0DB8:0001:0000:ffff::1")).statusCode).toBe(429);

    expect((await login(alice.username, alice.password, inNet(2, 1))).statusCode).toBe(200);

    // The audit trail keeps each attempt's own full address.
    const failed = await t.app.ctx.db.auditEvent.findMany({ where: { action: "user.login_failed" }, orderBy: { seq: "asc" } });
    expect(failed.map((e) => e.sourceIp)).toEqual(Array.from({ length: FREE_FAILURES.ip + 1 }, (_, i) => inNet(1, i)));
    const throttled = await t.app.ctx.db.auditEvent.findMany({ where: { action: "user.login_throttled" } });
    expect(throttled.map((e) => e.sourceIp)).toEqual([inNet(1, 99)]);
  });

  it("the password routes' request limit counts one /64 as one client", async () => {
    // An empty body is refused before any password is checked, and still counts against the limit.
    const empty = (remoteAddress: string) => t.app.inject({ method: "POST", url: "/api/auth/login", payload: {}, remoteAddress });
    let sent = 0;
    while ((await empty(inNet(3, sent))).statusCode === 400 && sent < 100) sent += 1;
    expect(sent).toBe(20);
    expect((await empty(inNet(3, 1000))).statusCode).toBe(429);
    expect((await empty(inNet(4, 1))).statusCode).toBe(400);
  });

  it("the OIDC routes' request limit counts one /64 as one client", async () => {
    const start = (remoteAddress: string) => t.app.inject({ method: "GET", url: "/api/auth/oidc/nowhere/start", remoteAddress });
    let sent = 0;
    while ((await start(inNet(5, sent))).statusCode === 302 && sent < 500) sent += 1;
    expect(sent).toBe(120);
    expect((await start(inNet(5, 1000))).statusCode).toBe(429);
    expect((await start(inNet(6, 1))).statusCode).toBe(302);
  });

  it("unknown API tokens from many addresses in one /64 stop its lookups; another /64 is not held back", async () => {
    const madeUp = (i: number) => ({ authorization: `Bearer pst_${i.toString(16).padStart(12, "0")}_${"x".repeat(43)}` });
    const me = (i: number, remoteAddress: string) => t.app.inject({ method: "GET", url: "/api/me", headers: madeUp(i), remoteAddress });
    for (let i = 0; i < UNKNOWN_TOKENS_PER_WINDOW; i++) expect((await me(i, inNet(7, i))).statusCode).toBe(401);
    expect((await me(UNKNOWN_TOKENS_PER_WINDOW, inNet(7, 1000))).statusCode).toBe(429);
    expect((await me(UNKNOWN_TOKENS_PER_WINDOW + 1, inNet(8, 1))).statusCode).toBe(401);
  });
});
