// GET /metrics: Prometheus text with requests by route and status, and the gauges other modules
// and the database feed (live clients, active sessions, relay queue, agents).
import { afterEach, describe, expect, it } from "vitest";
import { buildTestApp, createService, createUser, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";

/** The value of one sample line, e.g. `postern_live_clients` or `postern_agents{status="online"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.each(providers)("metrics (%s)", (provider) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("serves Prometheus text with requests by route pattern and status, and the state gauges", async () => {
    t = await buildTestApp(provider);
    const { app } = t;
    const member = await createUser(app);
    const service = await createService(app);
    const admin = await createUser(app, { role: "admin" });
    const started = await app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: admin.headers,
      payload: { durationSeconds: 600 },
    });
    expect(started.statusCode).toBe(201);
    await app.inject({ method: "GET", url: "/healthz" });
    await app.inject({ method: "GET", url: "/healthz" });
    await app.inject({ method: "GET", url: "/api/tunnel", headers: member.headers });
    await app.inject({ method: "GET", url: "/no/such/page.txt" });
    await app.ctx.db.message.create({ data: { message: "disk full" } });
    await app.ctx.db.agent.createMany({ data: [{ name: "gw-1", online: true }, { name: "gw-2" }, { name: "gw-3" }] });
    // One real live client: the gauge is read from the hub at scrape time.
    const live = await app.injectWS("/api/live", { headers: { cookie: member.headers.cookie } });
    await new Promise((resolve) => live.once("message", resolve));

    const res = await app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    expect(sample(text, 'postern_http_requests_total{method="GET",route="/healthz",status="200"}')).toBe(2);
    expect(sample(text, 'postern_http_requests_total{method="GET",route="/api/tunnel",status="403"}')).toBe(1);
    expect(sample(text, 'postern_http_requests_total{method="POST",route="/api/services/:id/sessions",status="201"}')).toBe(1);
    // Unknown URLs share one label, so scanners cannot blow up the series count.
    expect(sample(text, 'postern_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(text).not.toContain("/no/such/page.txt");
    expect(sample(text, 'postern_http_request_duration_seconds_count{method="GET",route="/healthz"}')).toBe(2);
    expect(sample(text, "postern_active_sessions")).toBe(1);
    expect(sample(text, 'postern_relay_messages{status="queued"}')).toBe(1);
    expect(sample(text, 'postern_relay_messages{status="sent"}')).toBe(0);
    expect(sample(text, 'postern_agents{status="online"}')).toBe(1);
    expect(sample(text, 'postern_agents{status="offline"}')).toBe(2);
    expect(sample(text, "postern_live_clients")).toBe(1);
    live.terminate();
    expect(sample(text, "postern_agent_connections")).toBe(0);
    expect(text).toContain("# TYPE postern_process_cpu_user_seconds_total counter");
  });

  it("asks for POSTERN_METRICS_TOKEN as a bearer when it is set, and only then", async () => {
    t = await buildTestApp(provider, { env: { POSTERN_METRICS_TOKEN: "metrics-secret-0123456789" } });
    const { app } = t;
    const admin = await createUser(app, { role: "admin" });
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "Bearer metrics-secret-012345678X" }, admin.headers]) {
      const refused = await app.inject({ url: "/metrics", headers });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toMatchObject({ error: { code: "unauthorized" } });
      expect(refused.headers["www-authenticate"]).toContain("Bearer");
    }
    const ok = await app.inject({ url: "/metrics", headers: { authorization: "Bearer metrics-secret-0123456789" } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain("postern_live_clients");
    await t.close();
    t = await buildTestApp(provider);
    expect((await t.app.inject({ url: "/metrics" })).statusCode).toBe(200);
  });

  it("keeps each app's metrics apart (one registry per instance)", async () => {
    t = await buildTestApp(provider);
    const other = await buildTestApp(provider);
    try {
      await t.app.inject({ method: "GET", url: "/healthz" });
      const text = (await other.app.inject({ method: "GET", url: "/metrics" })).body;
      expect(sample(text, 'postern_http_requests_total{method="GET",route="/healthz",status="200"}')).toBeUndefined();
    } finally {
      await other.close();
    }
  });
});
