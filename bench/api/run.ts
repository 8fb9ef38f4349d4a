// API throughput benchmark: plain Fastify hello vs Postern's authenticated reads, refused requests
// and a mix of changes, measured in one run on this machine, so the ratios mean something.
//
//   pnpm bench:api                     # SQLite, 10 s per row, 32 connections for reads
//   pnpm bench:api --db=postgres       # PostgreSQL; the change mix runs on two API instances
//   pnpm bench:api --db=postgres --instances=1   # … or on one
//   pnpm bench:api --seconds=5         # shorter rows
//   BENCH_PROFILE=/tmp/prof pnpm bench:api --only=changes   # CPU profile of the server(s)
//   BENCH_PROFILE=/tmp/prof pnpm bench:api --only=reads --rows=POST   # only the rows named so
//   node bench/lib/profile-summary.mjs /tmp/prof/<file>.cpuprofile     # where the time went
//   pnpm bench:api --gateways          # every service behind a gateway agent (dry-run driver)
//
// Board: 20 services in 3 groups, 50 active sessions. Reads as a member (login cookie and API
// token); changes: 8 clients, each its own user, start → extend → end in a loop; then both at once
// (the board in use: every change must reach the cached reads). Per row: req/s,
// p50/p99 latency, the ratio to plain Fastify's req/s (a refused POST's to plain Fastify refusing a
// POST with a JSON body), database statements per request (from the
// server's own counter) and the server's RSS afterwards.
//
// A shared machine's speed drifts by a third or more within minutes, so a read row is not one long
// load against one baseline: after a warm-up burst (V8 optimises the route's path), it alternates
// --rounds short bursts of plain Fastify and of the row, and reports the median of the paired
// ratios. Each pair ran within three seconds of each other on the same machine.
import autocannon from "autocannon";
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { call, cpuMs, dbOf, percentile, postgresCpuMs, postgresWalSyncs, login, machine, queriesSent, rssMb, startApi, startHello, type ApiCluster } from "../lib/api-process";
import { startDryRunAgent, type RunningAgent } from "../lib/gateway-agent";
import { lowest, printVerdicts, type Verdict } from "../lib/targets";

interface Options {
  db: ReturnType<typeof dbOf>;
  seconds: number;
  connections: number;
  /** `reads` or `changes` to run one part only (while profiling). */
  only?: string;
  /** Runs only the read rows whose name contains this text (`--rows=POST`, while profiling). */
  rows?: string;
  /** Paired bursts per read row (plain Fastify, then the row). */
  rounds: number;
  /** API instances: 2 on PostgreSQL unless told (SQLite: always 1). */
  instances: number;
  /** Every service behind a gateway agent (dry-run driver): each start and end opens or closes a door. */
  gateways: boolean;
}

function parseArgs(argv: string[]): Options {
  const arg = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  return {
    db: dbOf(argv),
    seconds: Number(arg("seconds") ?? 10),
    connections: Number(arg("connections") ?? 32),
    only: arg("only"),
    rows: arg("rows"),
    rounds: Math.max(1, Number(arg("rounds") ?? 5)),
    instances: dbOf(argv) === "postgres" ? Math.max(1, Number(arg("instances") ?? 2)) : 1,
    gateways: argv.includes("--gateways"),
  };
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  /** Statements per request; NaN where not measured. */
  queries: number;
  /** Share of answers with the expected status. */
  ok: number;
  /** Plain Fastify's req/s measured just before this row: on a shared machine the load drifts, so
   * each row is compared with its own neighbour rather than with one figure from the start. */
  baseline?: number;
  /** The row's req/s over its neighbour's, when measured in paired rounds: the median pair. */
  ratio?: number;
  /** Server CPU (all instances) per request, ms. */
  cpu?: number;
  /** Plain Fastify's CPU per request in the same rounds, ms. */
  baselineCpu?: number;
  /** A refusal's CPU per request over a cached read's (`GET /api/services`, cookie) in the same
   * rounds: the median pair. */
  vsRead?: number;
  /** For an answer of more than 4 KB: the row's req/s over plain Fastify sending as many bytes
   * (the load generator, on the same cores, pays for every byte it parses): the median pair. */
  vsSameBytes?: number;
  /** The answer's size in bytes. */
  bytes?: number;
  /** A refused request (401/403/404/400/409), judged against a read. */
  refusal?: boolean;
  /** A `POST` with a body: its neighbour is plain Fastify refusing a `POST`. */
  post?: boolean;
  /** PostgreSQL's CPU per request, ms (the change mix on PostgreSQL only). */
  dbCpu?: number;
  /** PostgreSQL's WAL flushes per request (the change mix on PostgreSQL only). */
  walSyncs?: number;
  /** The change mix: the highest of its clients' own p99 (p99 is over every change). */
  worstClientP99?: number;
}

