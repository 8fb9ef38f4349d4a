// Password guessing: one limit shared by every password route, per client address and per
// username, growing back-off, 429 with Retry-After, audited, shared by API instances on the same
// database, and the tunnel's clients told apart by the address ngrok forwards.
import net from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { openDatabase } from "@postern/db";
import serviceApp from "../../app";
import { BODY_LIMIT } from "../../server";
import { buildTestApp, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import type { Forwarder } from "../tunnel/tunnel.manager";
import { AppError } from "../../errors";
import { blockFor, FREE_FAILURES, HeldAttempt, holdAttempt, pruneIdleThrottles } from "./login-throttle";

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

describe.each(providers)("password guessing limits on %s", { timeout: 90_000 }, (provider) => {
  let t: TestApp;
  let clock: TestClock;
  let alice: TestUser;
  let extra: FastifyInstance | undefined;

  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
    alice = await createUser(t.app, { username: "alice" });
  });
  afterEach(async () => {
    await extra?.close();
    extra = undefined;
    await t.close();
  });

  /** One password attempt on each of the password routes, in turn. */
  function attempt(app: FastifyInstance, route: number, username: string, password: string, remoteAddress: string) {
    switch (route % 3) {
      case 0:
        return app.inject({ method: "POST", url: "/api/auth/login", payload: { username, password }, remoteAddress });
      case 1:
        return app.inject({ method: "POST", url: "/api/auth/token", headers: { authorization: basic(username, password) }, remoteAddress });
      default:
        return app.inject({ method: "POST", url: "/api/loginUser", headers: { authorization: basic(username, password) }, remoteAddress });
    }
  }
  /** A second API instance on the same database. */
  async function secondInstance(): Promise<FastifyInstance> {
    const opened = await openDatabase(t.url, { poolSize: 4 });
    extra = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
    await extra.register(fp(serviceApp), { config: t.config, database: opened, secret: t.config.secret ?? "", now: clock.now });
    extra.addHook("onClose", async () => opened.close());
    await extra.ready();
    return extra;
  }
  const throttled = () => t.app.ctx.db.auditEvent.findMany({ where: { action: "user.login_throttled" }, orderBy: { seq: "asc" } });

  it("counts failures from one address across every password route, then answers 429 with Retry-After", async () => {
    const ip = "198.51.100.7";
    // Different usernames each time, so only the address's count runs out.
    for (let i = 0; i <= FREE_FAILURES.ip; i += 1) {
      expect((await attempt(t.app, i, `nobody${i}`, "guess", ip)).statusCode).toBe(401);
    }
    for (let route = 0; route < 3; route += 1) {
      const refused = await attempt(t.app, route, alice.username, alice.password, ip);
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
      const error = ZErrorBody.parse(refused.json()).error;
      expect(error).toMatchObject({ code: "rate_limited", details: { retryAfterSeconds: Number(refused.headers["retry-after"]), blockedBy: ["ip"] } });
    }
    // The current password of a password change is guarded by the same count.
    const change = await t.app.inject({
      method: "POST",
      url: "/api/me/password",
      headers: alice.headers,
      payload: { currentPassword: alice.password, newPassword: "a-new-password-1" },
      remoteAddress: ip,
    });
    expect(change.statusCode).toBe(429);
    // Another address is not held back; the right password works there.
    expect((await attempt(t.app, 0, alice.username, alice.password, "198.51.100.8")).statusCode).toBe(200);
    // Audited once for the block, not once per refusal.
    const events = await throttled();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ sourceIp: ip });
    expect(JSON.parse(events[0]!.details ?? "{}")).toMatchObject({ blockedBy: ["ip"] });
  });

  it("counts failures on one username from any address, holds back even the right password, and backs off longer each time", async () => {
    for (let i = 0; i <= FREE_FAILURES.username; i += 1) {
      expect((await attempt(t.app, i, "alice", "wrong", `203.0.113.${i + 1}`)).statusCode).toBe(401);
    }
    const first = await attempt(t.app, 0, "alice", alice.password, "203.0.113.200");
    expect(first.statusCode).toBe(429);
    expect(ZErrorBody.parse(first.json()).error.message).toContain("for this account");
    const firstWait = Number(first.headers["retry-after"]);

    // After the block, one more wrong guess blocks for longer.
    clock.advance(firstWait * 1000 + 1);
    expect((await attempt(t.app, 1, "alice", "wrong", "203.0.113.201")).statusCode).toBe(401);
    const second = await attempt(t.app, 2, "alice", alice.password, "203.0.113.202");
    expect(second.statusCode).toBe(429);
    expect(Number(second.headers["retry-after"])).toBeGreaterThan(firstWait);
    expect((await throttled()).map((e) => e.target)).toEqual(["username:alice", "username:alice"]);

    // Once it lapses the right password logs in and clears the username's count.
    clock.advance(Number(second.headers["retry-after"]) * 1000 + 1);
    expect((await attempt(t.app, 0, "alice", alice.password, "203.0.113.203")).statusCode).toBe(200);
    expect((await attempt(t.app, 0, "alice", "wrong", "203.0.113.204")).statusCode).toBe(401);
    expect((await attempt(t.app, 0, "alice", alice.password, "203.0.113.205")).statusCode).toBe(200);
  });

  it("a wrong current password in a password change counts toward the account's limit", async () => {
    for (let i = 0; i <= FREE_FAILURES.username; i += 1) {
      const res = await t.app.inject({
        method: "POST",
        url: "/api/me/password",
        headers: alice.headers,
        payload: { currentPassword: `wrong-${i}-password`, newPassword: "a-new-password-1" },
        remoteAddress: `192.0.2.${i + 1}`,
      });
      expect(res.statusCode).toBe(400);
    }
    expect((await attempt(t.app, 0, "alice", alice.password, "192.0.2.99")).statusCode).toBe(429);
  });

  it("counts guesses sent all at once before checking any of them: a flood gets no more checks than a trickle", async () => {
    const statuses = (responses: { statusCode: number }[]) => responses.map((r) => r.statusCode);
    const checked = (codes: number[]) => codes.filter((c) => c !== 429).length;
    // One account, many addresses, split between two instances on the same database.
    const apps = [t.app, await secondInstance()];
    const guesses = Array.from({ length: 40 }, (_, i) => attempt(apps[i % 2]!, i, "alice", `wrong-${i}`, `198.19.0.${i + 1}`));
    const onAccount = statuses(await Promise.all(guesses));
    expect(checked(onAccount)).toBe(FREE_FAILURES.username + 1);
    expect(onAccount.filter((c) => c === 429)).toHaveLength(40 - FREE_FAILURES.username - 1);
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "user.login_failed" } })).toBeGreaterThanOrEqual(FREE_FAILURES.username);

    // One address, many accounts.
    const fromOne = statuses(await Promise.all(Array.from({ length: 40 }, (_, i) => attempt(apps[i % 2]!, i, `nobody${i}`, "guess", "198.19.1.1"))));
    expect(fromOne.filter((c) => c !== 429 && c !== 401)).toEqual([]);
    expect(checked(fromOne)).toBe(FREE_FAILURES.ip + 1);
  });

  it("right passwords sent all at once, on two instances, all log in and leave the limits as they were", async () => {
    const apps = [t.app, await secondInstance()];
    const logins = await Promise.all(Array.from({ length: 24 }, (_, i) => attempt(apps[i % 2]!, i, "alice", alice.password, `198.19.4.${i % 3}`)));
    expect(logins.map((r) => r.statusCode)).toEqual(logins.map(() => 200));
    expect(await t.app.ctx.db.loginThrottle.count()).toBe(0);
  });

  it("a right password does not use up its address's free failures, nor does a disabled user's", async () => {
    const ip = "198.19.2.1";
    const dave = await createUser(t.app, { username: "dave" });
    await t.app.ctx.db.user.update({ where: { id: dave.id }, data: { disabled: true } });
    for (let i = 0; i < FREE_FAILURES.ip + 3; i += 1) {
      expect((await attempt(t.app, i, "alice", alice.password, ip)).statusCode).toBe(200);
      expect((await attempt(t.app, i, "dave", dave.password, ip)).statusCode).toBe(401);
    }
    for (let i = 0; i <= FREE_FAILURES.ip; i += 1) expect((await attempt(t.app, i, `nobody${i}`, "guess", ip)).statusCode).toBe(401);
    expect((await attempt(t.app, 0, "alice", alice.password, ip)).statusCode).toBe(429);
  });

  it("a right password sent while its address is at the limit logs in, and clears the block its own attempt set", async () => {
    const ip = "198.19.3.1";
    for (let i = 0; i < FREE_FAILURES.ip; i += 1) expect((await attempt(t.app, i, `nobody${i}`, "guess", ip)).statusCode).toBe(401);
    expect((await attempt(t.app, 0, "alice", alice.password, ip)).statusCode).toBe(200);
    expect((await attempt(t.app, 1, "nobody", "guess", ip)).statusCode).toBe(401);
    expect((await attempt(t.app, 2, "alice", alice.password, ip)).statusCode).toBe(429);
  });

  it("an attempt that gives up waiting on a check in flight is told the block's length, and the block is audited once", async () => {
    // A block set by an attempt whose check has not ended (a stalled process, a starved CPU).
    const ip = "198.19.4.1";
    const key = `ip:${ip}`;
    const now = clock.now();
    const inFlightUntil = new Date(now.getTime() + blockFor(1) + 30_000);
    await t.app.ctx.db.loginThrottle.create({
      data: { key, failures: FREE_FAILURES.ip + 1, windowStartedAt: now, updatedAt: now, blockedUntil: inFlightUntil, blockInFlight: true },
    });
    const refusal = (await holdAttempt(t.app.ctx, { ip }).catch((e: unknown) => e)) as AppError;
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal.details).toMatchObject({ retryAfterSeconds: blockFor(1) / 1000, blockedBy: ["ip"] });
    expect(await throttled()).toHaveLength(1);

    // The check in flight fails: its block now runs from the failure, and is the same block.
    const held = new HeldAttempt(t.app.ctx, [{ key, windowStartedAt: now, blockedUntil: inFlightUntil, blockMs: blockFor(1) }], undefined);
    await t.app.ctx.sql.transaction((sql) => held.failed(sql));
    const row = await t.app.ctx.db.loginThrottle.findUniqueOrThrow({ where: { key } });
    expect(row).toMatchObject({ blockInFlight: false, blockedUntil: row.reportedUntil });
    expect((await attempt(t.app, 0, "alice", alice.password, ip)).statusCode).toBe(429);
    expect(await throttled()).toHaveLength(1);
  });

  it("prunes rows that hold nothing any more, and keeps counts and blocks that still matter", async () => {
    const now = clock.now().getTime();
    const ago = (ms: number) => new Date(now - ms);
    const row = (key: string, updatedAt: Date, blockedUntil: Date | null) =>
      t.app.ctx.db.loginThrottle.create({ data: { key, failures: 3, windowStartedAt: updatedAt, updatedAt, blockedUntil } });
    await row("ip:idle", ago(2 * 3600_000), null);
    await row("ip:idle-and-block-over", ago(2 * 3600_000), ago(3600_000));
    await row("ip:recent", ago(60_000), null);
    await row("ip:old-but-blocked", ago(2 * 3600_000), new Date(now + 60_000));
    expect(await pruneIdleThrottles(t.app.ctx)).toBe(2);
    expect((await t.app.ctx.db.loginThrottle.findMany({ orderBy: { key: "asc" } })).map((r) => r.key)).toEqual(["ip:old-but-blocked", "ip:recent"]);
  });

  it("is shared by API instances on the same database", async () => {
    const other = await secondInstance();
    // Failures alternate between the two instances; the block is seen by both.
    for (let i = 0; i <= FREE_FAILURES.username; i += 1) {
      expect((await attempt(i % 2 ? other : t.app, i, "alice", "wrong", `198.18.0.${i + 1}`)).statusCode).toBe(401);
    }
    expect((await attempt(other, 0, "alice", alice.password, "198.18.1.1")).statusCode).toBe(429);
    expect((await attempt(t.app, 1, "alice", alice.password, "198.18.1.2")).statusCode).toBe(429);
  });
});

