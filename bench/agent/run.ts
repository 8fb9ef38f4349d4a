// Benchmark of the gateway agent in real network namespaces with real nftables:
//  - open:  POST /api/services/:id/sessions answered → the DNAT element is in the gateway's map
//  - end:   DELETE /api/sessions/:id answered → the element is gone
//  - close: the session's expiresAt → the element is gone (no API involvement needed)
//  - reconcile: 0 → 1,000 rules and 1,000 → 0 after one change, and an agent start that finds
//    1,000 stale rules.
// 100 sessions run in 10 concurrent lanes (one user and source address each). One poller lists
// the gateway's map in a loop; a rule counts as live when a listing that *finished* after the
// event shows it, so the figures are upper bounds (listing costs ~5-20 ms itself).
// Run as root: `pnpm bench:agent` (BENCH_PROVIDER=postgres for PostgreSQL; default SQLite).
import type { Provider } from "@postern/db";
import setupDatabases from "../../apps/api/test/global-setup";
import { buildTestApp, createUser, type TestUser } from "../../apps/api/test/app";
import { Lab, labUnavailable, LAN_PORT, until } from "../../apps/api/src/modules/gateway/gateway.lab";
import { findDesiredRules } from "../../apps/api/src/modules/gateway/gateway.service";
import { createAgentToken, listen } from "../../apps/api/src/modules/gateway/gateway.testkit";

const BENCH_DEBUG = !!process.env.BENCH_DEBUG;
const LANES = Number(process.env.BENCH_LANES ?? 10);
const PER_LANE = Number(process.env.BENCH_PER_LANE ?? 10);
const BULK = 1000;
const PUBLIC_PORT = 18_080;
/** Long enough that a rule is never opened and expired between two listings on a busy host. */
const SESSION_SECONDS = 3;
const POLL_GAP_MS = Number(process.env.BENCH_POLL_GAP_MS ?? 50);

const unavailable = labUnavailable("nft");
if (unavailable) {
  console.error(`bench:agent needs a Linux host with root, iproute2 and nftables: ${unavailable}`);
  process.exit(1);
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const fmt = (xs: number[]) =>
  `n=${xs.length}  p50 ${percentile(xs, 50).toFixed(0)} ms  p99 ${percentile(xs, 99).toFixed(0)} ms  max ${Math.max(...xs).toFixed(0)} ms`;

/** Lists the gateway's tcp map in a loop (one shell inside the namespace, so no per-listing
 * namespace entry) and remembers which source addresses it holds. */
class Poller {
  present = new Set<string>();
  listings = 0;
  private waiters: (() => void)[] = [];
  private child: ReturnType<Lab["spawnIn"]> | undefined;
  constructor(private readonly lab: Lab) {}
  start(): void {
    const script = `while :; do nft -j list map ip postern tcp_fwd 2>/dev/null; echo; echo @@; sleep ${POLL_GAP_MS / 1000}; done`;
    this.child = this.lab.spawnIn(this.lab.ns.gateway, "sh", ["-c", script]);
    let buffer = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffer += chunk;
      let at: number;
      while ((at = buffer.indexOf("@@\n")) >= 0) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 3);
        const next = new Set<string>();
        for (const m of block.matchAll(/"concat": \["([\d.]+)", (\d+)\]\}, "timeout"/g)) next.add(m[1]!);
        this.present = next;
        this.listings += 1;
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }
  stop() {
    this.child?.kill("SIGKILL");
  }
  /** Resolves with the time of the first listing, finished after now, for which `cond` holds. */
  async when(cond: (present: Set<string>) => boolean, timeoutMs = 30_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await new Promise<void>((r) => this.waiters.push(r));
      if (cond(this.present)) return performance.now();
      if (performance.now() > deadline) throw new Error("timed out waiting for the gateway's map");
    }
  }
}