/** One answer of the change mix: when it came (ms, this process's clock; traced as ms since the epoch), how long it took, which
 * client and which step (0 start, 1 extend, 2 end). */
interface Answer {
  at: number;
  ms: number;
  client: number;
  step: number;
  status: number;
}

/** `BENCH_MIX_TRACE=<file>`: every answer of the change mix as CSV, to see when its slow ones came. */
function traceAnswers(file: string, answers: Answer[]): void {
  const lines = answers.map((a) => `${(performance.timeOrigin + a.at).toFixed(3)},${a.ms.toFixed(3)},${a.client},${["start", "extend", "end"][a.step]},${a.status}`);
  writeFileSync(file, `at_epoch_ms,ms,client,step,status\n${lines.join("\n")}\n`);
}

async function load(
  url: string,
  opts: Options,
  request: { method?: "GET" | "POST" | "DELETE"; headers?: Record<string, string>; body?: string },
  expect: number,
): Promise<Omit<Row, "name" | "queries">> {
  const result = await autocannon({
    url,
    connections: opts.connections,
    duration: opts.seconds,
    method: request.method ?? "GET",
    headers: request.headers,
    body: request.body,
  });
  const counts = result.statusCodeStats as unknown as Record<string, { count: number } | undefined>;
  const good = counts[String(expect)]?.count ?? 0;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, ok: result.requests.total ? good / result.requests.total : 0 };
}

/** A POST with a small JSON body, for the refused POSTs' neighbour. */
const HELLO_POST = { method: "POST" as const, headers: { "content-type": "application/json" }, body: JSON.stringify({ durationSeconds: "soon" }) };

/** Plain Fastify answering a GET with its hello, or refusing a POST with a JSON body. */
function loadHello(hello: { url: string }, opts: Options, post: boolean) {
  return load(hello.url, opts, post ? HELLO_POST : {}, post ? 400 : 200);
}

/** Each row's neighbour: plain Fastify, measured just before the row, for half as long. */
function neighbourOf(hello: { url: string }, opts: Options, post = false) {
  return loadHello(hello, { ...opts, seconds: Math.max(2, Math.round(opts.seconds / 2)) }, post);
}

async function baseline(hello: { url: string; pid: number }, opts: Options, post = false): Promise<Row> {
  const before = cpuMs(hello.pid);
  const row = await loadHello(hello, opts, post);
  const name = post ? "plain Fastify POST, JSON body, 400" : "plain Fastify hello";
  return { name, queries: 0, ...row, cpu: (cpuMs(hello.pid) - before) / (row.rps * opts.seconds) };
}

interface Board {
  member: { cookie: string; token: string; heldServiceId: string; loggedOutCookie: string; heldSessionId: string; endedSessionId: string };
  /** A writer's open session on a service the member sees: theirs to end, not the member's. */
  othersSessionId: string;
  /** `spare`: a second service for the mix run alongside the reads (the first may still be held
   * by a loop the previous run's clock stopped between its start and its end). */
  writers: { cookie: string; serviceId: string; spare: string; instance: number }[];
  serviceIds: string[];
}

/** The one exclusive service of the 20 (group "ops", which the reader is in), held by writer 1
 * and by no loop of the change mix: a start on it is the 409 that names its holder. */
const EXCLUSIVE = 6;

