// Postern's Prometheus metrics, one registry per app instance (tests build many apps in one
// process, and prom-client refuses a metric name twice in one registry). Other modules reach
// them through `app.metrics`: the live stream sets `liveClients`, anything else may register
// its own metric on `app.metrics.registry`.
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { HttpTally } from "./http-tally";
import { queriesSent } from "@postern/db";
import type { DbContext } from "../../lib/db-context";

export interface PosternMetrics {
  /** This app's metrics; register more here. */
  registry: Registry;
  /** Everything to scrape: the process's metrics (CPU, memory, event loop) and this app's. */
  render(): Promise<string>;
  /** Answered requests and their durations (postern_http_requests_total, postern_http_request_duration_seconds). */
  http: HttpTally;
  /** Open `/api/live` websockets in this instance; read from `countLiveClients` at scrape time when set. */
  liveClients: Gauge;
  /** Set by the live module so the gauge is read from the hub itself and can never drift. */
  countLiveClients?: () => number;
  /** Agent websockets connected to this instance (the agent module sets it). */
  agentConnections: Gauge;
}

/** How long a scrape waits for the database before reporting the gauges it could not read as absent. */
const COLLECT_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("database timeout")), COLLECT_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A scrape must not fail because the database is down (that is /readyz's news): the gauges
 * that need it are left without samples instead of showing stale numbers. */
async function orReset(gauge: Gauge<string>, read: () => Promise<void>): Promise<void> {
  try {
    await read();
  } catch {
    gauge.reset();
  }
}

let processRegistry: Registry | undefined;

/** Process metrics are collected once per process: each collector starts its own event-loop
 * monitor, and tests build hundreds of apps in one process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: "postern_" });
  }
  return processRegistry;
}

export function createMetrics(ctx: DbContext): PosternMetrics {
  const registry = new Registry();

  const http = new HttpTally([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  http.register(registry, { requests: "postern_http_requests_total", duration: "postern_http_request_duration_seconds" });
  const liveClients = new Gauge({
    name: "postern_live_clients",
    help: "Browsers connected to the live stream of this instance",
    registers: [registry],
    collect() {
      if (metrics.countLiveClients) this.set(metrics.countLiveClients());
    },
  });
  const agentConnections = new Gauge({
    name: "postern_agent_connections",
    help: "Gateway agents connected to this instance",
    registers: [registry],
  });

  new Counter({
    name: "postern_db_queries_total",
    help: "Statements this process has sent to its database (what a request costs: see bench/api)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(queriesSent());
    },
  });

  // Read from the database at scrape time, so every instance reports the same shared truth.
  new Gauge({
    name: "postern_active_sessions",
    help: "Access sessions currently active",
    registers: [registry],
    async collect() {
      await orReset(this, async () => this.set(await withTimeout(ctx.db.accessSession.count({ where: { status: "active" } }))));
    },
  });
  new Gauge({
    name: "postern_relay_messages",
    help: "Relay messages by delivery status",
    labelNames: ["status"] as const,
    registers: [registry],
    async collect() {
      await orReset(this, async () => {
        const rows = await withTimeout(ctx.db.message.groupBy({ by: ["status"], _count: { _all: true } }));
        for (const status of ["queued", "sent", "failed"]) {
          this.set({ status }, rows.find((r) => r.status === status)?._count._all ?? 0);
        }
      });
    },
  });
  new Gauge({
    name: "postern_agents",
    help: "Registered gateway agents by status (online: connected to some instance)",
    labelNames: ["status"] as const,
    registers: [registry],
    async collect() {
      await orReset(this, async () => {
        const [online, total] = await withTimeout(
          Promise.all([ctx.db.agent.count({ where: { online: true } }), ctx.db.agent.count()]),
        );
        this.set({ status: "online" }, online);
        this.set({ status: "offline" }, total - online);
      });
    },
  });

  const render = async () => `${await processMetrics().metrics()}\n${await registry.metrics()}`;
  const metrics: PosternMetrics = { registry, render, http, liveClients, agentConnections };
  return metrics;
}
