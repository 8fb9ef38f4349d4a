// Live board fan-out benchmark. Starts the real API (`postern serve`, a temporary SQLite or
// PostgreSQL database), opens N websocket clients on GET /api/live with one login cookie,
// starts and ends sessions through the API, and measures the time from the request until every
// client has the event. Then the same N clients on a bare `ws` server broadcasting the same
// payload: the baseline. Prints p50 / p99 / max, the API process's RSS, and the ratio.
//
//   pnpm bench:live                      # 0, 2, 100 and 1000 clients, SQLite
//   pnpm bench:live 1000 5000 10000      # several sizes in one run
//   pnpm bench:live 10000 --db=postgres  # PostgreSQL at 127.0.0.1:5432 (BENCH_PG_URL to change)
//   pnpm bench:live 2 --warm=0           # without the warm-up (see below)
//   pnpm bench:live 10000 --rounds=6     # events per size (20; at least 40 up to 100 clients)
//   pnpm bench:live 2 --history=100000   # on a table that already holds 100,000 ended sessions
//
// Before measuring, each server answers as many requests as it will be measured on many times over
// (--warm start/end pairs; the bare server as many broadcasts), so the figures are those of a
// server that has been up a while. A fresh process runs its request path in V8's interpreter and
// baseline tiers for its first few hundred requests: a lone start on PostgreSQL cost 5.4 ms of CPU
// after 10 requests and 2.9 ms after 2,000 (2026-11-29).
//
// Each client is a file descriptor here and in the server: raise the limit first if needed
// (`ulimit -n 65536`); the script checks and says so.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import WebSocket from "ws";
import { call, dbOf, numberOption, root, rssMb, spawnNode, startApi, statsOf, type ApiCluster, type BenchDb, type Stats } from "../lib/api-process";
import { seedHistory } from "../lib/history";
import { printVerdicts, type Verdict } from "../lib/targets";

interface Options {
  sizes: number[];
  db: BenchDb;
  rounds: number;
  /** Start/end pairs the API answers before any measurement. */
  warm: number;
  /** Ended sessions seeded into the database first (bench/lib/history.ts). */
  history: number;
}

function parseArgs(argv: string[]): Options {
  const sizes = argv.filter((a) => /^\d+$/.test(a)).map(Number);
  const option = (name: string, fallback: number) => numberOption(argv, name, fallback);
  return { sizes: sizes.length ? sizes : [0, 2, 100, 1000], db: dbOf(argv), rounds: option("rounds", 20), warm: option("warm", 1000), history: option("history", 0) };
}

function openFileLimit(): number {
  const limits = fs.readFileSync("/proc/self/limits", "utf8");
  const line = limits.split("\n").find((l) => l.startsWith("Max open files"));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

// ---- clients ----

/** Milliseconds on the process's monotonic clock, which the sender thread shares. */
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

interface Clients {
  sockets: WebSocket[];
  /** Resolves with the time (`nowMs`) each client had `marker`, once all have. */
  waitAll(marker: string, timeoutMs?: number): Promise<number[]>;
  close(): Promise<void>;
}

async function connectClients(url: string, n: number, headers: Record<string, string>, firstMessage: boolean): Promise<Clients> {
  const sockets: WebSocket[] = [];
  let expecting: { marker: Buffer; times: number[]; seen: Uint8Array; left: number; done: () => void } | null = null;
  const connectOne = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false });
      sockets[i] = ws;
      let ready = !firstMessage;
      ws.on("message", (data: Buffer) => {
        if (!ready) {
          ready = true;
          resolve();
          return;
        }
        const e = expecting;
        if (e && e.seen[i] === 0 && data.includes(e.marker)) {
          e.seen[i] = 1;
          e.times.push(nowMs());
          if (--e.left === 0) e.done();
        }
      });
      ws.once("open", () => {
        if (ready) resolve();
      });
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  const batch = 250;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => connectOne(i + k)));
  }
  return {
    sockets,
    waitAll: (marker, timeoutMs = 60_000) =>
      new Promise<number[]>((resolve, reject) => {
        const times: number[] = [];
        // No observers: the row measures the request alone.
        if (n === 0) return resolve(times);
        const timer = setTimeout(() => reject(new Error(`only ${times.length}/${n} clients got ${marker}`)), timeoutMs);
        expecting = {
          marker: Buffer.from(marker),
          times,
          seen: new Uint8Array(n),
          left: n,
          done: () => {
            clearTimeout(timer);
            expecting = null;
            resolve(times);
          },
        };
      }),
    close: async () => {
      await Promise.all(
        sockets.map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              ws.once("close", () => resolve());
              ws.terminate();
            }),
        ),
      );
    },
  };
}