/** 3 groups, 20 services, a reader in two groups, 8 writers in all; 50 active sessions. */
async function seed(api: ApiCluster): Promise<Board> {
  const url = api.instances[0]!.url;
  const admin = { cookie: api.cookie };
  const groups = [];
  for (const name of ["ops", "support", "customers"]) groups.push(await call(url, admin, "POST", "/api/groups", { name }));
  const serviceIds: string[] = [];
  for (let i = 0; i < 20; i++) {
    const service = await call(url, admin, "POST", "/api/services", {
      name: `Service ${i}`,
      slug: `service-${i}`,
      kind: i % 2 ? "vpn" : "web",
      exclusive: i === EXCLUSIVE,
      maxDurationSeconds: 24 * 3600,
      defaultDurationSeconds: 3600,
      groupIds: [groups[i % 3]!.id],
    });
    serviceIds.push(service.id);
  }
  const makeUser = async (username: string, groupIds: string[]) => {
    const password = `pw-${username}-long-enough`;
    await call(url, admin, "POST", "/api/users", { username, password, groupIds });
    return login(url, username, password);
  };
  const readerCookie = await makeUser("reader", [groups[0]!.id, groups[1]!.id]);
  // A second login of the reader's, logged out: what a tab left open elsewhere still sends.
  const loggedOutCookie = await login(url, "reader", "pw-reader-long-enough");
  await call(url, { cookie: loggedOutCookie }, "POST", "/api/auth/logout");
  const token = (await call<{ token: string }>(url, { cookie: readerCookie }, "POST", "/api/tokens", { name: "bench", scopes: ["sessions:read", "sessions:write"] })).token;
  const start = (cookie: string, serviceId: string) => call(url, { cookie }, "POST", `/api/services/${serviceId}/sessions`, { durationSeconds: 12 * 3600 });
  // The reader holds two (one makes the 409 start row, the other the 400 extend row) and has
  // ended a third (the 409 end row); the writers hold six each: 50 open in all.
  const heldServiceId = serviceIds[0]!;
  await start(readerCookie, serviceIds[0]!);
  const heldSessionId = (await start(readerCookie, serviceIds[1]!)).id;
  const endedSessionId = (await start(readerCookie, serviceIds[4]!)).id;
  await call(url, { cookie: readerCookie }, "DELETE", `/api/sessions/${endedSessionId}`);
  const writers: Board["writers"] = [];
  let othersSessionId = "";
  for (let w = 0; w < 8; w++) {
    const cookie = await makeUser(`writer${w}`, groups.map((g) => g.id));
    for (let k = 0; k < 6; k++) {
      // The exclusive service is writer 1's; the others who would hold it take the service just
      // past their own run instead.
      const at = (w * 2 + k) % 20 === EXCLUSIVE && w !== 1 ? (w * 2 + 6) % 20 : (w * 2 + k) % 20;
      const session = await start(cookie, serviceIds[at]!);
      // Writer 0's on service 0, of the group "ops", which the reader is in.
      if (w === 0 && k === 0) othersSessionId = session.id;
    }
    writers.push({ cookie, serviceId: serviceIds[(w * 2 + 10) % 20]!, spare: serviceIds[(w * 2 + 11) % 20]!, instance: w % api.instances.length });
  }
  return { member: { cookie: readerCookie, token, heldServiceId, loggedOutCookie, heldSessionId, endedSessionId }, othersSessionId, writers, serviceIds };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface ReadCase {
  name: string;
  path: string;
  headers: Record<string, string>;
  method?: "GET" | "POST" | "DELETE";
  body?: string;
  expect: number;
  /** A refusal: each round also measures a cached read, to compare its CPU with. */
  refusal?: boolean;
}

/** One read row: a warm-up burst, then `rounds` pairs of plain Fastify (same method) and the row;
 * for a refusal, each round also loads `read` (a cached read) for the refusal's cost against it. */
async function pairedRow(api: ApiCluster, hello: { url: string; pid: number }, opts: Options, c: ReadCase, read: ReadCase): Promise<Row> {
  const base = api.instances[0]!.url;
  const pid = api.instances[0]!.pid;
  const post = c.method === "POST";
  const request = { method: c.method, headers: c.headers, body: c.body };
  const burst = Math.max(1, Math.round(opts.seconds / opts.rounds));
  const half = Math.max(1, Math.round(burst / 2));
  await load(`${base}${c.path}`, { ...opts, seconds: 1 }, request, c.expect);
  const bytes = (await (await fetch(`${base}${c.path}`, request)).arrayBuffer()).byteLength;
  const large = bytes > 4096;
  const rounds: {
    rps: number;
    p50: number;
    p99: number;
    ok: number;
    ratio: number;
    cpu: number;
    baselineCpu: number;
    queries: number;
    vsRead: number;
    vsSameBytes: number;
  }[] = [];
  /** One burst on the server: its answers and the server's CPU per request. */
  const measured = async (path: string, req: Parameters<typeof load>[2], expect: number) => {
    const before = cpuMs(pid);
    const result = await load(`${base}${path}`, { ...opts, seconds: burst }, req, expect);
    return { result, cpu: (cpuMs(pid) - before) / (result.rps * burst) };
  };
  for (let r = 0; r < opts.rounds; r++) {
    const readCpu = c.refusal ? (await measured(read.path, { headers: read.headers }, read.expect)).cpu : NaN;
    const sameBytes = large ? await load(`${hello.url}bytes/${bytes}`, { ...opts, seconds: half }, {}, 200) : undefined;
    const neighbour = await baseline(hello, { ...opts, seconds: half }, post);
    const before = await queriesSent(base);
    const { result, cpu } = await measured(c.path, request, c.expect);
    const total = result.rps * burst;
    const queries = total ? ((await queriesSent(base)) - before) / total : NaN;
    rounds.push({ ...result, ratio: result.rps / neighbour.rps, cpu, baselineCpu: neighbour.cpu!, queries, vsRead: cpu / readCpu, vsSameBytes: sameBytes ? result.rps / sameBytes.rps : NaN });
  }
  const of = (key: keyof (typeof rounds)[number]) => median(rounds.map((r) => r[key]));
  return {
    name: c.name,
    rps: of("rps"),
    p50: of("p50"),
    // The worst round's: a pause of the machine shows here rather than hiding in a median.
    p99: Math.max(...rounds.map((r) => r.p99)),
    ok: Math.min(...rounds.map((r) => r.ok)),
    ratio: of("ratio"),
    cpu: of("cpu"),
    baselineCpu: of("baselineCpu"),
    queries: of("queries"),
    refusal: c.refusal,
    post,
    vsRead: c.refusal ? of("vsRead") : undefined,
    vsSameBytes: large ? of("vsSameBytes") : undefined,
    bytes,
  };
}

/** The login cookie with another signature, as if signed with an earlier secret. */
function staleCookieOf(cookie: string): string {
  const dot = cookie.lastIndexOf(".");
  const signature = cookie.slice(dot + 1);
  return `${cookie.slice(0, dot + 1)}${[...signature].map((c) => (c === "A" ? "B" : "A")).join("")}`;
}

async function reads(api: ApiCluster, board: Board, opts: Options, hello: { url: string; pid: number }): Promise<Row[]> {
  const cookie = { cookie: board.member.cookie };
  const bearer = { authorization: `Bearer ${board.member.token}` };
  const csrf = { ...cookie, "x-postern-csrf": "1", "content-type": "application/json" };
  const cases: ReadCase[] = [
    { name: "GET /api/services (cookie)", path: "/api/services", headers: cookie, expect: 200 },
    { name: "GET /api/services (token)", path: "/api/services", headers: bearer, expect: 200 },
    { name: "GET /api/sessions?active=true (cookie)", path: "/api/sessions?active=true", headers: cookie, expect: 200 },
    { name: "GET /api/sessions?active=true (token)", path: "/api/sessions?active=true", headers: bearer, expect: 200 },
    { name: "GET /api/me (cookie)", path: "/api/me", headers: cookie, expect: 200 },
    { name: "GET /api/me (token)", path: "/api/me", headers: bearer, expect: 200 },
    { name: "401 GET /api/services (no login)", path: "/api/services", headers: {}, expect: 401, refusal: true },
    // What a browser sends after the install's secret changed (or its login expired), on every
    // request until someone logs in again: a well-formed login cookie that fails to verify.
    { name: "401 GET /api/services (stale login cookie)", path: "/api/services", headers: { cookie: staleCookieOf(board.member.cookie) }, expect: 401, refusal: true },
    { name: "401 GET /api/services (logged-out cookie)", path: "/api/services", headers: { cookie: board.member.loggedOutCookie }, expect: 401, refusal: true },
    // A monitor still using a token whose owner was deleted: shaped like one, known to no one.
    { name: "401 GET /api/services (unknown token)", path: "/api/services", headers: { authorization: `Bearer pst_0123456789ab_${"x".repeat(43)}` }, expect: 401, refusal: true },
    { name: "403 GET /api/users (member)", path: "/api/users", headers: cookie, expect: 403, refusal: true },
    { name: "404 GET /api/services/:unknown", path: "/api/services/no-such-service", headers: cookie, expect: 404, refusal: true },
    {
      name: "400 POST start (bad duration)",
      // A service the member sees (group "ops"): one hidden from them is a 404 before its body is read.
      path: `/api/services/${board.serviceIds[3]}/sessions`,
      method: "POST",
      headers: csrf,
      body: JSON.stringify({ durationSeconds: "soon" }),
      expect: 400,
      refusal: true,
    },
    {
      name: "409 POST start (already holding it)",
      path: `/api/services/${board.member.heldServiceId}/sessions`,
      method: "POST",
      headers: csrf,
      body: JSON.stringify({ durationSeconds: 600 }),
      expect: 409,
      refusal: true,
    },
    {
      // Someone else holds it: the refusal people meet most on a board of exclusive services.
      name: "409 POST start (held by someone else)",
      path: `/api/services/${board.serviceIds[EXCLUSIVE]}/sessions`,
      method: "POST",
      headers: csrf,
      body: JSON.stringify({ durationSeconds: 600 }),
      expect: 409,
      refusal: true,
    },
    {
      // 48 h asked of a service whose maximum is 24 h: well-formed, and not allowed.
      name: "400 POST start (past the service's maximum)",
      path: `/api/services/${board.serviceIds[3]}/sessions`,
      method: "POST",
      headers: csrf,
      body: JSON.stringify({ durationSeconds: 48 * 3600 }),
      expect: 400,
      refusal: true,
    },
    {
      name: "404 POST start (unknown service)",
      path: "/api/services/no-such-service/sessions",
      method: "POST",
      headers: csrf,
      body: JSON.stringify({ durationSeconds: 600 }),
      expect: 404,
      refusal: true,
    },
    {
      // 12 h held, 24 h more asked of a service whose maximum is 24 h ahead.
      name: "400 POST extend (past the maximum)",
      path: `/api/sessions/${board.member.heldSessionId}/extend`,
      method: "POST",
      headers: csrf,
      body: JSON.stringify({ durationSeconds: 24 * 3600 }),
      expect: 400,
      refusal: true,
    },
    // A double click on "End", a script ending what it already ended.
    { name: "409 DELETE end (already ended)", path: `/api/sessions/${board.member.endedSessionId}`, method: "DELETE", headers: { ...cookie, "x-postern-csrf": "1" }, expect: 409, refusal: true },
    { name: "403 DELETE end (someone else's)", path: `/api/sessions/${board.othersSessionId}`, method: "DELETE", headers: { ...cookie, "x-postern-csrf": "1" }, expect: 403, refusal: true },
  ];
  const rows: Row[] = [];
  for (const c of cases.filter((c) => !opts.rows || c.name.includes(opts.rows))) {
    process.stdout.write(`  ${c.name}…\n`);
    rows.push(await pairedRow(api, hello, opts, c, cases[0]!));
  }
  return rows;
}

/**
 * 8 clients, each its own user on its own connection, start → extend → end as fast as they are
 * answered (autocannon: one instance per client, the session's id carried from one request to
 * the next).
 */
async function changes(api: ApiCluster, board: Board, opts: Options, spare = false): Promise<Row> {
  const before = await Promise.all(api.instances.map((i) => queriesSent(i.url)));
  const cpuBefore = api.instances.reduce((sum, i) => sum + cpuMs(i.pid), 0);
  const dbCpuBefore = postgresCpuMs();
  const walBefore = opts.db === "postgres" ? await postgresWalSyncs() : 0;
  // Every answer's time, for percentiles over all changes (autocannon's are per client).
  const answers: Answer[] = [];
  const runs = await Promise.all(
    board.writers.map((w, client) => {
      const headers = { cookie: w.cookie, "x-postern-csrf": "1", "content-type": "application/json" };
      return autocannon({
        url: api.instances[w.instance]!.url,
        connections: 1,
        duration: opts.seconds,
        setupClient: (c) => {
          let step = 0;
          c.on("response", (status, _bytes, ms) => answers.push({ at: performance.now(), ms, client, step: step++ % 3, status }));
        },
        requests: [
          {
            method: "POST",
            path: `/api/services/${spare ? w.spare : w.serviceId}/sessions`,
            headers,
            body: JSON.stringify({ durationSeconds: 600 }),
            onResponse: (_status, body, context) => {
              (context as { id?: string }).id = (JSON.parse(body) as { id?: string }).id;
            },
          },
          {
            method: "POST",
            headers,
            body: JSON.stringify({ durationSeconds: 60 }),
            setupRequest: (req, context) => ({ ...req, path: `/api/sessions/${String((context as { id?: string }).id)}/extend` }),
          },
          { method: "DELETE", headers: { cookie: w.cookie, "x-postern-csrf": "1" }, setupRequest: (req, context) => ({ ...req, path: `/api/sessions/${String((context as { id?: string }).id)}` }) },
        ],
      });
    }),
  );
  const after = await Promise.all(api.instances.map((i) => queriesSent(i.url)));
  const cpuAfter = api.instances.reduce((sum, i) => sum + cpuMs(i.pid), 0);
  const dbCpu = (postgresCpuMs() - dbCpuBefore) / (runs.reduce((n, r) => n + r.requests.total, 0) || 1);
  const total = runs.reduce((n, r) => n + r.requests.total, 0);
  const walSyncs = opts.db === "postgres" ? ((await postgresWalSyncs()) - walBefore) / (total || 1) : undefined;
  const ok = runs.reduce((n, r) => n + r["2xx"], 0);
  if (ok < total) {
    const codes: Record<string, number> = {};
    for (const r of runs) for (const [code, stat] of Object.entries(r.statusCodeStats ?? {})) codes[code] = (codes[code] ?? 0) + (stat.count ?? 0);
    process.stderr.write(`  answers other than 2xx in the change mix: ${JSON.stringify(codes)}\n`);
  }
  const queries = after.reduce((sum, q, i) => sum + q - (before[i] ?? 0), 0);
  if (process.env.BENCH_MIX_TRACE) traceAnswers(`${process.env.BENCH_MIX_TRACE}${spare ? ".during-reads" : ""}`, answers);
  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  return {
    name: `changes: start/extend/end, 8 clients${api.instances.length > 1 ? `, ${api.instances.length} instances` : ""}`,
    rps: total / opts.seconds,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    worstClientP99: Math.max(...runs.map((r) => r.latency.p99)),
    queries: queries / total,
    cpu: (cpuAfter - cpuBefore) / total,
    dbCpu: opts.db === "postgres" ? dbCpu : undefined,
    walSyncs,
    ok: total ? ok / total : 0,
  };
}

/** Ends what a stopped mix left open (a start answered, its end never sent), so the next mix's
 * first start is not a 409. */
async function endMixSessions(api: ApiCluster, board: Board): Promise<void> {
  await sleep(200);
  const url = api.instances[0]!.url;
  for (const w of board.writers) {
    const open = await call<{ id: string }[]>(url, { cookie: w.cookie }, "GET", `/api/sessions?active=true&mine=true&serviceId=${w.serviceId}`);
    for (const s of open) await call(url, { cookie: w.cookie }, "DELETE", `/api/sessions/${s.id}`);
  }
}

/**
 * A board in use: the member's `GET /api/services` at full load while the 8 writers run their
 * mix. Every change must reach the cached board without sending the reads back to the database.
 */
async function readsDuringChanges(api: ApiCluster, board: Board, opts: Options, hello: { url: string }): Promise<Row[]> {
  const base = api.instances[0]!.url;
  const neighbour = await neighbourOf(hello, opts);
  const [read, mix] = await Promise.all([load(`${base}/api/services`, opts, { headers: { cookie: board.member.cookie } }, 200), changes(api, board, opts, true)]);
  // The server's CPU and statements are those of both loads at once: not shown per request.
  return [
    { name: "GET /api/services (cookie) during the change mix", ...read, queries: NaN, baseline: neighbour.rps },
    { ...mix, name: `${mix.name}, during those reads`, cpu: undefined, dbCpu: undefined, walSyncs: undefined, queries: NaN },
  ];
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const behind = opts.gateways ? "; every service behind a gateway agent (dry-run driver)" : "";
  process.stdout.write(`API benchmark: ${opts.db}, ${opts.seconds} s per row, ${opts.connections} connections${behind}; ${machine()}\n`);
  process.stdout.write("  plain Fastify hello…\n");
  const helloServer = await startHello();
  const hello = await baseline(helloServer, opts);
  const helloPost = await baseline(helloServer, opts, true);
  const api = await startApi(opts.db, opts.instances);
  let rows: Row[] = [];
  let mix: Row | undefined;
  let chain = "";
  let intact: boolean | undefined;
  let rss = 0;
  let agent: RunningAgent | undefined;
  try {
    const board = await seed(api);
    if (opts.gateways) agent = await startDryRunAgent(api, board.serviceIds);
    if (opts.only !== "changes") rows = await reads(api, board, opts, helloServer);
    if (opts.only !== "reads") {
      // Unmeasured first, as each read row has its burst: V8 optimises the change's path (the
      // first seconds of a cold change mix cost about twice the CPU per change of the rest).
      process.stdout.write("  change mix (warm-up)…\n");
      await changes(api, board, { ...opts, seconds: Math.max(3, Math.round(opts.seconds / 2)) });
      await endMixSessions(api, board);
      process.stdout.write("  change mix…\n");
      rows.push((mix = await changes(api, board, opts)));
      process.stdout.write("  reads during the change mix…\n");
      rows.push(...(await readsDuringChanges(api, board, opts, helloServer)));
    }
    const verifyStart = performance.now();
    const verify = await call<{ intact: boolean; checked: number }>(api.instances[0]!.url, { cookie: api.cookie }, "GET", "/api/audit/verify");
    const verifyMs = performance.now() - verifyStart;
    intact = verify.intact;
    chain = `audit chain after the run: ${verify.checked} events, ${verify.intact ? "intact" : "BROKEN"} (GET /api/audit/verify: ${verifyMs.toFixed(0)} ms)`;
    await sleep(200);
    rss = Math.max(...api.instances.map((i) => rssMb(i.pid)));
  } finally {
    agent?.stop();
    await api.stop();
    helloServer.stop();
  }
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const pct = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : "–");
  // Paired rows: the median of their rounds' ratios; a row with a neighbour: against it; the
  // change mix: against the hello row above (how much of this machine's speed a change takes).
  const ratioOf = (r: Row) => r.ratio ?? (r.baseline ? r.rps / r.baseline : r === hello || r === helloPost ? undefined : r.rps / hello.rps);
  process.stdout.write(
    `\n| ${opts.db} | req/s | p50 ms | p99 ms | × plain Fastify | server CPU ms/req | plain Fastify CPU ms/req | queries/req | expected status |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n`,
  );
  for (const r of [hello, helloPost, ...rows]) {
    process.stdout.write(
      `| ${r.name} | ${f(r.rps, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${pct(ratioOf(r))} | ${f(r.cpu ?? NaN, 3)} | ${f(r.baselineCpu ?? NaN, 3)} | ${f(r.queries, 2)} | ${(r.ok * 100).toFixed(1)} % |\n`,
    );
  }
  const paired = rows.filter((r) => r.ratio !== undefined);
  const readRows = paired.filter((r) => !r.refusal);
  const refusals = paired.filter((r) => r.refusal);
  const range = (values: number[], d: number, unit = "") => (values.length ? `${f(Math.min(...values), d)}–${f(Math.max(...values), d)}${unit}` : "–");
  if (readRows.length) {
    process.stdout.write(
      `\nReads (median of ${opts.rounds} paired rounds each): ${range(readRows.map((r) => r.ratio! * 100), 1, " %")} of plain Fastify, ` +
        `p99 ≤ ${f(Math.max(...readRows.map((r) => r.p99)), 0)} ms, ${range(readRows.map((r) => r.cpu!), 3)} ms of CPU.`,
    );
    const large = readRows.filter((r) => r.vsSameBytes !== undefined);
    if (large.length) {
      process.stdout.write(
        `\nAgainst plain Fastify sending as many bytes: ${large.map((r) => `${r.name} (${f(r.bytes! / 1024, 1)} KB) ${pct(r.vsSameBytes)}`).join(", ")}.`,
      );
    }
  }
  if (refusals.length) {
    // "404 GET", "409 POST": the status and the method, and the row's parenthesis where two
    // refusals share those ("401 GET (stale login cookie)").
    const shortLabel = (r: Row) => r.name.split(" ").slice(0, 2).join(" ");
    const refusalLabel = (r: Row) =>
      refusals.filter((o) => shortLabel(o) === shortLabel(r)).length > 1 ? `${shortLabel(r)} ${/\(.*\)$/.exec(r.name)?.[0] ?? ""}`.trim() : shortLabel(r);
    // What Postern adds to plain Fastify answering the same method (a POST's body is Node's cost).
    const own = (r: Row) => r.cpu! - r.baselineCpu!;
    process.stdout.write(
      `\nRefusals, CPU × a cached read's (GET /api/services, cookie) in the same rounds: ${refusals.map((r) => `${refusalLabel(r)} ${f(r.vsRead!, 2)} ×`).join(", ")}.` +
        `\nCPU above plain Fastify's for the same method: ${readRows.length ? `reads ${range(readRows.map(own), 3)} ms, ` : ""}${refusals.map((r) => `${refusalLabel(r)} ${f(own(r), 3)}`).join(", ")} ms.`,
    );
    // The floor under a refusal that needs the body (400, 409): before any code of Postern's runs,
    // a small JSON body costs Node and Fastify this much over a GET.
    // From the neighbours of the paired rounds, spread over the whole run, where there are both
    // kinds: the opening rows are one burst each, and this machine's speed drifts within minutes.
    const neighbourCpu = (post: boolean) => paired.filter((r) => !!r.post === post && r.baselineCpu).map((r) => r.baselineCpu!);
    const [postCpu, getCpu] = [neighbourCpu(true), neighbourCpu(false)];
    const [postFloor, getFloor, where] =
      postCpu.length && getCpu.length ? [median(postCpu), median(getCpu), "the paired rounds' neighbours, median"] : [helloPost.cpu ?? NaN, hello.cpu ?? NaN, "the opening rows"];
    if (refusals.some((r) => r.post) && Number.isFinite(postFloor / getFloor)) {
      process.stdout.write(
        `\nA JSON body's own cost, plain Fastify (${where}): POST ${f(postFloor, 3)} ms against GET ${f(getFloor, 3)} ms (${f(postFloor / getFloor, 2)} ×).`,
      );
    }
  }
  for (const r of rows.filter((r) => r.worstClientP99 !== undefined)) {
    process.stdout.write(`\n${r.name}: p50 ${f(r.p50)} / p99 ${f(r.p99)} ms over every change; the slowest client's own p99 ${f(r.worstClientP99!)} ms.`);
  }
  const db = rows.find((r) => r.dbCpu !== undefined);
  if (db?.dbCpu !== undefined) process.stdout.write(`\nPostgreSQL's own CPU in the change mix: ${f(db.dbCpu, 3)} ms per change (all its processes).`);
  if (db?.walSyncs !== undefined) process.stdout.write(`\nPostgreSQL's WAL flushes in the change mix: ${f(db.walSyncs, 2)} per change (pg_stat_wal, the whole server).`);
  process.stdout.write(`\nServer RSS after the run: ${rss.toFixed(0)} MB. ${chain}.\n`);
  printVerdicts(verdicts(opts, readRows, refusals, mix, intact));
}

