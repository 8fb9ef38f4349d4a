// The agent websocket and the agents admin route on real databases, with a scripted agent.
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { ZAgent, ZErrorBody } from "@postern/contracts";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { ADMIN_CLASS } from "../live/live.audience";
import { POLL_MS } from "./gateway.hub";
import { findAgents, findDesiredRules, touchAgent } from "./gateway.service";
import { watchEvents } from "../../../test/events";
import { AGENT_PING_MS } from "./gateway.routes";
import { createAgentToken, listen, openSecondInstance, ScriptedAgent } from "./gateway.testkit";

describe.each(providers)("gateway agents (%s)", (provider) => {
  let t: TestApp;
  let base: string;
  let admin: TestUser;
  let member: TestUser;
  const agents: ScriptedAgent[] = [];

  // One app per provider: every test makes its own agents, names and services.
  beforeAll(async () => {
    t = await buildTestApp(provider, { env: { POSTERN_MIN_SESSION_SECONDS: "1" } });
    base = await listen(t.app);
    admin = await createUser(t.app, { role: "admin" });
    member = await createUser(t.app);
  });
  afterEach(() => {
    for (const a of agents.splice(0)) a.close();
  });
  afterAll(async () => {
    await t.close();
  });

  const connect = async (headers: Record<string, string>) => {
    const a = await ScriptedAgent.connect(base, headers);
    agents.push(a);
    return a;
  };
  const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  const hello = async (token: string, name = unique("edge")) => {
    const a = await connect({ authorization: `Bearer ${token}` });
    a.send({ type: "hello", name, driver: "dry-run" });
    const welcome = await a.next("welcome");
    return { a, agentId: welcome.agentId };
  };
  const bindService = async (agentId: string, publicPort = 18080) => {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: {
        name: `Forward ${publicPort}`,
        slug: `fwd-${publicPort}-${Math.random().toString(36).slice(2, 6)}`,
        kind: "tcp",
        maxDurationSeconds: 3600,
        gateway: { agentId, publicPort, lanHost: "10.9.0.2", lanPort: 80, protocol: "tcp" },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; gateway: unknown };
  };

  it("refuses connections without an agent token", async () => {
    await expect(ScriptedAgent.connect(base, {})).rejects.toThrow("HTTP 401");
    const wrongScope = await createAgentToken(t.app, ["sessions:read"]);
    await expect(ScriptedAgent.connect(base, { authorization: `Bearer ${wrongScope}` })).rejects.toThrow("HTTP 403");
    // A login carries its user's rights, but the agent socket wants a token made for it.
    const byCookie = await connect(admin.headers);
    expect((await byCookie.next("error")).message).toContain("scope agent");
    expect((await byCookie.closed).code).toBe(1008);
  });

  it("requires hello first and validates it, naming the field", async () => {
    const token = await createAgentToken(t.app);
    const a = await connect({ authorization: `Bearer ${token}` });
    a.send({ type: "hello", name: "bad name!", driver: "x" });
    expect((await a.next("error")).message).toContain("name");
    const b = await connect({ authorization: `Bearer ${token}` });
    b.send({ type: "pong" });
    expect((await b.next("error")).message).toBe("the first message must be hello");
  });

  it("registers the agent, pushes desired rules on connect and on every session change, records reports", async () => {
    const watched = watchEvents(t.app);
    onTestFinished(watched.stop);
    const token = await createAgentToken(t.app);
    const { a, agentId } = await hello(token);
    expect((await a.next("rules")).rules).toEqual([]);
    const service = await bindService(agentId);
    expect(service.gateway).toEqual({ agentId, publicPort: 18080, lanHost: "10.9.0.2", lanPort: 80, protocol: "tcp" });

    // The API grants it to members through a group-less service (admins see all); start as admin.
    const start = await t.app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: admin.headers,
      payload: { durationSeconds: 600, sourceIp: "198.51.100.7" },
    });
    expect(start.statusCode, start.body).toBe(201);
    const session = start.json() as { id: string; expiresAt: string };
    const pushed = await a.next("rules", (m) => m.rules.length === 1);
    expect(pushed.rules[0]).toEqual({
      sessionId: session.id,
      serviceId: service.id,
      protocol: "tcp",
      sourceIp: "198.51.100.7",
      publicPort: 18080,
      lanHost: "10.9.0.2",
      lanPort: 80,
      expiresAt: session.expiresAt,
    });
    a.send({ type: "applied", version: pushed.version, applied: 1, added: 1, removed: 0 });

    await expect.poll(async () => {
      const res = await t.app.inject({ method: "GET", url: "/api/agents", headers: admin.headers });
      return ZAgent.array().parse(res.json()).find((x) => x.id === agentId);
    }).toMatchObject({ id: agentId, online: true, rulesDesired: 1, rulesApplied: 1, inSync: true });
    // The board sees the door open on the service itself, and is told so live.
    const gatewayStatus = async () =>
      ((await t.app.inject({ method: "GET", url: `/api/services/${service.id}`, headers: admin.headers })).json() as { gatewayStatus?: unknown }).gatewayStatus;
    expect(await gatewayStatus()).toEqual({ online: true, inSync: true });
    // Agent events carry the services whose doors they change.
    const serviceUpdates = () => watched.events.filter((e) => "serviceIds" in e && e.serviceIds.includes(service.id)).length;
    const updatesBefore = serviceUpdates();

    const extend = await t.app.inject({ method: "POST", url: `/api/sessions/${session.id}/extend`, headers: admin.headers, payload: { durationSeconds: 60 } });
    expect(extend.statusCode).toBe(200);
    const extended = await a.next("rules", (m) => m.rules[0]?.expiresAt === (extend.json() as { expiresAt: string }).expiresAt);
    expect(extended.version).toBeGreaterThan(pushed.version);

    const end = await t.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: admin.headers });
    expect(end.statusCode).toBe(200);
    const emptied = await a.next("rules", (m) => m.rules.length === 0);
    a.send({ type: "applied", version: emptied.version, applied: 0, added: 0, removed: 1, error: "nft lacks privileges" });
    await expect.poll(async () => {
      const res = await t.app.inject({ method: "GET", url: "/api/agents", headers: admin.headers });
      return ZAgent.array().parse(res.json()).find((x) => x.id === agentId);
    }).toMatchObject({ rulesDesired: 0, rulesApplied: 0, inSync: false, lastError: "nft lacks privileges" });
    // The board in memory is moved by the agent's event, not dropped to be read again: a gateway
    // reports after every door it opens or closes, and each report used to send every class's
    // next read back to the database.
    const inMemory = () => t.app.board.cache.peek(ADMIN_CLASS)?.byId.get(service.id)?.gatewayStatus;
    await expect.poll(inMemory).toEqual({ online: true, inSync: false, error: "nft lacks privileges" });
    expect(await gatewayStatus()).toEqual({ online: true, inSync: false, error: "nft lacks privileges" });
    expect(serviceUpdates()).toBeGreaterThan(updatesBefore);

    a.close();
    await expect.poll(async () => (await t.app.ctx.db.agent.findUniqueOrThrow({ where: { id: agentId } })).online).toBe(false);
    await expect.poll(inMemory).toMatchObject({ online: false, inSync: false });
    expect(await gatewayStatus()).toMatchObject({ online: false, inSync: false });
    const actions = (await t.app.ctx.db.auditEvent.findMany({ where: { target: `agent:${agentId}` }, orderBy: { seq: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(["agent.connected", "agent.rules_applied", "agent.rules_applied", "agent.disconnected"]);
  });

  it("only sessions with a source address on services bound to this agent become rules; expiry drops them", async () => {
    const token = await createAgentToken(t.app);
    const { a, agentId } = await hello(token);
    const other = await hello(await createAgentToken(t.app));
    await a.next("rules");
    await other.a.next("rules");
    const mine = await bindService(agentId, 18081);
    const theirs = await bindService(other.agentId, 18082);
    for (const [svc, ip] of [[mine.id, "198.51.100.1"], [theirs.id, "198.51.100.2"]]) {
      const res = await t.app.inject({ method: "POST", url: `/api/services/${svc}/sessions`, headers: admin.headers, payload: { durationSeconds: 2, sourceIp: ip } });
      expect(res.statusCode).toBe(201);
    }
    expect((await a.next("rules", (m) => m.rules.length === 1)).rules[0]?.sourceIp).toBe("198.51.100.1");
    expect((await other.a.next("rules", (m) => m.rules.length === 1)).rules[0]?.sourceIp).toBe("198.51.100.2");
    // The expiry scheduler flips the session; the agent gets the empty set.
    await a.next("rules", (m) => m.rules.length === 0, 5000);
  });

  it("two holders behind one address make one door, and the agent that opened it is in sync", async () => {
    const { a, agentId } = await hello(await createAgentToken(t.app));
    await a.next("rules");
    const service = await bindService(agentId, 18083);
    const colleague = await createUser(t.app, { role: "admin" });
    for (const who of [admin, colleague]) {
      const res = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: who.headers, payload: { durationSeconds: 600, sourceIp: "198.51.100.40" } });
      expect(res.statusCode, res.body).toBe(201);
    }
    const pushed = await a.next("rules", (m) => m.rules.length === 2);
    // As the agent does: one forward for the address and port, reported as one rule applied.
    a.send({ type: "applied", version: pushed.version, applied: 1, added: 1, removed: 0 });
    await expect.poll(async () => {
      const res = await t.app.inject({ method: "GET", url: "/api/agents", headers: admin.headers });
      return ZAgent.array().parse(res.json()).find((x) => x.id === agentId);
    }).toMatchObject({ rulesDesired: 1, rulesApplied: 1, inSync: true });
    const status = await t.app.inject({ method: "GET", url: `/api/services/${service.id}`, headers: admin.headers });
    expect((status.json() as { gatewayStatus?: unknown }).gatewayStatus).toEqual({ online: true, inSync: true });
  });

  it("a door admits IPv4 only: an IPv6 source is refused at the start, naming the field, and never reaches the agent", async () => {
    const { a, agentId } = await hello(await createAgentToken(t.app));
    await a.next("rules");
    const bound = await bindService(agentId, 18083);
    const start = (payload: object, remoteAddress?: string) =>
      t.app.inject({ method: "POST", url: `/api/services/${bound.id}/sessions`, headers: admin.headers, payload, remoteAddress });
    const v6 = await start({ durationSeconds: 60, sourceIp: "2001:db8::1" });
    expect(v6.statusCode).toBe(400);
    expect(v6.json()).toMatchObject({ error: { code: "validation_failed", message: expect.stringContaining("body.sourceIp") } });
    const fromV6Client = await start({ durationSeconds: 60 }, "2001:db8::7");
    expect(fromV6Client.statusCode).toBe(400);
    expect(fromV6Client.json().error.message).toContain("2001:db8::7");
    expect(await t.app.ctx.db.accessSession.count({ where: { serviceId: bound.id } })).toBe(0);

    // The waitlist of a held door asks the same.
    const held = await bindService(agentId, 18085);
    expect((await t.app.inject({ method: "PATCH", url: `/api/services/${held.id}`, headers: admin.headers, payload: { exclusive: true } })).statusCode).toBe(200);
    const holder = await createUser(t.app, { role: "admin" });
    expect((await t.app.inject({ method: "POST", url: `/api/services/${held.id}/sessions`, headers: holder.headers, payload: { sourceIp: "198.51.100.20" } })).statusCode).toBe(201);
    const joined = await t.app.inject({ method: "POST", url: `/api/services/${held.id}/waitlist`, headers: admin.headers, payload: { sourceIp: "2001:db8::1" } });
    expect(joined.statusCode, joined.body).toBe(400);
    expect(joined.json().error.message).toContain("body.sourceIp");
    await a.next("rules", (m) => m.rules.length === 1);

    // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d: recorded as the IPv4 address.
    const mapped = await start({ durationSeconds: 60 }, "::ffff:198.51.100.9");
    expect(mapped.statusCode, mapped.body).toBe(201);
    expect(mapped.json()).toMatchObject({ sourceIp: "198.51.100.9" });
    expect((await a.next("rules", (m) => m.rules.length === 2)).rules.map((r) => r.sourceIp).sort()).toEqual(["198.51.100.20", "198.51.100.9"]);

    // A service without a gateway takes any address; binding it while an IPv6 session is open
    // there is refused, naming the session (it would be active with no door); ended, it binds.
    const plain = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: { name: "Later bound", slug: unique("later"), kind: "tcp", maxDurationSeconds: 3600 },
    });
    const later = plain.json() as { id: string };
    const before = await t.app.inject({ method: "POST", url: `/api/services/${later.id}/sessions`, headers: admin.headers, payload: { durationSeconds: 600, sourceIp: "2001:db8::2" } });
    expect(before.statusCode).toBe(201);
    const bind = () =>
      t.app.inject({
        method: "PATCH",
        url: `/api/services/${later.id}`,
        headers: admin.headers,
        payload: { gateway: { agentId, publicPort: 18084, lanHost: "10.9.0.2", lanPort: 80, protocol: "tcp" } },
      });
    const refused = await bind();
    expect(refused.statusCode, refused.body).toBe(409);
    expect(ZErrorBody.parse(refused.json()).error.message).toContain(`${(before.json() as { id: string }).id} (2001:db8::2)`);
    expect((await t.app.ctx.db.service.findUniqueOrThrow({ where: { id: later.id } })).gatewayAgentId).toBeNull();
    const ended = await t.app.inject({ method: "DELETE", url: `/api/sessions/${(before.json() as { id: string }).id}`, headers: admin.headers });
    expect(ended.statusCode).toBe(200);
    expect((await bind()).statusCode).toBe(200);
    expect((await findDesiredRules(t.app.ctx, agentId)).map((r) => r.sourceIp).sort()).toEqual(["198.51.100.20", "198.51.100.9"]);
  });

  it("reads an agent's desired rules in plain SQL: only holders who may still see the service", async () => {
    const db = t.app.ctx.db;
    const agent = await db.agent.create({ data: { name: unique("sql") } });
    const other = await db.agent.create({ data: { name: unique("sql-other") } });
    const group = await db.group.create({ data: { name: unique("g") } });
    const otherGroup = await db.group.create({ data: { name: unique("g") } });
    const bound = (agentId: string, port: number, groupIds: string[], lanPort: number | null = 22) =>
      db.service.create({
        data: {
          name: unique("svc"),
          slug: unique("slug"),
          maxDurationSeconds: 3600,
          gatewayAgentId: agentId,
          gatewayPublicPort: port,
          gatewayLanHost: "10.9.0.3",
          gatewayLanPort: lanPort,
          gatewayProtocol: "udp",
          groups: { create: groupIds.map((groupId) => ({ groupId })) },
        },
      });
    const svc = await bound(agent.id, 19001, [group.id]);
    const adminsOnly = await bound(agent.id, 19002, []);
    const incomplete = await bound(agent.id, 19003, [group.id], null);
    const elsewhere = await bound(other.id, 19004, [group.id]);
    const inGroup = await createUser(t.app, { groupIds: [group.id] });
    const outside = await createUser(t.app, { groupIds: [otherGroup.id] });
    const disabled = await createUser(t.app, { role: "admin" });
    await db.user.update({ where: { id: disabled.id }, data: { disabled: true } });
    const now = Date.now();
    const at = (seconds: number) => new Date(now + seconds * 1000);
    const session = (serviceId: string, userId: string, extra: { status?: string; sourceIp?: string | null; expiresAt?: Date } = {}) =>
      db.accessSession.create({
        data: { serviceId, userId, status: "active", durationSeconds: 600, sourceIp: "198.51.100.9", startedAt: at(0), expiresAt: at(600), ...extra },
      });
    const rule = (s: { id: string; serviceId: string; sourceIp: string | null; expiresAt: Date | null }, publicPort: number) => ({
      sessionId: s.id,
      serviceId: s.serviceId,
      protocol: "udp",
      sourceIp: s.sourceIp,
      publicPort,
      lanHost: "10.9.0.3",
      lanPort: 22,
      expiresAt: s.expiresAt?.toISOString(),
    });
    const member = await session(svc.id, inGroup.id, { expiresAt: at(300) });
    const byAdmin = await session(svc.id, admin.id, { sourceIp: "198.51.100.10" });
    await session(svc.id, admin.id, { sourceIp: "2001:db8::9" }); // no door admits IPv6
    const adminOnly = await session(adminsOnly.id, admin.id, { expiresAt: at(301) });
    await session(adminsOnly.id, inGroup.id); // a member, and the service has no groups
    await session(svc.id, outside.id); // not in the service's group
    await session(svc.id, disabled.id); // an admin, disabled
    await session(svc.id, inGroup.id, { sourceIp: null });
    await session(svc.id, inGroup.id, { expiresAt: at(-1) });
    await session(svc.id, inGroup.id, { status: "scheduled" });
    await session(incomplete.id, admin.id);
    const theirs = await session(elsewhere.id, inGroup.id);

    expect(await findDesiredRules(t.app.ctx, agent.id)).toEqual([rule(member, 19001), rule(adminOnly, 19002), rule(byAdmin, 19001)]);
    expect(await findDesiredRules(t.app.ctx, other.id)).toEqual([rule(theirs, 19004)]);

    const listed = (await findAgents(t.app.ctx)).filter((a) => a.id === agent.id || a.id === other.id);
    const viaPrisma = await db.agent.findMany({
      where: { id: { in: [agent.id, other.id] } },
      include: { services: { select: { id: true, name: true, slug: true }, orderBy: { name: "asc" } } },
      orderBy: { name: "asc" },
    });
    expect(listed).toEqual(viaPrisma);
    expect(listed.find((a) => a.id === agent.id)?.services).toHaveLength(3);
  });

  it("a session started on another API instance reaches the agent through the poll", async () => {
    const { a, agentId } = await hello(await createAgentToken(t.app));
    await a.next("rules");
    const service = await bindService(agentId, 18083);
    const other = await openSecondInstance(t);
    try {
      const otherAdmin = await createUser(other, { role: "admin" });
      const started = Date.now();
      const res = await other.inject({
        method: "POST",
        url: `/api/services/${service.id}/sessions`,
        headers: otherAdmin.headers,
        payload: { durationSeconds: 600, sourceIp: "198.51.100.9" },
      });
      expect(res.statusCode, res.body).toBe(201);
      const pushed = await a.next("rules", (m) => m.rules.length === 1, POLL_MS + 3000);
      expect(pushed.rules[0]?.sourceIp).toBe("198.51.100.9");
      expect(Date.now() - started).toBeLessThan(POLL_MS + 3000);
    } finally {
      await other.close();
    }
  });

  it("an instance that shuts down records its agents offline before its database closes", async () => {
    const other = await openSecondInstance(t);
    let closed = false;
    try {
      const a = await ScriptedAgent.connect(await listen(other), { authorization: `Bearer ${await createAgentToken(t.app)}` });
      agents.push(a);
      a.send({ type: "hello", name: unique("leaving"), driver: "dry-run" });
      const { agentId } = await a.next("welcome");
      await a.next("rules");
      await other.close();
      closed = true;
      // Written by the closing instance itself, not found out later by the clock.
      expect((await t.app.ctx.db.agent.findUniqueOrThrow({ where: { id: agentId } })).online).toBe(false);
      const last = await t.app.ctx.db.auditEvent.findFirst({ where: { target: `agent:${agentId}` }, orderBy: { seq: "desc" } });
      expect(last?.action).toBe("agent.disconnected");
    } finally {
      if (!closed) await other.close();
    }
  });

  it("ends an agent's socket when its token stops working: expired, or its owner disabled", async () => {
    const expiring = await createAgentToken(t.app, ["agent"], { expiresAt: new Date(Date.now() + 1500) });
    const { a } = await hello(expiring);
    expect((await a.next("error", () => true, 4000)).message).toBe("this agent token expired");
    expect((await a.closed).code).toBe(1008);

    const owner = await createUser(t.app, { role: "admin" });
    const owned = await createAgentToken(t.app, ["agent"], { userId: owner.id });
    const { a: b } = await hello(owned);
    const disabled = await t.app.inject({ method: "PATCH", url: `/api/users/${owner.id}`, headers: admin.headers, payload: { disabled: true } });
    expect(disabled.statusCode, disabled.body).toBe(200);
    // Disabling the owner revokes their tokens.
    expect((await b.next("error")).message).toBe("this agent token was revoked");
    expect((await b.closed).code).toBe(1008);
  });

  it("holds an agent token to a few sockets, the newest first, each to one write per ping and a short queue", async () => {
    const token = await createAgentToken(t.app);
    const { a } = await hello(token);
    await a.next("rules");
    // Pongs beyond one per ping write nothing.
    const sql = t.app.ctx.sql;
    const transaction = sql.transaction;
    let writes = 0;
    sql.transaction = ((...args: Parameters<typeof transaction>) => {
      writes += 1;
      return transaction.apply(sql, args);
    }) as typeof transaction;
    onTestFinished(() => void (sql.transaction = transaction));
    for (let i = 0; i < 20; i += 1) a.send({ type: "pong" });
    await new Promise((r) => setTimeout(r, 300));
    expect(writes).toBe(1);

    // A flood of reports, each a write, closes the socket instead of queueing without end.
    const report = { type: "applied", version: 1, applied: 0, added: 0, removed: 0, pad: "x".repeat(30_000) };
    for (let i = 0; i < 500; i += 1) a.send({ ...report, applied: i % 2 });
    expect((await a.next("error")).message).toContain("messages waiting");
    expect((await a.closed).code).toBe(1008);

    // A fifth socket on the token takes the place of the oldest.
    const more = [];
    for (let i = 0; i < 5; i += 1) more.push(await connect({ authorization: `Bearer ${token}` }));
    expect((await more[0]!.next("error")).message).toBe("replaced by a newer connection with this agent token");
    expect((await more[0]!.closed).code).toBe(1008);
    more[4]!.send({ type: "hello", name: unique("edge-5"), driver: "dry-run" });
    await more[4]!.next("welcome");
  });

  it("stays online when an older socket of the agent closes after it reconnected", async () => {
    const token = await createAgentToken(t.app);
    const name = unique("edge-re");
    const { a: old, agentId } = await hello(token, name);
    await old.next("rules");
    // Back on a new socket before the old one is noticed gone (a router that lost its uplink).
    const { a: fresh } = await hello(token, name);
    await fresh.next("rules");
    const events = watchEvents(t.app);
    old.close();
    await old.closed;
    fresh.send({ type: "applied", version: 1, applied: 0, added: 0, removed: 0 });
    await new Promise((r) => setTimeout(r, 300));
    const row = await t.app.ctx.db.agent.findUniqueOrThrow({ where: { id: agentId } });
    expect(row.online).toBe(true);
    expect(events.ofType("agent.disconnected").filter((e) => e.agent.id === agentId)).toEqual([]);
    // The old socket was on another instance, whose close marked the agent offline: its next
    // report over this socket says it is online again, and the board hears of it.
    await t.app.ctx.db.agent.update({ where: { id: agentId }, data: { online: false } });
    fresh.send({ type: "applied", version: 1, applied: 0, added: 0, removed: 0 });
    await vi.waitFor(() => expect(events.ofType("agent.rules_applied").some((e) => e.agent.id === agentId && e.agent.online)).toBe(true));
    expect((await t.app.ctx.db.agent.findUniqueOrThrow({ where: { id: agentId } })).online).toBe(true);
    // So does its next pong's heartbeat, before any report comes.
    await t.app.ctx.db.agent.update({ where: { id: agentId }, data: { online: false } });
    await touchAgent(t.app.ctx, agentId);
    await vi.waitFor(() => expect(events.ofType("agent.connected").some((e) => e.agent.id === agentId && e.agent.online)).toBe(true));
    expect((await t.app.ctx.db.agent.findUniqueOrThrow({ where: { id: agentId } })).online).toBe(true);
    events.stop();
  });

  it("refuses the hello of a token revoked after its socket was let in", async () => {
    const token = await createAgentToken(t.app);
    const a = await connect({ authorization: `Bearer ${token}` });
    // Behind the socket's back, as a revocation whose event came before the socket listened.
    await t.app.ctx.db.apiToken.updateMany({ where: { prefix: token.split("_")[1] }, data: { revokedAt: new Date() } });
    a.send({ type: "hello", name: unique("edge-r"), driver: "dry-run" });
    expect((await a.next("error")).message).toBe("this agent token has been revoked or has expired");
    expect((await a.closed).code).toBe(1008);
  });

  it("ends the socket of an agent that stops answering pings", async () => {
    // Only the API's ping timer runs fast; everything else keeps real time.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    onTestFinished(() => void vi.useRealTimers());
    const { a } = await hello(await createAgentToken(t.app));
    for (let ping = 0; ping < 3; ping += 1) {
      vi.advanceTimersByTime(AGENT_PING_MS);
      await a.next("ping");
    }
    vi.advanceTimersByTime(AGENT_PING_MS);
    expect((await a.closed).code).toBe(1006);
  });

  it("tells the agent the API's time with every rules message and ping", async () => {
    const { a } = await hello(await createAgentToken(t.app));
    const rules = await a.next("rules");
    expect(Math.abs(Date.parse(rules.now!) - Date.now())).toBeLessThan(2000);
  });

  it("a name stays with the token that claimed it", async () => {
    const name = unique("edge-x");
    await hello(await createAgentToken(t.app), name);
    const intruder = await connect({ authorization: `Bearer ${await createAgentToken(t.app)}` });
    intruder.send({ type: "hello", name, driver: "dry-run" });
    expect((await intruder.next("error")).message).toContain("belongs to another agent token");
  });

  it("GET /api/agents is for admins", async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/agents", headers: member.headers });
    expect(res.statusCode).toBe(403);
    expect(ZErrorBody.parse(res.json()).error.code).toBe("forbidden");
  });

  it("the services API validates the gateway binding", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: { name: "x", slug: unique("x-unknown-agent"), kind: "tcp", maxDurationSeconds: 60, gateway: { agentId: "nope", publicPort: 1, lanHost: "h", lanPort: 1, protocol: "tcp" } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain("body.gateway.agentId");

    // One public port and protocol on one gateway forwards to one place only.
    const { agentId } = await hello(await createAgentToken(t.app));
    const first = await bindService(agentId, 18090);
    const clash = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: { name: "y", slug: unique("y-clash"), kind: "tcp", maxDurationSeconds: 60, gateway: { agentId, publicPort: 18090, lanHost: "10.9.0.3", lanPort: 22, protocol: "tcp" } },
    });
    expect(clash.statusCode).toBe(409);
    expect(clash.body).toContain("Forward 18090");
    const udp = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: { name: "z", slug: unique("z-udp"), kind: "tcp", maxDurationSeconds: 60, gateway: { agentId, publicPort: 18090, lanHost: "10.9.0.3", lanPort: 53, protocol: "udp" } },
    });
    expect(udp.statusCode).toBe(201);
    // Re-saving a service with its own binding is no clash.
    const same = await t.app.inject({ method: "PATCH", url: `/api/services/${first.id}`, headers: admin.headers, payload: { gateway: first.gateway } });
    expect(same.statusCode).toBe(200);

    // A LAN host the agent could never forward to is refused, naming the field; nothing changes.
    for (const lanHost of ["10.0.0.5:443", "http://nas", "2001:db8::5", "10.0.0.256", "nas box", "-nas.lan"]) {
      const bad = await t.app.inject({
        method: "PATCH",
        url: `/api/services/${first.id}`,
        headers: admin.headers,
        payload: { gateway: { ...(first.gateway as object), lanHost } },
      });
      expect(bad.statusCode, lanHost).toBe(400);
      expect(ZErrorBody.parse(bad.json()).error.message).toContain("body.gateway.lanHost");
    }
    expect((await t.app.ctx.db.service.findUniqueOrThrow({ where: { id: first.id } })).gatewayLanHost).toBe("10.9.0.2");
    for (const lanHost of ["nas.lan", "octoprint", "NAS-2.example.com.", "nas_box"]) {
      const good = await t.app.inject({
        method: "PATCH",
        url: `/api/services/${first.id}`,
        headers: admin.headers,
        payload: { gateway: { ...(first.gateway as object), lanHost } },
      });
      expect(good.statusCode, good.body).toBe(200);
    }
  });
});
