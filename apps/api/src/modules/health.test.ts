// /healthz and /readyz. The readiness probe is checked against a PostgreSQL that goes away and
// comes back: a TCP proxy between the API and 127.0.0.1:5432 is cut and restored (the machine's
// PostgreSQL itself keeps running for the other tests).
import net from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { openDatabase } from "@postern/db";
import serviceApp from "../app";
import { loadConfig } from "../config";
import { BODY_LIMIT } from "../server";
import { createTestDatabase } from "../../test/databases";
import databasePlugin from "../plugins/database";
import databaseHealth from "../plugins/database-health";
import healthRoutes, { READY_QUERY_TIMEOUT_MS } from "./health.routes";

/** A TCP proxy to PostgreSQL that can be cut (open connections dropped, new ones refused) and restored. */
async function startCuttableProxy(target: { host: string; port: number }) {
  let cut = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const upstream = net.connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function poll(app: FastifyInstance, status: number, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const started = Date.now();
    const res = await app.inject({ method: "GET", url: "/readyz" });
    if (res.statusCode === status) return Date.now() - started;
    if (Date.now() > deadline) throw new Error(`/readyz stayed ${res.statusCode}, expected ${status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("probes against a PostgreSQL that goes away and comes back", () => {
  let database: { url: string; drop: () => Promise<void> };
  let proxy: Awaited<ReturnType<typeof startCuttableProxy>>;
  let app: FastifyInstance;

  beforeAll(async () => {
    database = await createTestDatabase("postgres");
    const direct = new URL(database.url);
    proxy = await startCuttableProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaProxy = new URL(database.url);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    const config = loadConfig(
      { DATABASE_URL: viaProxy.toString(), POSTERN_SECRET: "x".repeat(40), POSTERN_LOG_LEVEL: "silent", POSTERN_WEB_DIR: "/nonexistent" },
      "/dev/null",
    );
    const opened = await openDatabase(config.databaseUrl, { poolSize: 4 });
    app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
    await app.register(fp(serviceApp), { config, database: opened, secret: config.secret ?? "" });
    app.addHook("onClose", async () => opened.close());
    await app.ready();
  });

  afterAll(async () => {
    proxy.restore();
    await app?.close();
    await proxy?.close();
    await database?.drop();
  });

  it("answers 503 while the database is unreachable and 200 again once it is back, without a restart", async () => {
    expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toEqual({ status: "ready" });

    proxy.cut();
    await poll(app, 503, 10_000);
    const down = await app.inject({ method: "GET", url: "/readyz" });
    expect(down.statusCode).toBe(503);
    expect(ZErrorBody.parse(down.json()).error).toEqual({ code: "service_unavailable", message: "the database is not reachable" });
    // The process itself is fine, and says so.
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    // /metrics still answers, without the gauges it cannot read.
    const metrics = await app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain("postern_http_requests_total");

    proxy.restore();
    await poll(app, 200, 15_000);
    expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toEqual({ status: "ready" });
  });

  it("gives up on a database that accepts connections but never answers, within the probe timeout", async () => {
    // A black hole: PostgreSQL's port answers TCP but nothing ever comes back.
    const held = new Set<net.Socket>();
    const hole = net.createServer((s) => void held.add(s));
    await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
    const config = loadConfig(
      { DATABASE_URL: `postgresql://postgres@127.0.0.1:${(hole.address() as net.AddressInfo).port}/none`, POSTERN_SECRET: "x".repeat(40) },
      "/dev/null",
    );
    const opened = await openDatabase(config.databaseUrl, { poolSize: 1 });
    // Only the probes: the rest of the app would (rightly) wait for the database at start.
    const probes = Fastify({ logger: false });
    await probes.register(databasePlugin, { config, database: opened });
    await probes.register(databaseHealth);
    await probes.register(healthRoutes);
    try {
      const started = Date.now();
      const res = await probes.inject({ method: "GET", url: "/readyz" });
      expect(res.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(READY_QUERY_TIMEOUT_MS + 1_500);
    } finally {
      for (const s of held) s.destroy();
      hole.close();
      await probes.close();
      await opened.close().catch(() => undefined);
    }
  });
});
