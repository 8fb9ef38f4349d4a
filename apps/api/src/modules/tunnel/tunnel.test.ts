// The public tunnel: its state machine, its routes, its audit and its failure path, with the
// real @ngrok/ngrok library. ngrok's cloud cannot be reached from CI (the library's session
// dial fails within milliseconds), so the failure path is exercised for real, and the success
// path (a listener with a public URL) uses a stand-in forwarder — marked where it is used.
import type { AddressInfo } from "node:net";
import os from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { ZErrorBody, ZTunnel } from "@postern/contracts";
import type { TDomainEvent } from "@postern/contracts";
import { watchEvents } from "../../../test/events";
import { hasEvent, openLive, type LiveTestClient } from "../live/live.test-client";
import { verifyAuditChain } from "../audit/audit.service";
import { createApiToken } from "../tokens/tokens.service";
import { buildTestApp, createUser, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";
import { postern } from "../../../test/cli";
import { TunnelManager, ngrokForwarder, type Forwarder, type TunnelListener, type TunnelTransition } from "./tunnel.manager";

/** Stand-in for ngrok's cloud (unreachable here): a listener with a fixed public URL. */
function fakeCloud(url = "https://postern-test.ngrok.app") {
  const calls: { addr: string; authtoken: string; domain?: string }[] = [];
  let closed = 0;
  const forward: Forwarder = async ({ addr, authtoken, domain }) => {
    calls.push({ addr, authtoken, domain });
    await new Promise((r) => setTimeout(r, 20));
    const listener: TunnelListener = { url: () => url, close: async () => void (closed += 1) };
    return listener;
  };
  return { forward, calls, closedCount: () => closed };
}

async function tunnelAudit(t: TestApp) {
  return t.app.ctx.db.auditEvent.findMany({ where: { action: { startsWith: "tunnel." } }, orderBy: { seq: "asc" } });
}

describe("TunnelManager with the real ngrok library", () => {
  it("turns an unreachable ngrok / rejected authtoken into the error state with a reason", async () => {
    const transitions: TunnelTransition[] = [];
    const manager = new TunnelManager({
      authtoken: "not-a-real-authtoken",
      addr: () => "127.0.0.1:9",
      // ngrok's cloud is not reachable from here (and tests send nothing off the machine): the
      // real library dials a closed loopback port instead and must report the failure.
      serverAddr: "127.0.0.1:9",
      forward: ngrokForwarder,
      timeoutMs: 10_000,
      onTransition: async (t) => void transitions.push(t),
    });
    const started = Date.now();
    const result = await manager.open();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.state).toBe("error");
    // Without internet the dial fails; with internet the made-up authtoken is refused. Either way
    // the reason says the tunnel could not open and quotes ngrok.
    expect(result.reason).toMatch(/^could not open the ngrok tunnel: .+/);
    expect(transitions.map((t) => t.snapshot.state)).toEqual(["opening", "error"]);
    expect(manager.url()).toBeUndefined();
    // From error, close returns to closed.
    expect((await manager.close()).state).toBe("closed");
    expect(transitions.at(-1)?.snapshot.state).toBe("closed");
  });

  it("gives up on a ngrok that does not answer, and closes a listener that arrives too late", async () => {
    let lateClosed = false;
    // Stand-in: a dial that hangs (what a black-holed network does) and answers after the timeout.
    const hanging: Forwarder = () =>
      new Promise((resolve) =>
        setTimeout(() => resolve({ url: () => "https://late.ngrok.app", close: async () => void (lateClosed = true) }), 150),
      );
    const manager = new TunnelManager({ authtoken: "x", addr: () => "127.0.0.1:9", forward: hanging, timeoutMs: 50, onTransition: async () => {} });
    const result = await manager.open();
    expect(result).toMatchObject({ state: "error", reason: "could not open the ngrok tunnel: ngrok did not answer within 0 s" });
    await new Promise((r) => setTimeout(r, 200));
    expect(lateClosed).toBe(true);
    expect(manager.snapshot().state).toBe("error");
  });

  it("never quotes the authtoken in the reason when ngrok refuses it", async () => {
    const authtoken = "2abcDEFghiJKLmno_PQRstuVWXyz1234567890";
    // Stand-in for ngrok's cloud refusing the authtoken, with the text its ERR_NGROK_105 carries.
    const refusing: Forwarder = async () => {
      const err = new Error(
        `The authentication you specified does not look like a proper ngrok authtoken.\nYour authtoken: ${authtoken.slice(0, -1)}X\n` +
          `Instructions to install your authtoken are on your ngrok dashboard (tried ${authtoken}).`,
      );
      throw Object.assign(err, { code: "ERR_NGROK_105" });
    };
    const transitions: TunnelTransition[] = [];
    const manager = new TunnelManager({ authtoken, addr: () => "127.0.0.1:9", forward: refusing, onTransition: async (t) => void transitions.push(t) });
    const result = await manager.open();
    expect(result.state).toBe("error");
    expect(result.reason).toContain("Your authtoken: ***");
    expect(result.reason).toContain("ERR_NGROK_105");
    expect(JSON.stringify(transitions)).not.toContain(authtoken.slice(0, 20));
  });

  it("joins concurrent opens into one dial and refuses to open without an authtoken", async () => {
    const cloud = fakeCloud();
    const manager = new TunnelManager({ authtoken: "x", domain: "postern.example", addr: () => "127.0.0.1:1234", forward: cloud.forward, onTransition: async () => {} });
    const [a, b] = await Promise.all([manager.open(), manager.open()]);
    expect(cloud.calls).toEqual([{ addr: "127.0.0.1:1234", authtoken: "x", domain: "postern.example" }]);
    expect(a.state).toBe("open");
    expect(b.url).toBe("https://postern-test.ngrok.app");
    expect((await manager.open()).state).toBe("open");
    expect(cloud.calls).toHaveLength(1);

    const unconfigured = new TunnelManager({ addr: () => "127.0.0.1:1", onTransition: async () => {} });
    await expect(unconfigured.open()).rejects.toThrow(/NGROK_AUTHTOKEN/);
    expect(unconfigured.snapshot().state).toBe("closed");
  });
});