// ---- the API ----

/** The first instance of a cluster, as these measurements use it. */
interface Api {
  url: string;
  pid: number;
  cookie: string;
}

function apiOf(cluster: ApiCluster): Api {
  const first = cluster.instances[0]!;
  return { url: first.url, pid: first.pid, cookie: cluster.cookie };
}

async function api(base: Api, method: string, url: string, body?: unknown): Promise<{ id: string }> {
  return call(base.url, { cookie: base.cookie }, method, url, body);
}

// ---- the sender ----

interface Sent {
  /** When the request left and its answer was in (`nowMs`). */
  sent: number;
  answered: number;
  status: number;
  text: string;
}

/**
 * Sends the measured requests from a thread of its own (sender.mjs). In the main thread, the
 * answer to a request waited behind the websocket frames arriving with it: with 10,000 clients
 * the request's own time came out 1.7–2 × its time with none, though the server answered first.
 * The thread also asks for a higher priority than the clients' (nice -10; it needs root or
 * CAP_SYS_NICE, and the output says which it got): on two cores, with the server fanning out on
 * one and the 10,000 clients reading on the other, the answer, already written, waited for a core
 * (1.32-1.33 × as the sender saw it, 0.96-1.01 × in the server, 2026-11-30). A requester on
 * another machine than the crowd does not wait for the crowd's work.
 */
function startSender(): { send(url: string, init: RequestInit): Promise<Sent>; stop(): Promise<number>; priority(): string } {
  const worker = new Worker(new URL("./sender.mjs", import.meta.url));
  const waiting = new Map<number, (sent: Sent) => void>();
  let next = 0;
  let priority = "not reported";
  worker.on("message", (m: (Sent & { id: number }) | { priority: number | null; reason?: string }) => {
    if ("priority" in m) {
      priority = m.priority === null ? `the default (raising it was refused: ${m.reason})` : `nice ${m.priority}`;
      return;
    }
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  worker.unref();
  return {
    send: (url, init) =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        worker.postMessage({ id, url, init });
      }),
    stop: () => worker.terminate(),
    priority: () => priority,
  };
}

type Sender = ReturnType<typeof startSender>;

