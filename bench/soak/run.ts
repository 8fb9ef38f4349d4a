// Soak benchmark: the real API (`postern serve` on a fresh SQLite or PostgreSQL database) with
// 200 live websocket clients and 4 writers starting, extending and ending sessions for
// `--minutes`. Prints the API process's RSS every 30 s and the writers' p50 / p99 per minute,
// and at the end how far RSS moved from its first-minute value (the bound: 20 %).
//
//   pnpm bench:soak --minutes 10                 # SQLite
//   pnpm bench:soak --minutes 10 --db=postgres   # PostgreSQL at 127.0.0.1:5432 (BENCH_PG_URL)
//   --clients=200 --writers=4                    # the defaults
//
// BENCH_HEAP=<dir>: the server writes a heap snapshot there on SIGUSR2, taken after the first
// minute and at the end, to compare what grew (writing one costs the server RSS of its own).
// BENCH_NODE_OPTIONS: more NODE_OPTIONS for the server (e.g. `--require` a memory logger).
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { call, dbOf, machine, rssMb, startApi, statsOf } from "../lib/api-process";

const argv = process.argv.slice(2);
const numberArg = (name: string, fallback: number): number => {
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return Number(eq.split("=")[1]);
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const minutes = numberArg("minutes", 10);
const clients = numberArg("clients", 200);
const writerCount = numberArg("writers", 4);
const db = dbOf(argv);
const RSS_EVERY_MS = 30_000;
/** RSS may drift this far from its first-minute value. */
const RSS_BOUND = 0.2;

async function openClients(url: string, n: number, cookies: string[]): Promise<{ sockets: WebSocket[]; received: () => number }> {
  let received = 0;
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/live`, { headers: { cookie: cookies[i % cookies.length]! } });
          ws.on("message", () => received++);
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        }),
    ),
  );
  return { sockets, received: () => received };
}

async function main(): Promise<void> {
  console.log(`soak: ${minutes} min, ${clients} websockets, ${writerCount} writers, ${db}; ${machine()}`);
  const nodeOptions = [
    process.env.BENCH_HEAP ? `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${process.env.BENCH_HEAP}` : "",
    process.env.BENCH_NODE_OPTIONS ?? "",
  ].join(" ");
  // The clients share two logins; each login may hold POSTERN_MAX_LIVE_CONNECTIONS streams.
  const api = await startApi(db, 1, { POSTERN_MAX_LIVE_CONNECTIONS: "1000", ...(nodeOptions.trim() ? { NODE_OPTIONS: nodeOptions.trim() } : {}) });
  const { url, pid } = api.instances[0]!;
  const admin = { cookie: api.cookie };
  try {
    // Half the clients are members of a group (their own visibility class), half the admin.
    const group = await call(url, admin, "POST", "/api/groups", { name: "soak" });
    await call(url, admin, "POST", "/api/users", { username: "soak-member", password: "soak-member-password-1", groupIds: [group.id] });
    const member = (
      await fetch(`${url}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "soak-member", password: "soak-member-password-1" }),
      })
    ).headers
      .get("set-cookie")
      ?.split(";")[0];
    const services: string[] = [];
    for (let i = 0; i < writerCount; i++) {
      const s = await call(url, admin, "POST", "/api/services", {
        name: `Soak ${i}`,
        slug: `soak-${i}`,
        kind: "other",
        maxDurationSeconds: 86_400,
        groupIds: [group.id],
      });
      services.push(s.id);
    }
    const live = await openClients(url, clients, [api.cookie, member ?? api.cookie]);

    let latencies: number[] = [];
    let changes = 0;
    let errors = 0;
    let running = true;
    const timed = async (method: string, path: string, body?: unknown) => {
      const t0 = performance.now();
      try {
        return await call(url, admin, method, path, body);
      } catch {
        errors++;
        return undefined;
      } finally {
        latencies.push(performance.now() - t0);
        changes++;
      }
    };
    const writers = services.map(async (serviceId) => {
      while (running) {
        const session = await timed("POST", `/api/services/${serviceId}/sessions`, { durationSeconds: 3600 });
        if (!session) continue;
        await timed("POST", `/api/sessions/${session.id}/extend`, { durationSeconds: 60 });
        await timed("DELETE", `/api/sessions/${session.id}`);
      }
    });

    const start = Date.now();
    const rss: { at: number; mb: number }[] = [];
    let nextRss = start + RSS_EVERY_MS;
    let nextMinute = start + 60_000;
    let minute = 0;
    const heap = (label: string) => {
      if (process.env.BENCH_HEAP) {
        process.kill(pid, "SIGUSR2");
        console.log(`  heap snapshot (${label}) requested into ${process.env.BENCH_HEAP}`);
      }
    };
    while (Date.now() - start < minutes * 60_000) {
      await sleep(250);
      const now = Date.now();
      if (now >= nextRss) {
        const mb = rssMb(pid);
        if (mb === 0) throw new Error(`the API process is gone; its output ends:\n${api.instances[0]!.output().slice(-5000)}`);
        rss.push({ at: now - start, mb });
        console.log(`  ${((now - start) / 1000).toFixed(0).padStart(4)} s  RSS ${mb.toFixed(0)} MB  (${changes} changes, ${live.received()} messages to clients)`);
        nextRss += RSS_EVERY_MS;
      }
      if (now >= nextMinute) {
        minute++;
        const s = statsOf(latencies);
        console.log(`  minute ${minute}: ${s.samples} writes, p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, errors ${errors}`);
        latencies = [];
        if (minute === 1) heap("after the first minute");
        nextMinute += 60_000;
      }
    }
    running = false;
    await Promise.all(writers);
    heap("at the end");
    await sleep(process.env.BENCH_HEAP ? 5_000 : 0);

    // The samples at 30 s and 60 s; their higher one, as a heap's sawtooth puts either on top.
    const baseline = Math.max(...rss.slice(0, 2).map((r) => r.mb));
    const peak = Math.max(...rss.map((r) => r.mb));
    const last = rss.at(-1)?.mb ?? NaN;
    const drift = (peak - baseline) / baseline;
    console.log(
      `soak ${db}: RSS first minute ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, last ${last.toFixed(0)} MB ` +
        `(${(drift * 100).toFixed(1)} % over the first minute; bound ${RSS_BOUND * 100} %); ${changes} writes, ${errors} errors`,
    );
    await Promise.all(live.sockets.map((ws) => ws.terminate()));
    if (drift > RSS_BOUND) process.exitCode = 1;
  } finally {
    await api.stop();
  }
}

await main();