describe.each(providers)("tunnel routes (%s)", { timeout: 60_000 }, (provider) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("lets only admins and tunnel:manage tokens see and steer the tunnel", async () => {
    t = await buildTestApp(provider);
    const { app } = t;
    expect((await app.inject({ method: "GET", url: "/api/tunnel" })).statusCode).toBe(401);
    const member = await createUser(app);
    expect((await app.inject({ method: "GET", url: "/api/tunnel", headers: member.headers })).statusCode).toBe(403);
    expect((await app.inject({ method: "POST", url: "/api/tunnel/open", headers: member.headers })).statusCode).toBe(403);

    const admin = await createUser(app, { role: "admin" });
    const res = await app.inject({ method: "GET", url: "/api/tunnel", headers: admin.headers });
    expect(res.statusCode).toBe(200);
    expect(ZTunnel.parse(res.json())).toMatchObject({ provider: "ngrok", state: "closed", configured: false, publicUrl: "http://localhost:8080" });

    const caller = { actor: { id: admin.id, username: admin.username } };
    const service = await createApiToken(app.ctx, caller, { name: "ops", scopes: ["tunnel:manage"], userId: null });
    const reader = await createApiToken(app.ctx, caller, { name: "reader", scopes: ["sessions:read"], userId: null });
    const memberToken = await createApiToken(app.ctx, caller, { name: "mine", scopes: ["tunnel:manage"], userId: member.id });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    expect((await app.inject({ method: "GET", url: "/api/tunnel", headers: bearer(service.token) })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/api/tunnel", headers: bearer(reader.token) })).statusCode).toBe(403);
    // A scope never gives a member more than their role: such a token does not work at all.
    expect((await app.inject({ method: "GET", url: "/api/tunnel", headers: bearer(memberToken.token) })).statusCode).toBe(401);

    // Not configured: a clear 503 naming the missing variable, and nothing changes.
    const open = await app.inject({ method: "POST", url: "/api/tunnel/open", headers: bearer(service.token) });
    expect(open.statusCode).toBe(503);
    expect(ZErrorBody.parse(open.json()).error.message).toMatch(/NGROK_AUTHTOKEN/);
    expect(app.tunnel.snapshot().state).toBe("closed");
    expect(await tunnelAudit(t)).toHaveLength(0);
  });

  it("reports a tunnel that cannot reach ngrok as an error, audits it, and keeps serving", async () => {
    t = await buildTestApp(provider, { env: { NGROK_AUTHTOKEN: "not-a-real-authtoken" } });
    const { app } = t;
    const changes = watchEvents(app);
    const admin = await createUser(app, { role: "admin" });

    const res = await app.inject({ method: "POST", url: "/api/tunnel/open", headers: admin.headers });
    expect(res.statusCode).toBe(503);
    const body = ZErrorBody.parse(res.json());
    expect(body.error.code).toBe("service_unavailable");
    expect(body.error.message).toMatch(/^could not open the ngrok tunnel: /);
    const state = ZTunnel.parse((await app.inject({ method: "GET", url: "/api/tunnel", headers: admin.headers })).json());
    expect(state).toMatchObject({ state: "error", configured: true, reason: body.error.message, publicUrl: "http://localhost:8080" });
    expect(app.publicUrl()).toBe("http://localhost:8080");
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);

    const closed = await app.inject({ method: "POST", url: "/api/tunnel/close", headers: admin.headers });
    expect(ZTunnel.parse(closed.json()).state).toBe("closed");

    const audit = await tunnelAudit(t);
    expect(audit.map((e) => [e.action, e.actorUsername, e.target])).toEqual([
      ["tunnel.opening", admin.username, "tunnel:ngrok"],
      ["tunnel.failed", admin.username, "tunnel:ngrok"],
      ["tunnel.closed", admin.username, "tunnel:ngrok"],
    ]);
    expect(JSON.parse(audit[1]?.details ?? "{}")).toMatchObject({ reason: body.error.message });
    await app.changes.settled();
    expect(changes.events.flatMap((e) => ("tunnel" in e ? [[e.type, e.tunnel.state]] : []))).toEqual([
      ["tunnel.opening", "opening"],
      ["tunnel.failed", "error"],
      ["tunnel.closed", "closed"],
    ]);
    expect((await verifyAuditChain(app.ctx)).firstBreak).toBeUndefined();
  });

  it("tells members the tunnel failed, and only admins why", async () => {
    t = await buildTestApp(provider, { env: { NGROK_AUTHTOKEN: "not-a-real-authtoken" } });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const admin = await createUser(t.app, { role: "admin" });
    const member = await createUser(t.app);
    const [adminLive, memberLive] = [await openLive(base, admin.headers), await openLive(base, member.headers)];
    try {
      for (const c of [adminLive, memberLive]) await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
      expect((await t.app.inject({ method: "POST", url: "/api/tunnel/open", headers: admin.headers })).statusCode).toBe(503);
      const failed = async (c: LiveTestClient) => {
        await c.waitFor(hasEvent("tunnel.failed"), "tunnel.failed");
        const frame = c.events().find((m) => m.event.type === "tunnel.failed");
        return frame?.event.type === "tunnel.failed" ? frame.event.tunnel : undefined;
      };
      expect((await failed(adminLive))?.reason).toMatch(/^could not open the ngrok tunnel: /);
      const seen = await failed(memberLive);
      expect(seen).toMatchObject({ state: "error", publicUrl: "http://localhost:8080" });
      expect(seen).not.toHaveProperty("reason");
    } finally {
      for (const c of [adminLive, memberLive]) c.ws.terminate();
    }
  });

  it("opens at start with POSTERN_TUNNEL=ngrok and fails without stopping the server", async () => {
    t = await buildTestApp(provider, { env: { POSTERN_TUNNEL: "ngrok", NGROK_AUTHTOKEN: "not-a-real-authtoken", PORT: "0" } });
    const { app } = t;
    const settled = new Promise<TDomainEvent>((resolve) =>
      app.changes.subscribe(({ event }) => {
        if (event.type.startsWith("tunnel.") && event.type !== "tunnel.opening") resolve(event);
      }),
    );
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    const change = await settled;
    expect(change).toMatchObject({ type: "tunnel.failed", tunnel: { state: "error" } });
    const res = await fetch(`${address}/healthz`);
    expect(res.status).toBe(200);
    const audit = await tunnelAudit(t);
    expect(audit.map((e) => [e.action, e.actorId])).toEqual([
      ["tunnel.opening", null],
      ["tunnel.failed", null],
    ]);
  });

  it("opens and closes (ngrok cloud stand-in) and makes the tunnel URL the public URL", async () => {
    t = await buildTestApp(provider, { env: { NGROK_AUTHTOKEN: "authtoken-1", POSTERN_NGROK_DOMAIN: "postern-test.ngrok.app" } });
    const { app } = t;
    // Stand-in for ngrok's cloud, which cannot be reached from CI.
    const cloud = fakeCloud();
    app.tunnel.useForwarder(cloud.forward);
    const admin = await createUser(app, { role: "admin" });

    const opened = await app.inject({ method: "POST", url: "/api/tunnel/open", headers: admin.headers });
    expect(opened.statusCode).toBe(200);
    expect(ZTunnel.parse(opened.json())).toMatchObject({
      state: "open",
      url: "https://postern-test.ngrok.app",
      domain: "postern-test.ngrok.app",
      publicUrl: "https://postern-test.ngrok.app",
    });
    expect(cloud.calls[0]).toMatchObject({ authtoken: "authtoken-1", domain: "postern-test.ngrok.app" });
    expect(app.publicUrl()).toBe("https://postern-test.ngrok.app");

    // A login made through the tunnel (ngrok ends TLS and forwards with its host name) gets a
    // Secure cookie; one made on the local address does not, or the browser would drop it.
    const login = (host: string) =>
      app.inject({ method: "POST", url: "/api/auth/login", headers: { host }, payload: { username: admin.username, password: admin.password } });
    const viaTunnel = await login("postern-test.ngrok.app");
    expect(viaTunnel.statusCode).toBe(200);
    expect(String(viaTunnel.headers["set-cookie"])).toMatch(/; Secure/);
    const local = await login("localhost:8080");
    expect(String(local.headers["set-cookie"])).not.toMatch(/; Secure/);

    // Opening an open tunnel changes nothing.
    expect((await app.inject({ method: "POST", url: "/api/tunnel/open", headers: admin.headers })).statusCode).toBe(200);
    expect(cloud.calls).toHaveLength(1);

    const closed = await app.inject({ method: "POST", url: "/api/tunnel/close", headers: admin.headers });
    expect(ZTunnel.parse(closed.json())).toMatchObject({ state: "closed", publicUrl: "http://localhost:8080" });
    expect(ZTunnel.parse(closed.json()).url).toBeUndefined();
    expect(cloud.closedCount()).toBe(1);
    const audit = await tunnelAudit(t);
    expect(audit.map((e) => e.action)).toEqual(["tunnel.opening", "tunnel.opened", "tunnel.closed"]);
    expect(JSON.parse(audit[1]?.details ?? "{}")).toMatchObject({ url: "https://postern-test.ngrok.app" });
  });

  it("keeps an explicit POSTERN_PUBLIC_URL over the tunnel's URL", async () => {
    t = await buildTestApp(provider, { env: { NGROK_AUTHTOKEN: "authtoken-1", POSTERN_PUBLIC_URL: "https://access.example.com" } });
    t.app.tunnel.useForwarder(fakeCloud().forward); // stand-in for ngrok's cloud
    await t.app.tunnel.open();
    expect(t.app.publicUrl()).toBe("https://access.example.com");
    expect(t.app.presentTunnel()).toMatchObject({ state: "open", url: "https://postern-test.ngrok.app", publicUrl: "https://access.example.com" });
  });
});