/** A start or an end, sent and timed by the sender thread. */
async function change(sender: Sender, base: Api, method: string, path: string, body?: unknown): Promise<Sent & { id: string }> {
  const headers: Record<string, string> = { cookie: base.cookie, "x-postern-csrf": "1" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await sender.send(`${base.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return { ...res, id: res.text ? (JSON.parse(res.text) as { id: string }).id : "" };
}

// ---- the baseline ----

async function startBaseline(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = spawnNode([path.join(import.meta.dirname, "baseline-server.mjs")], {}, root);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`baseline exited ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

// ---- the run ----

interface Row {
  n: number;
  api: Stats;
  baseline: Stats;
  apiRss: number;
  baselineRss: number;
  connectSeconds: number;
  /** The same clients connecting to the bare ws server. */
  baselineConnectSeconds: number;
  /** How long the start / end request itself took to answer (median), as the sender saw it. */
  requestMs: number;
  /** The same requests as the server timed them (its `postern_http_request_duration_seconds`,
   * from the request's arrival to its answer written): the median. */
  serverMs: number;
}

/** The measured routes' time in the server so far (seconds) and how many it answered. */
async function serverTimes(apiServer: Api): Promise<{ seconds: number; count: number }> {
  const lines = (await (await fetch(`${apiServer.url}/metrics`)).text()).split("\n");
  let seconds = 0;
  let count = 0;
  for (const route of ['method="POST",route="/api/services/:id/sessions"', 'method="DELETE",route="/api/sessions/:id"']) {
    const prefix = (part: string) => `postern_http_request_duration_seconds_${part}{${route}} `;
    const of = (part: string) => Number(lines.find((l) => l.startsWith(prefix(part)))?.slice(prefix(part).length) ?? 0);
    seconds += of("sum");
    count += of("count");
  }
  return { seconds, count };
}

/** `pairs` starts and ends, one after the other, with two clients watching: every part of the
 * measured path (the request, the change, the fan-out) runs optimised afterwards. */
async function warmUp(opts: Options, sender: Sender, apiServer: Api, serviceId: string): Promise<void> {
  const watchers = await connectClients(`${apiServer.url.replace("http", "ws")}/api/live`, 2, { cookie: apiServer.cookie }, true);
  for (let i = 0; i < opts.warm; i++) {
    const { id } = await change(sender, apiServer, "POST", `/api/services/${serviceId}/sessions`, { durationSeconds: 600 });
    await change(sender, apiServer, "DELETE", `/api/sessions/${id}`);
  }
  await watchers.close();
}

async function benchSize(opts: Options, sender: Sender, n: number, rounds: number, apiServer: Api, serviceId: string): Promise<Row> {
  let peak = rssMb(apiServer.pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(apiServer.pid))), 50);
  const connectStart = performance.now();
  const clients = await connectClients(`${apiServer.url.replace("http", "ws")}/api/live`, n, { cookie: apiServer.cookie }, true);
  const connectSeconds = (performance.now() - connectStart) / 1000;
  const latencies: number[] = [];
  let payload = "";
  let sessionId = "";
  const requestTimes: number[] = [];
  const serverRequestTimes: number[] = [];
  let server = await serverTimes(apiServer);
  for (let r = 0; r < rounds; r++) {
    const starting = r % 2 === 0;
    const marker = starting ? '"session.started"' : '"session.ended"';
    const waiting = clients.waitAll(marker);
    const res = starting
      ? await change(sender, apiServer, "POST", `/api/services/${serviceId}/sessions`, { durationSeconds: 600 })
      : await change(sender, apiServer, "DELETE", `/api/sessions/${sessionId}`);
    if (starting) sessionId = res.id;
    requestTimes.push(res.answered - res.sent);
    latencies.push(...(await waiting).map((t) => t - res.sent));
    // Read once every client has the event, so that rendering the figures does not join the fan-out.
    const now = await serverTimes(apiServer);
    if (now.count === server.count + 1) serverRequestTimes.push((now.seconds - server.seconds) * 1000);
    server = now;
    if (starting && !payload) {
      const list = await fetch(`${apiServer.url}/api/sessions?active=true`, { headers: { cookie: apiServer.cookie } });
      const [session] = (await list.json()) as unknown[];
      payload = JSON.stringify({ type: "event", seq: 1, event: { type: "session.started", session } });
    }
    await sleep(200);
  }
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(apiServer.pid));
  await clients.close();

  const baseline = await startBaseline();
  // As many requests as the API answered in its warm-up, before its clients connect.
  const broadcast = async () => {
    const res = await sender.send(`${baseline.url}/broadcast`, { method: "POST", body: payload });
    if (res.status !== 204) throw new Error(`baseline broadcast: ${res.status}`);
    return res;
  };
  for (let i = 0; i < 2 * opts.warm; i++) await broadcast();
  let baselinePeak = 0;
  const baselineSampler = setInterval(() => (baselinePeak = Math.max(baselinePeak, rssMb(baseline.pid))), 50);
  const bConnectStart = performance.now();
  const bClients = await connectClients(`${baseline.url.replace("http", "ws")}/ws`, n, {}, false);
  const baselineConnectSeconds = (performance.now() - bConnectStart) / 1000;
  const bLatencies: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const waiting = bClients.waitAll('"session.started"');
    const res = await broadcast();
    bLatencies.push(...(await waiting).map((t) => t - res.sent));
    await sleep(200);
  }
  clearInterval(baselineSampler);
  await bClients.close();
  await baseline.stop();
  return {
    n,
    api: statsOf(latencies),
    baseline: statsOf(bLatencies),
    apiRss: peak,
    baselineRss: baselinePeak,
    connectSeconds,
    baselineConnectSeconds,
    requestMs: statsOf(requestTimes).p50,
    serverMs: statsOf(serverRequestTimes).p50,
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const limit = openFileLimit();
  const needed = Math.max(...opts.sizes) + 1000;
  if (limit < needed) {
    process.stderr.write(
      `The open-file limit is ${limit}; ${needed} are needed for ${Math.max(...opts.sizes)} clients.\n` +
        `Raise it in this shell first, e.g.  ulimit -n 65536  (as root, or up to the hard limit), then run again.\n`,
    );
    process.exit(2);
  }
  process.stdout.write(
    `Live fan-out benchmark: ${opts.db}, sizes ${opts.sizes.join(", ")}, ${opts.rounds} events each (40 up to 100 clients), ` +
      `after ${opts.warm} start/end pairs (--warm), ${opts.history} ended sessions seeded (--history), ${os.cpus().length} CPUs\n`,
  );
  // All clients share one login, and a login may hold POSTERN_MAX_LIVE_CONNECTIONS streams (20 by
  // default, against one user exhausting the server): raise it for the benchmark's crowd.
  const cluster = await startApi(opts.db, 1, { POSTERN_MAX_LIVE_CONNECTIONS: String(Math.max(...opts.sizes, 20)) });
  const apiServer = apiOf(cluster);
  const rows: Row[] = [];
  const sender = startSender();
  let senderPriority = "";
  try {
    const service = await api(apiServer, "POST", "/api/services", {
      name: "Bench VPN",
      slug: "bench-vpn",
      kind: "vpn",
      maxDurationSeconds: 3600,
    });
    if (opts.history > 0) {
      process.stdout.write(`  history: ${opts.history} ended sessions…\n`);
      process.stdout.write(`  seeded in ${(await seedHistory(opts.db, cluster, service.id, opts.history)).toFixed(1)} s\n`);
    }
    if (opts.warm > 0) {
      process.stdout.write(`  warm-up: ${opts.warm} start/end pairs…\n`);
      await warmUp(opts, sender, apiServer, service.id);
    }
    for (const n of opts.sizes) {
      process.stdout.write(`  ${n} clients…\n`);
      // Few clients give few samples per round: more rounds keep their p99 meaningful.
      rows.push(await benchSize(opts, sender, n, n <= 100 ? Math.max(opts.rounds, 40) : opts.rounds, apiServer, service.id));
      await sleep(1000);
    }
  } finally {
    await cluster.stop();
    senderPriority = sender.priority();
    await sender.stop();
  }
  const f = (x: number) => x.toFixed(1).padStart(8);
  process.stdout.write(
    "\n| clients | server | p50 ms | p99 ms | max ms | peak RSS MB | connect s | request ms | in the server, ms |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
  );
  for (const r of rows) {
    process.stdout.write(`| ${r.n} | Postern | ${f(r.api.p50)} | ${f(r.api.p99)} | ${f(r.api.max)} | ${f(r.apiRss)} | ${r.connectSeconds.toFixed(1)} | ${f(r.requestMs)} | ${f(r.serverMs)} |\n`);
    process.stdout.write(`| ${r.n} | bare ws | ${f(r.baseline.p50)} | ${f(r.baseline.p99)} | ${f(r.baseline.max)} | ${f(r.baselineRss)} | ${r.baselineConnectSeconds.toFixed(1)} | | |\n`);
  }
  const first = rows[0];
  process.stdout.write(
    `\n| clients | p99 ratio Postern / bare ws | p50 ratio | RSS ratio | request ms ÷ request ms at ${first?.n ?? 0} clients | in the server, ÷ at ${first?.n ?? 0} clients |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n`,
  );
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "–");
  for (const r of rows) {
    process.stdout.write(
      `| ${r.n} | ${ratio(r.api.p99, r.baseline.p99)} | ${ratio(r.api.p50, r.baseline.p50)} | ${ratio(r.apiRss, r.baselineRss)} | ${ratio(r.requestMs, first?.requestMs ?? 0)} | ${ratio(r.serverMs, first?.serverMs ?? 0)} |\n`,
    );
  }
  process.stdout.write(
    "\nLatency: from sending the API request (start or end a session) until each client has the event\n" +
      "(it includes the request itself: `request ms` is how long the API took to answer it, as the client saw it;\n" +
      "`in the server` is the server's own time for those requests (median), from their arrival to their answer written);\n" +
      "the baseline from sending the broadcast request. Clients run in this process, the servers in their own;\n" +
      "the requests leave from a thread of their own, so the clients' work does not delay them.\n" +
      `The sender thread's priority: ${senderPriority} (the clients' thread keeps the default).\n`,
  );
  printVerdicts(verdicts(rows));
}

