// Credentials that really end: a Basic-issued bearer, a login cookie and the live streams opened
// with them stop working on "log out everywhere", on a password set by an admin and on the
// user's own password change; and a principal cannot open live streams without bound.
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ZCreatedToken } from "@postern/contracts";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { openLive, type LiveTestClient } from "../live/live.test-client";

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

describe.each(providers)("credentials end on %s", { timeout: 60_000 }, (provider) => {
  let t: TestApp;
  let base: string;
  let admin: TestUser;
  let member: TestUser;
  const clients: LiveTestClient[] = [];

  async function start(env: Record<string, string> = {}) {
    t = await buildTestApp(provider, { env });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    admin = await createUser(t.app, { role: "admin" });
    member = await createUser(t.app);
  }
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t.close();
  });

  /** Every kind of credential the member can hold, each with a live stream open. */
  async function credentials() {
    const traded = await t.app.inject({ method: "POST", url: "/api/auth/token", headers: { authorization: basic(member.username, member.password) } });
    expect(traded.statusCode).toBe(200);
    const bearer = { authorization: `Bearer ${traded.json<{ token: string }>().token}` };
    const secondLogin = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: member.username, password: member.password } });
    expect(secondLogin.statusCode).toBe(200);
    const cookie2 = String(secondLogin.headers["set-cookie"]).split(";")[0] ?? "";
    const otherCookie = { cookie: cookie2, "x-postern-csrf": "1" };
    const created = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "script", scopes: ["sessions:read"] } });
    const apiToken = { authorization: `Bearer ${ZCreatedToken.parse(created.json()).token}` };
    const live = {
      bearer: await openLive(base, bearer),
      cookie: await openLive(base, member.headers),
      otherCookie: await openLive(base, otherCookie),
      apiToken: await openLive(base, apiToken),
    };
    clients.push(...Object.values(live));
    for (const c of Object.values(live)) await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
    return { bearer, otherCookie, apiToken, live };
  }
  const status = async (headers: Record<string, string>) => (await t.app.inject({ url: "/api/me", headers })).statusCode;
  /** Resolves true when the stream is closed within a few seconds. */
  const ends = (c: LiveTestClient) => Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);

  it("log out everywhere ends the Basic-issued bearer, every cookie and their live streams; API tokens stay", async () => {
    await start();
    const creds = await credentials();
    const res = await t.app.inject({ method: "POST", url: "/api/auth/logout-all", headers: member.headers });
    expect(res.json()).toMatchObject({ ok: true, ended: 3 });
    expect(await status(creds.bearer)).toBe(401);
    expect(await status(member.headers)).toBe(401);
    expect(await status(creds.otherCookie)).toBe(401);
    expect(await Promise.all([ends(creds.live.bearer), ends(creds.live.cookie), ends(creds.live.otherCookie)])).toEqual([true, true, true]);
    // Personal API tokens are not logins: revoked on their own page, or with a password change.
    expect(await status(creds.apiToken)).toBe(200);
    expect(creds.live.apiToken.ws.readyState).toBe(creds.live.apiToken.ws.OPEN);
  });

  it("an API token cannot sign its owner out everywhere nor change their password; a traded bearer can", async () => {
    await start();
    const created = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "script", scopes: ["sessions:write"] } });
    const apiToken = { authorization: `Bearer ${ZCreatedToken.parse(created.json()).token}` };
    const all = await t.app.inject({ method: "POST", url: "/api/auth/logout-all", headers: apiToken });
    expect(all.statusCode).toBe(403);
    expect(all.json()).toMatchObject({ error: { code: "forbidden", message: expect.stringContaining("API token") } });
    const change = await t.app.inject({
      method: "POST",
      url: "/api/me/password",
      headers: apiToken,
      payload: { currentPassword: member.password, newPassword: "a-new-password-1" },
    });
    expect(change.statusCode).toBe(403);
    expect(await status(member.headers)).toBe(200);

    const traded = await t.app.inject({ method: "POST", url: "/api/auth/token", headers: { authorization: basic(member.username, member.password) } });
    const bearer = { authorization: `Bearer ${traded.json<{ token: string }>().token}` };
    expect((await t.app.inject({ method: "POST", url: "/api/auth/logout-all", headers: bearer })).json()).toMatchObject({ ok: true, ended: 2 });
    expect(await status(member.headers)).toBe(401);
  });

  it("a password set by an admin ends every login of the user and their streams, and revokes tokens when asked", async () => {
    await start();
    const creds = await credentials();
    const res = await t.app.inject({
      method: "PATCH",
      url: `/api/users/${member.id}`,
      headers: admin.headers,
      payload: { password: "set-by-the-admin-1", revokeTokens: true },
    });
    expect(res.statusCode).toBe(200);
    expect(await status(creds.bearer)).toBe(401);
    expect(await status(member.headers)).toBe(401);
    expect(await status(creds.otherCookie)).toBe(401);
    expect(await status(creds.apiToken)).toBe(401);
    expect(await Promise.all(Object.values(creds.live).map(ends))).toEqual([true, true, true, true]);
    // The old password no longer logs in, the new one does.
    expect((await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: member.username, password: member.password } })).statusCode).toBe(401);
    expect((await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: member.username, password: "set-by-the-admin-1" } })).statusCode).toBe(200);
  });

  it("the user's own password change ends their other logins and streams, keeps this one", async () => {
    await start();
    const creds = await credentials();
    const res = await t.app.inject({
      method: "POST",
      url: "/api/me/password",
      headers: member.headers,
      payload: { currentPassword: member.password, newPassword: "my-own-new-password" },
    });
    expect(res.json()).toMatchObject({ ok: true, endedLogins: 2, revokedTokens: 0 });
    expect(await status(creds.bearer)).toBe(401);
    expect(await status(creds.otherCookie)).toBe(401);
    expect(await status(member.headers)).toBe(200);
    expect(await Promise.all([ends(creds.live.bearer), ends(creds.live.otherCookie)])).toEqual([true, true]);
    expect(creds.live.cookie.ws.readyState).toBe(creds.live.cookie.ws.OPEN);
    expect(await status(creds.apiToken)).toBe(200);
    // Basic with the old password gets no new bearer.
    expect((await t.app.inject({ method: "POST", url: "/api/loginUser", headers: { authorization: basic(member.username, member.password) } })).statusCode).toBe(401);
  });

  it("caps live streams per user and per token (POSTERN_MAX_LIVE_CONNECTIONS) with close code 4429", async () => {
    await start({ POSTERN_MAX_LIVE_CONNECTIONS: "2" });
    const first = await openLive(base, member.headers);
    const second = await openLive(base, member.headers);
    clients.push(first, second);
    const third = await openLive(base, member.headers);
    clients.push(third);
    expect(await third.closed).toEqual({ code: 4429 });
    // Another user, and an API token (counted by itself), still get in.
    const other = await openLive(base, admin.headers);
    const created = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: "watch", scopes: ["sessions:read"] } });
    const viaToken = await openLive(base, { authorization: `Bearer ${ZCreatedToken.parse(created.json()).token}` });
    clients.push(other, viaToken);
    for (const c of [first, second, other, viaToken]) await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
    // A closed stream frees its place.
    first.ws.close();
    await first.closed;
    await new Promise((r) => setTimeout(r, 100));
    const again = await openLive(base, member.headers);
    clients.push(again);
    await again.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
  });
});
