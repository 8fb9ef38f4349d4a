// The database's state as this process sees it, logged once per change ("database unavailable:
// …", "database back") instead of a stack trace for every request and background pass that
// fails during an outage. Whoever meets a database fault reports it here; recovery is noticed by
// a probe (a plain query for an outage) or by the next write that succeeds (a full disk, which a
// read cannot tell).
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { databaseFault, faultReason, type DatabaseFault } from "../lib/database-fault";

const PROBE_MS = 500;
const FULL_SETTLE_MS = 2_000;

export class DatabaseHealth {
  state: DatabaseFault | "up" = "up";
  private lastFaultAt = 0;
  private probe: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly log: FastifyBaseLogger,
    private readonly ping: () => Promise<unknown>,
  ) {}

  /** The fault `err` shows, if any, noted (and logged when the state changes). */
  noticed(err: unknown): DatabaseFault | undefined {
    const fault = databaseFault(err);
    if (fault) this.lastFaultAt = Date.now();
    if (!fault || this.state === fault) return fault;
    this.state = fault;
    this.log.error(`database unavailable: ${faultReason(err)}${fault === "storage_full" ? " (disk full)" : ""}`);
    if (fault === "unavailable") this.startProbe();
    return fault;
  }

  /** For background work: a database fault is noted once, anything else logged as `msg`. */
  report(msg: string, err: unknown): void {
    if (!this.noticed(err)) this.log.error({ err }, msg);
  }

  /** A write went through. On a full disk some still do (those that fit in pages the file
   * already has), so room is back only once writes have stopped failing for a while. */
  wrote(): void {
    if (this.state === "storage_full" && Date.now() - this.lastFaultAt > FULL_SETTLE_MS) this.back();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.probe);
  }

  private back(): void {
    this.state = "up";
    clearTimeout(this.probe);
    this.log.info("database back");
  }

  private startProbe(): void {
    clearTimeout(this.probe);
    if (this.stopped) return;
    this.probe = setTimeout(() => {
      this.ping().then(
        () => (this.state === "unavailable" ? this.back() : undefined),
        (err: unknown) => {
          if (databaseFault(err) === "unavailable" && this.state === "unavailable") this.startProbe();
          else if (this.state === "unavailable") this.back();
        },
      );
    }, PROBE_MS);
    this.probe.unref();
  }
}

declare module "fastify" {
  interface FastifyInstance {
    dbHealth: DatabaseHealth;
  }
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

export default fp(
  async (app: FastifyInstance) => {
    const health = new DatabaseHealth(app.log, () => app.ctx.db.$queryRawUnsafe("SELECT 1"));
    app.decorate("dbHealth", health);
    app.addHook("onResponse", (request, reply, done) => {
      if (health.state === "storage_full" && !READS.has(request.method) && reply.statusCode < 300) health.wrote();
      done();
    });
    app.addHook("onClose", async () => health.stop());
  },
  { name: "database-health", dependencies: ["database"] },
);