describe.each(providers)("the tunnel's client addresses on %s", { timeout: 60_000 }, (provider) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("takes the client's address from X-Forwarded-For on tunnel connections only", async () => {
    t = await buildTestApp(provider, { env: { NGROK_AUTHTOKEN: "authtoken-1" } });
    const { app } = t;
    const direct = await app.listen({ port: 0, host: "127.0.0.1" });
    // Stand-in for ngrok's cloud (unreachable here): it only tells us where ngrok would forward.
    let forwardTo = "";
    const forward: Forwarder = async ({ addr }) => {
      forwardTo = addr;
      return { url: () => "https://postern-test.ngrok.app", close: async () => {} };
    };
    app.tunnel.useForwarder(forward);
    expect((await app.tunnel.open()).state).toBe("open");
    expect(forwardTo).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(`http://${forwardTo}`).not.toBe(direct);

    const login = (base: string) =>
      fetch(`${base}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "10.9.9.9, 203.0.113.77" },
        body: JSON.stringify({ username: "nobody", password: "guess" }),
      });
    expect((await login(`http://${forwardTo}`)).status).toBe(401);
    expect((await login(direct)).status).toBe(401);
    const failed = await app.ctx.db.auditEvent.findMany({ where: { action: "user.login_failed" }, orderBy: { seq: "asc" } });
    // Through the tunnel: the address ngrok appended; on the public port the header is ignored.
    expect(failed.map((e) => e.sourceIp)).toEqual(["203.0.113.77", "127.0.0.1"]);
    // Without POSTERN_METRICS_TOKEN the metrics are not served to the internet through the tunnel.
    expect((await fetch(`http://${forwardTo}/metrics`)).status).toBe(403);
    expect((await fetch(`${direct}/metrics`)).status).toBe(200);

    // Closed, the tunnel's listener stops: no local process picks its own address through it. Opened
    // again, it listens again.
    const connects = (hostPort: string) =>
      new Promise<boolean>((resolve) => {
        const [host, port] = hostPort.split(":");
        const socket = net.connect(Number(port), host!, () => (socket.end(), resolve(true)));
        socket.once("error", () => resolve(false));
      });
    expect((await app.tunnel.close()).state).toBe("closed");
    expect(await connects(forwardTo)).toBe(false);
    expect((await app.tunnel.open()).state).toBe("open");
    expect((await login(`http://${forwardTo}`)).status).toBe(401);
  });

});