async function main() {
  const provider = (process.env.BENCH_PROVIDER ?? "sqlite") as Provider;
  const teardownDatabases = await setupDatabases();
  const lab = new Lab();
  let stopAll = async () => undefined as void;
  let agentOutput = () => "";
  try {
    await lab.create();
    const t = await buildTestApp(provider, { env: { POSTERN_MIN_SESSION_SECONDS: "1" } });
    const apiUrl = await listen(t.app, lab.ip.api);
    const admin = await createUser(t.app, { role: "admin" });
    const token = await createAgentToken(t.app);
    const name = `bench-${lab.id}`;
    let agent = lab.startAgent({ url: apiUrl, token, driver: "nftables", name });
    agentOutput = () => agent.output;
    const poller = new Poller(lab);
    poller.start();
    stopAll = async () => {
      poller.stop();
      await agent.stop();
      await t.close();
    };
    await until(async () => (await t.app.ctx.db.agent.findUnique({ where: { name } }))?.online === true, 60_000, 50);
    const agentId = (await t.app.ctx.db.agent.findUniqueOrThrow({ where: { name } })).id;
    const svc = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: {
        name: "bench",
        slug: `bench-${lab.id}`,
        kind: "tcp",
        maxDurationSeconds: 3600,
        gateway: { agentId, publicPort: PUBLIC_PORT, lanHost: lab.ip.lan, lanPort: LAN_PORT, protocol: "tcp" },
      },
    });
    const serviceId = (svc.json() as { id: string }).id;
    console.log(`postern agent benchmark — ${provider}, nftables driver, ${LANES} lanes × ${PER_LANE} sessions, node ${process.version}`);

    // Source addresses of the lanes: match keys only, no traffic is sent from or to them.
    const laneIp = (lane: number) => lab.ip.client1.replace(/\.\d+$/, `.${100 + lane}`);
    const phase = (what: string) => BENCH_DEBUG && console.error(`[${new Date().toISOString()}] ${what}`);
    phase("creating lane users");
    const users: TestUser[] = [];
    for (let i = 0; i < LANES; i += 1) users.push(await createUser(t.app, { role: "admin" }));
    phase("sessions");
    const open: number[] = [];
    const close: number[] = [];
    const ended: number[] = [];
    let missed = 0;
    await Promise.all(
      users.map(async (user, lane) => {
        const ip = laneIp(lane);
        for (let i = 0; i < PER_LANE; i += 1) {
          const sent = performance.now();
          const res = await t.app.inject({
            method: "POST",
            url: `/api/services/${serviceId}/sessions`,
            headers: user.headers,
            payload: { durationSeconds: i % 2 === 1 ? 60 : SESSION_SECONDS, sourceIp: ip },
          });
          if (res.statusCode !== 201) throw new Error(`start failed: ${res.body}`);
          const session = res.json() as { id: string; expiresAt: string };
          const seen = await poller.when((p) => p.has(ip), SESSION_SECONDS * 1000 + 2000).catch(() => null);
          if (seen === null) {
            // Opened and expired between two listings, or never opened: counted, not hidden.
            missed += 1;
            await poller.when((p) => !p.has(ip));
            continue;
          }
          open.push(seen - sent);
          if (i % 2 === 1) {
            const del = await t.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: user.headers });
            const endAnswered = performance.now();
            if (del.statusCode !== 200) throw new Error(`end failed: ${del.body}`);
            ended.push((await poller.when((p) => !p.has(ip))) - endAnswered);
          } else {
            const expiresAtPerf = performance.now() + (Date.parse(session.expiresAt) - Date.now());
            const goneAt = await poller.when((p) => !p.has(ip));
            close.push(Math.max(0, goneAt - expiresAtPerf));
          }
        }
      }),
    );
    console.log(`open   (POST sent → rule live)    :      ${fmt(open)}   target p99 < 500 ms`);
    console.log(`close  (expiresAt → rule gone):          ${fmt(close)}   target p99 < 1000 ms`);
    console.log(`end    (DELETE answered → rule gone):    ${fmt(ended)}`);
    if (missed) console.log(`missed: ${missed} session(s) whose rule no listing ever showed`);

    // Reconcile 1,000 rules: sessions written straight to the database, then one change (an edit of
    // the service, whose event makes the gateway hub recompute the desired rules).
    let edits = 0;
    const nudge = async () => {
      const res = await t.app.inject({ method: "PATCH", url: `/api/services/${serviceId}`, headers: admin.headers, payload: { description: `bench ${++edits}` } });
      if (res.statusCode !== 200) throw new Error(`editing the service: ${res.statusCode} ${res.body}`);
    };
    const user = users[0]!;
    const bulkIp = (i: number) => `100.64.${i >> 8}.${i & 255}`;
    const now = Date.now();
    await t.app.ctx.db.accessSession.createMany({
      data: Array.from({ length: BULK }, (_, i) => ({
        serviceId,
        userId: user.id,
        status: "active",
        sourceIp: bulkIp(i),
        durationSeconds: 3600,
        requestedAt: new Date(now),
        startedAt: new Date(now),
        expiresAt: new Date(now + 3600_000),
      })),
    });
    let t0 = performance.now();
    await nudge();
    const addMs = (await poller.when((p) => p.size >= BULK)) - t0;
    await t.app.ctx.db.accessSession.updateMany({ where: { serviceId, status: "active" }, data: { status: "ended", endedAt: new Date() } });
    t0 = performance.now();
    await nudge();
    const removeMs = (await poller.when((p) => p.size === 0)) - t0;
    console.log(`reconcile 0 → ${BULK} rules after one change:   ${addMs.toFixed(0)} ms`);
    console.log(`reconcile ${BULK} → 0 rules after one change:   ${removeMs.toFixed(0)} ms`);

    // An agent that starts and finds 1,000 stale rules in its table.
    const revived = await t.app.ctx.db.accessSession.updateMany({
      where: { serviceId, status: "ended", sourceIp: { startsWith: "100.64." } },
      data: { status: "active", endedAt: null },
    });
    phase(`revived ${revived.count} sessions; desired now ${(await findDesiredRules(t.app.ctx, agentId)).length}`);
    await nudge();
    await poller.when((p) => p.size >= BULK);
    await agent.stop();
    await t.app.ctx.db.accessSession.updateMany({ where: { serviceId, status: "active" }, data: { status: "ended", endedAt: new Date() } });
    t0 = performance.now();
    agent = lab.startAgent({ url: apiUrl, token, driver: "nftables", name });
    const restartMs = (await poller.when((p) => p.size === 0, 60_000)) - t0;
    console.log(`agent start with ${BULK} stale rules → none:  ${restartMs.toFixed(0)} ms (includes starting node + tsx)`);
    console.log(`(${poller.listings} listings of the gateway's map)`);
  } catch (err) {
    process.exitCode = 1;
    console.error(err);
  } finally {
    if (process.exitCode || BENCH_DEBUG) console.error(agentOutput().split("\n").slice(-30).join("\n"));
    await stopAll().catch((err) => console.error("shutdown:", err));
    await lab.destroy();
    await teardownDatabases();
  }
}

await main();