/** The issue's targets for reads, refusals and the change mix, judged on this run's rows. */
function verdicts(opts: Options, readRows: Row[], refusals: Row[], mix: Row | undefined, intact: boolean | undefined): Verdict[] {
  const out: Verdict[] = [];
  const slowest = lowest(readRows, (r) => r.ratio!);
  if (slowest) {
    out.push({ target: "reads ≥ 40 % of plain Fastify's req/s", held: slowest.ratio! >= 0.4, measured: `lowest ${slowest.name} ${(slowest.ratio! * 100).toFixed(1)} %` });
    const p99 = Math.max(...readRows.map((r) => r.p99));
    out.push({ target: "reads p99 < 20 ms at 32 connections", held: p99 < 20, measured: `highest ${p99.toFixed(0)} ms` });
  }
  if (refusals.length) {
    // Judged as printed: 1.004 × a read is "1.00 ×", which holds.
    const over = refusals.filter((r) => Math.round(r.vsRead! * 100) > 100);
    out.push({
      target: "a refused request costs no more than a read (CPU)",
      held: over.length === 0,
      measured: over.length ? over.map((r) => `${r.name} ${r.vsRead!.toFixed(2)} ×`).join(", ") : `at most ${Math.max(...refusals.map((r) => r.vsRead!)).toFixed(2)} ×`,
    });
  }
  if (mix) {
    const floor = opts.db === "sqlite" ? 1000 : 600;
    const where = opts.db === "sqlite" ? "on SQLite" : "on PostgreSQL across two instances";
    // The PostgreSQL target is for two instances: a run on one cannot meet it.
    const instances = opts.db === "postgres" && opts.instances !== 2 ? ` (this run: ${opts.instances} instance${opts.instances === 1 ? "" : "s"}; the target is for two)` : "";
    out.push({
      target: `changes ≥ ${floor.toLocaleString("en")}/s ${where}, p99 < 25 ms`,
      held: mix.rps >= floor && mix.p99 < 25 && instances === "",
      measured: `${Math.round(mix.rps).toLocaleString("en")}/s, p99 ${mix.p99.toFixed(1)} ms${instances}`,
    });
  }
  if (intact !== undefined) out.push({ target: "every change audited and hash-chained", held: intact, measured: intact ? "the chain verified intact" : "the chain is BROKEN" });
  return out;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