/** The live targets for the sizes this run measured (a size not run is not judged). */
function verdicts(rows: Row[]): Verdict[] {
  const out: Verdict[] = [];
  const at = (n: number) => rows.find((r) => r.n === n);
  for (const [n, ms] of [
    [2, 5],
    [100, 10],
  ] as const) {
    const r = at(n);
    if (r) out.push({ target: `POST → last of ${n} observers, p50 ≤ ${ms} ms`, held: r.api.p50 <= ms, measured: `${r.api.p50.toFixed(1)} ms` });
  }
  const crowd = at(10000);
  if (crowd) {
    const p99 = crowd.api.p99 / crowd.baseline.p99;
    out.push({ target: "10,000 clients: p99 within 1.5 × the bare ws broadcast's", held: p99 <= 1.5, measured: `${p99.toFixed(2)} ×` });
    out.push({ target: "10,000 clients: the server's RSS < 400 MB", held: crowd.apiRss < 400, measured: `${crowd.apiRss.toFixed(0)} MB` });
    const none = at(0);
    if (none) {
      // As the client saw it: what a user waits for (the server's own figure beside it).
      const client = crowd.requestMs / none.requestMs;
      const server = crowd.serverMs / none.serverMs;
      out.push({
        target: "the POST's own time at 10,000 clients ≤ 1.2 × at none",
        held: client <= 1.2,
        measured: `${client.toFixed(2)} × as the client saw it (${server.toFixed(2)} × in the server)`,
      });
    }
  }
  return out;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