describe("postern tunnel (CLI against the running server)", () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("opens, reports and closes through the API with POSTERN_URL and POSTERN_TOKEN", async () => {
    t = await buildTestApp("sqlite", { env: { NGROK_AUTHTOKEN: "not-a-real-authtoken" } });
    const { app } = t;
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    const admin = await createUser(app, { role: "admin" });
    const { token } = await createApiToken(app.ctx, { actor: { id: admin.id, username: admin.username } }, { name: "cli", scopes: ["tunnel:manage"], userId: null });
    const env = { POSTERN_URL: address, POSTERN_TOKEN: token };
    const cwd = os.tmpdir();

    // The real library cannot reach ngrok here: the command fails with the reason, exit 1.
    const [open, noToken] = await Promise.all([postern(["tunnel", "open"], env, cwd), postern(["tunnel", "status"], { POSTERN_URL: address }, cwd)]);
    expect(open.code).toBe(1);
    expect(open.stderr).toMatch(/^postern: could not open the ngrok tunnel: .+\n$/);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/^postern: POSTERN_TOKEN is not set/);

    const [status, close] = [await postern(["tunnel", "status"], env, cwd), await postern(["tunnel", "close"], env, cwd)];
    expect(status).toMatchObject({ code: 0, stdout: expect.stringMatching(/^tunnel error: could not open the ngrok tunnel: /) });
    expect(close).toMatchObject({ code: 0, stdout: "tunnel closed\n" });
    expect(app.tunnel.snapshot().state).toBe("closed");
    const audit = await tunnelAudit(t);
    expect(audit.map((e) => [e.action, e.actorUsername])).toEqual([
      ["tunnel.opening", "token:cli"],
      ["tunnel.failed", "token:cli"],
      ["tunnel.closed", "token:cli"],
    ]);
  }, 120_000);
});
