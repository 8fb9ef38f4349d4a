// End to end in real network namespaces with real nftables / iptables: the API on the host, the
// real agent process in a gateway namespace, clients and a LAN HTTP server in their own. A
// client reaches the LAN server through the gateway's public port only while a session for its
// address is active. Needs root and nft; skipped with the reason otherwise.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import { Lab, type AgentProcess, labUnavailable, LAN_PORT, until, type Probe } from "./gateway.lab";
import { createAgentToken, listen } from "./gateway.testkit";

const PUBLIC_PORT = 18_080;

/** Defines the suite for one driver; each driver has its own test file to keep files short. */
export function defineAgentEndToEnd(driver: "nftables" | "iptables"): void {
  const unavailable = labUnavailable(driver === "nftables" ? "nft" : "iptables");
  if (unavailable) console.warn(`gateway netns end-to-end test (${driver}) skipped: ${unavailable}`);
  describe.skipIf(unavailable !== null)(`agent end to end in network namespaces (${driver})`, () => {
    defineCases(driver);
  });
}

function defineCases(driver: "nftables" | "iptables"): void {
  let lab: Lab;
  let t: TestApp;
  let admin: TestUser;
  let apiUrl: string;
  let token: string;
  let agent: AgentProcess;
  let agentId: string;
  let serviceId: string;
  let client1: Probe;
  let client2: Probe;
  const name = `gw-${driver}-${Math.random().toString(36).slice(2, 6)}`;

  const reach1 = async () => (await client1.get(lab.ip.gwForClient1, PUBLIC_PORT)) === "ok";
  const reach2 = async () => (await client2.get(lab.ip.gwForClient2, PUBLIC_PORT)) === "ok";
  const startSession = async (sourceIp: string, durationSeconds: number) => {
    const res = await t.app.inject({
      method: "POST",
      url: `/api/services/${serviceId}/sessions`,
      headers: admin.headers,
      payload: { durationSeconds, sourceIp },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; expiresAt: string };
  };
  const endSession = async (id: string) => {
    const res = await t.app.inject({ method: "DELETE", url: `/api/sessions/${id}`, headers: admin.headers });
    expect(res.statusCode, res.body).toBe(200);
  };
  const startAgent = () => lab.startAgent({ url: apiUrl, token, driver, name });
  const agentOnline = async () => (await t.app.ctx.db.agent.findUnique({ where: { name } }))?.online === true;

  beforeAll(async () => {
    lab = new Lab();
    try {
      await lab.create();
      t = await buildTestApp("sqlite", { env: { POSTERN_MIN_SESSION_SECONDS: "1" } });
      apiUrl = await listen(t.app, lab.ip.api);
      admin = await createUser(t.app, { role: "admin" });
      token = await createAgentToken(t.app);
      agent = startAgent();
      await until(agentOnline, 60_000, 50).catch((err) => {
        throw new Error(`${err}; agent output:\n${agent.output}`);
      });
      agentId = (await t.app.ctx.db.agent.findUniqueOrThrow({ where: { name } })).id;
      const svc = await t.app.inject({
        method: "POST",
        url: "/api/services",
        headers: admin.headers,
        payload: {
          name: "LAN web",
          slug: `lan-web-${lab.id}`,
          kind: "tcp",
          maxDurationSeconds: 3600,
          gateway: { agentId, publicPort: PUBLIC_PORT, lanHost: lab.ip.lan, lanPort: LAN_PORT, protocol: "tcp" },
        },
      });
      expect(svc.statusCode, svc.body).toBe(201);
      serviceId = (svc.json() as { id: string }).id;
      client1 = await lab.probe(lab.ns.client1);
      client2 = await lab.probe(lab.ns.client2);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await t?.close().catch(() => undefined);
    await lab.destroy();
  }, 30_000);

  it("without a session no client reaches the LAN service", async () => {
    expect(await reach1()).toBe(false);
    expect(await reach2()).toBe(false);
  });

  it("a session for client 1's address opens the door for client 1 only; ending it closes it within 1 s", async () => {
    const session = await startSession(lab.ip.client1, 600);
    await until(reach1, 2000);
    expect(await reach2()).toBe(false);
    await endSession(session.id);
    const closedIn = await until(async () => !(await reach1()), 1000);
    expect(closedIn).toBeLessThan(1000);
  });

  it("an expired session closes within 1 s of its expiry", async () => {
    const session = await startSession(lab.ip.client2, 2);
    await until(reach2, 2000);
    expect(await reach1()).toBe(false);
    const expiresAt = Date.parse(session.expiresAt);
    await until(async () => !(await reach2()), expiresAt - Date.now() + 1000);
    expect(Date.now() - expiresAt).toBeLessThan(1000);
  });

  it("with the API stopped the rule is still removed at expiry (fail closed)", async () => {
    const session = await startSession(lab.ip.client1, 3);
    await until(reach1, 2000);
    await t.app.close();
    expect(await reach1()).toBe(true);
    const expiresAt = Date.parse(session.expiresAt);
    await until(async () => !(await reach1()), expiresAt - Date.now() + 1000);
    expect(Date.now() - expiresAt).toBeLessThan(1000);
    // Back up on the same address: the agent reconnects by itself.
    await t.restart();
    await t.app.listen({ host: lab.ip.api, port: Number(new URL(apiUrl).port) });
    await until(agentOnline, 60_000, 100);
  }, 90_000);

  it("a restarted agent removes stale rules it finds and keeps the desired ones; nothing else is touched", async () => {
    const kept = await startSession(lab.ip.client1, 600);
    await until(reach1, 2000);
    await agent.stop();
    // Plant a stale forward for client 2 in Postern's own table or chain, and a foreign rule
    // elsewhere that the agent must leave alone.
    if (driver === "nftables") {
      await lab.run(lab.ns.gateway, "nft", ["-f", "-"], `add element ip postern tcp_fwd { ${lab.ip.client2} . ${PUBLIC_PORT} timeout 1h : ${lab.ip.lan} . ${LAN_PORT} }\n`);
      await lab.run(lab.ns.gateway, "nft", ["-f", "-"], "add table ip other\nadd chain ip other c { type filter hook input priority 0; }\nadd rule ip other c tcp dport 9 accept\n");
    } else {
      await lab.run(lab.ns.gateway, "iptables", ["-t", "nat", "-A", "POSTERN-DNAT", "-s", `${lab.ip.client2}/32`, "-p", "tcp", "--dport", String(PUBLIC_PORT), "-j", "DNAT", "--to-destination", `${lab.ip.lan}:${LAN_PORT}`]);
      await lab.run(lab.ns.gateway, "iptables", ["-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "ACCEPT"]);
    }
    expect(await reach2()).toBe(true);
    agent = startAgent();
    const gone = await until(async () => !(await reach2()), 60_000, 50);
    expect(gone).toBeLessThan(60_000);
    expect(await reach1()).toBe(true);
    const foreign =
      driver === "nftables"
        ? await lab.run(lab.ns.gateway, "nft", ["list", "table", "ip", "other"])
        : await lab.run(lab.ns.gateway, "iptables", ["-S", "INPUT"]);
    expect(foreign).toContain("dport 9");
    await endSession(kept.id);
    await until(async () => !(await reach1()), 1000);
    await until(async () => (await t.app.ctx.db.agent.findUniqueOrThrow({ where: { id: agentId } })).rulesApplied === 0, 3000);
  }, 90_000);

  it("a door admits traffic addressed to the gateway only: the holder's traffic to other hosts passes as it is", async () => {
    const session = await startSession(lab.ip.client1, 600);
    await until(reach1, 2000);
    // The LAN host is reachable directly, but nothing listens on the public port there: only a
    // connection wrongly redirected to the LAN service would be answered.
    expect(await client1.get(lab.ip.lan, LAN_PORT)).toBe("ok");
    expect(await client1.get(lab.ip.lan, PUBLIC_PORT)).toBe("fail");
    await endSession(session.id);
    await until(async () => !(await reach1()), 1000);
  });

  it("established flows through a door end at its expiry even while the agent is down", async () => {
    const session = await startSession(lab.ip.client1, 3);
    await until(reach1, 2000);
    const stream = lab.stream(lab.ns.client1, lab.ip.gwForClient1, PUBLIC_PORT);
    expect(await stream.send()).toBe("ok");
    await agent.stop();
    const expiresAt = Date.parse(session.expiresAt);
    expect(await stream.send()).toBe("ok");
    // No agent is left to cut the flow: the kernel's own expiry of the door must end it. The
    // connection itself lives on in conntrack; only its packets are refused.
    await until(async () => (await stream.send(300)) === "fail", expiresAt - Date.now() + 1500, 100);
    expect(Date.now() - expiresAt).toBeLessThan(1500);
    expect(await reach1()).toBe(false);
    const doorFlows = async () =>
      (await lab.run(lab.ns.gateway, "conntrack", ["-L", "-p", "tcp", "--orig-src", lab.ip.client1, "--orig-port-dst", String(PUBLIC_PORT)]))
        .split("\n")
        .filter((line) => line.includes("ESTABLISHED")).length;
    expect(await doorFlows()).toBe(1);
    agent = startAgent();
    await until(agentOnline, 60_000, 100).catch((err) => {
      throw new Error(`${err}; agent output:\n${agent.output}`);
    });
    // Back, the agent deletes the closed door's connection from conntrack too (its record of the
    // doors it held), by its DNAT.
    await until(async () => (await doorFlows()) === 0, 10_000, 100);
  }, 90_000);

  describe("access follows permission: losing sight of the service closes the door within 1 s", () => {
    type Loss = "member removed" | "service groups changed" | "group deleted" | "demoted" | "disabled";
    const losses: Loss[] = ["member removed", "service groups changed", "group deleted", "demoted", "disabled"];
    const api = async (method: "POST" | "PATCH" | "DELETE", url: string, payload?: object, who: TestUser = admin) => {
      const res = await t.app.inject({ method, url, headers: who.headers, payload });
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
      return res;
    };
    /** A group granting the gateway service, and a member of it (an admin only outside it, for demotion). */
    const grant = async (loss: Loss) => {
      const group = (await api("POST", "/api/groups", { name: `door-${Math.random().toString(36).slice(2, 8)}` })).json() as { id: string };
      await api("PATCH", `/api/services/${serviceId}`, { groupIds: [group.id] });
      const holder = await createUser(t.app, loss === "demoted" ? { role: "admin" } : { groupIds: [group.id] });
      return { group, holder };
    };
    const lose = async (loss: Loss, group: { id: string }, holder: TestUser) => {
      if (loss === "member removed") await api("DELETE", `/api/groups/${group.id}/members/${holder.id}`);
      if (loss === "service groups changed") await api("PATCH", `/api/services/${serviceId}`, { groupIds: [] });
      if (loss === "group deleted") await api("DELETE", `/api/groups/${group.id}`);
      if (loss === "demoted") await api("PATCH", `/api/users/${holder.id}`, { role: "member" });
      if (loss === "disabled") await api("PATCH", `/api/users/${holder.id}`, { disabled: true });
    };

    for (const loss of losses) {
      it(`${loss}: an open door closes within 1 s`, async () => {
        const { group, holder } = await grant(loss);
        const started = await api("POST", `/api/services/${serviceId}/sessions`, { durationSeconds: 600, sourceIp: lab.ip.client1 }, holder);
        const session = started.json() as { id: string };
        await until(reach1, 2000);
        const lostAt = Date.now();
        await lose(loss, group, holder);
        await until(async () => !(await reach1()), 1000);
        expect(Date.now() - lostAt).toBeLessThan(1000);
        const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } });
        expect(row.status).toBe("ended");
        await api("PATCH", `/api/services/${serviceId}`, { groupIds: [] });
      });
    }

    it("a window booked before the member was removed never opens the door", async () => {
      const { group, holder } = await grant("member removed");
      const startsAt = new Date(Date.now() + 2000).toISOString();
      const booked = await api("POST", `/api/services/${serviceId}/sessions`, { durationSeconds: 60, sourceIp: lab.ip.client1, startsAt }, holder);
      await lose("member removed", group, holder);
      await new Promise((r) => setTimeout(r, Date.parse(startsAt) - Date.now() + 1500));
      expect(await reach1()).toBe(false);
      const row = await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: (booked.json() as { id: string }).id } });
      expect(row.status).toBe("ended");
      expect(row.startedAt).toBeNull();
      await api("PATCH", `/api/services/${serviceId}`, { groupIds: [] });
    });
  });

  it("reports what it applied: GET /api/agents shows the agent online and in sync", async () => {
    const session = await startSession(lab.ip.client2, 600);
    await until(reach2, 2000);
    await until(async () => {
      const res = await t.app.inject({ method: "GET", url: "/api/agents", headers: admin.headers });
      const mine = (res.json() as { id: string; online: boolean; inSync: boolean; rulesApplied: number }[]).find((a) => a.id === agentId);
      return !!mine && mine.online && mine.inSync && mine.rulesApplied === 1;
    }, 3000);
    await endSession(session.id);
    await until(async () => !(await reach2()), 1000);
  });
}
