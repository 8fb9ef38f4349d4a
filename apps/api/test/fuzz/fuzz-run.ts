// The fuzz loop: draws requests for every route from its contract (see json-schema-arbitrary.ts),
// sends them one at a time as each caller, and checks three things of every answer: no 5xx,
// every refusal in the `{ error: { code, message } }` envelope, and nothing written by a refusal
// (no audit event from the refused request's address, other than a failed password check).
import fc from "fast-check";
import { ZErrorBody } from "@postern/contracts";
import { verifyAuditChain } from "../../src/modules/audit/audit.service";
import { arbitraryOf, hostileString, hostileValue } from "./json-schema-arbitrary";

/** What a refused password check is meant to write: the audit trail of guessing. */
const PASSWORD_GUESSING_RECORD = new Set(["user.login_failed", "user.login_throttled"]);
import { readOperations, type FuzzWorld, type Operation, type Pool } from "./fuzz-world";

export interface FuzzOptions {
  requests: number;
  /** Stop early after this many milliseconds. */
  budgetMs?: number;
  seed: number;
  /** Percent of generated values replaced by hostile ones. */
  hostility?: number;
  /** Where a long run reports as it goes. */
  progress?: (line: string) => void;
}

export interface FuzzReport {
  requests: number;
  byStatus: Record<string, number>;
  serverErrors: number;
  /** 503s of `POST /api/tunnel/open`, whose ngrok is unreachable by design; not counted as 5xx. */
  tunnelUnavailable: number;
  /** What broke a rule (5xx, an answer outside the envelope, a write by a refusal), first ones. */
  failures: string[];
  failureCount: number;
  /** Routes and how many of their requests were answered 2xx (proof the generator gets through). */
  accepted: Record<string, number>;
  routes: number;
  /** Time spent answering, per route: where a long run goes. */
  msByRoute: Record<string, number>;
  chainIntact: boolean;
}

interface Planned {
  op: Operation;
  caller: string;
  params: Record<string, unknown>;
  query: Array<[string, unknown]>;
  body: unknown;
  bodyMode: "json" | "raw" | "none" | "csv";
  raw: string;
  extraHeaders: Record<string, string>;
}

/** Routes that end logins or change the caller's own password run as a disposable login. */
const DISPOSABLE = new Set(["POST /api/auth/logout", "POST /api/auth/logout-all", "POST /api/me/password"]);
/** Parameters that may only name what the fuzzer may lose (not its own users, group, service, tokens). */
function poolOf(op: Operation, param: string): { pool: Pool; victims: boolean } {
  const destructive = op.method === "DELETE" || (op.method !== "GET" && /^\/api\/users\//.test(op.path)) || /\/members\//.test(op.path);
  if (param === "userId" || /^\/api\/users\//.test(op.path)) return { pool: "users", victims: destructive };
  if (/^\/api\/groups\//.test(op.path) && param === "id") return { pool: "groups", victims: destructive };
  if (param === "serviceId" || /^\/api\/services\//.test(op.path)) return { pool: "services", victims: op.method === "DELETE" && /^\/api\/services\/:id$/.test(op.path) };
  if (param === "sessionId" || /^\/api\/sessions\//.test(op.path)) return { pool: "sessions", victims: false };
  if (/^\/api\/tokens\//.test(op.path)) return { pool: "tokens", victims: true };
  return { pool: "agents", victims: false };
}

function plan(world: FuzzWorld, ops: Operation[], hostility: number): fc.Arbitrary<Planned> {
  const source = { ids: () => world.allIds() };
  const perOp = ops.map((op) => {
    const params = Object.fromEntries(
      op.pathParams.map((name) => {
        const { pool, victims } = poolOf(op, name);
        const fromPool = fc.nat().map((n) => {
          const ids = world.ids(pool, victims);
          return ids.length > 0 ? ids[n % ids.length]! : "none";
        });
        return [name, fc.oneof({ weight: 85, arbitrary: fromPool }, { weight: 15, arbitrary: hostileString })];
      }),
    );
    const query = fc.tuple(
      ...op.query.map((q) => fc.option(arbitraryOf(q.schema, { source, hostility, key: q.name, depth: 1 }), { freq: q.required ? 20 : 2 }).map((v) => [q.name, v] as [string, unknown])),
    );
    const extraQuery = fc.option(fc.tuple(fc.constantFrom("extra", "since", "token", "a\u0000"), hostileString), { freq: 6 });
    const body = op.body ? arbitraryOf(op.body, { source, hostility, depth: 0 }) : fc.option(hostileValue, { freq: 3 });
    const basic = fc.oneof(
      fc.constant(`${world.member.username}:${world.member.password}`),
      fc.tuple(fc.oneof(fc.constantFrom(world.member.username, world.admin.username), hostileString), hostileString).map(([u, p]) => `${u}:${p}`),
    ).map((credentials) => ({ authorization: `Basic ${Buffer.from(credentials, "utf8").toString("base64")}` }));
    const junkHeaders = fc.oneof(
      { weight: 6, arbitrary: fc.constant({}) },
      { weight: op.path.includes("loginUser") || op.path.endsWith("/token") ? 12 : 1, arbitrary: basic },
      { weight: 1, arbitrary: hostileString.map((s) => ({ authorization: `Bearer ${s}` })) },
      { weight: 1, arbitrary: hostileString.map((s) => ({ "x-access-tokens": s })) },
      { weight: 1, arbitrary: hostileString.map((s) => ({ cookie: `postern_session=${s}` })) },
      { weight: 1, arbitrary: hostileString.map((s) => ({ "user-agent": s })) },
    );
    return fc.record({
      op: fc.constant(op),
      caller: fc.constantFrom(...Object.keys(world.callers)),
      params: fc.record(params),
      query: fc.tuple(query, extraQuery).map(([q, extra]) => (extra ? [...q, extra] : q)),
      body,
      bodyMode: fc.constantFrom<Planned["bodyMode"]>("json", "json", "json", "json", "json", "json", "raw", "none", ...(op.path === "/api/services/import" ? (["csv", "csv"] as const) : [])),
      raw: fc.constantFrom('{"a":', "[", "{}}", "\u0000", "null", '"x"', "1e999", "{".repeat(5000), JSON.stringify({ a: "\ud800" }).replace("\\ud800", "\\udc00")),
      extraHeaders: junkHeaders,
    });
  });
  return fc.oneof(...perOp);
}

/** A value as it would sit in a query string or path segment. */
function asText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? "";
}

function encode(text: string): string {
  // encodeURIComponent throws on lone surrogates; send their would-be bytes instead.
  try {
    return encodeURIComponent(text);
  } catch {
    return escape(text);
  }
}

function buildRequest(p: Planned) {
  const path = p.op.path.replace(/:(\w+)/g, (_m, name: string) => encode(asText(p.params[name])));
  const qs = p.query
    .filter(([, v]) => v !== null && v !== undefined)
    .flatMap(([k, v]) => (Array.isArray(v) && v.length < 4 ? v.map((x) => `${encode(k)}=${encode(asText(x))}`) : [`${encode(k)}=${encode(asText(v))}`]))
    .join("&");
  const url = qs ? `${path}?${qs}` : path;
  if (p.bodyMode === "none" || (p.body === null && p.bodyMode === "json" && p.op.method === "GET")) return { url, payload: undefined, contentType: undefined };
  if (p.bodyMode === "raw") return { url, payload: p.raw, contentType: "application/json" };
  if (p.bodyMode === "csv") return { url, payload: asText(p.body), contentType: "text/csv" };
  if (p.op.method === "GET" || p.op.method === "DELETE") return { url, payload: undefined, contentType: undefined };
  return { url, payload: JSON.stringify(p.body) ?? "null", contentType: "application/json" };
}

export async function runFuzz(world: FuzzWorld, options: FuzzOptions): Promise<FuzzReport> {
  const { app } = world;
  // Live and agent streams are websockets; `inject` cannot upgrade, the plain GET is still sent.
  const ops = await readOperations(app);
  const arbitrary = plan(world, ops, options.hostility ?? 15);
  const report: FuzzReport = { requests: 0, byStatus: {}, serverErrors: 0, tunnelUnavailable: 0, failures: [], failureCount: 0, accepted: {}, msByRoute: {}, routes: ops.length, chainIntact: false };
  const fail = (what: string) => {
    // A long run says what it found as it goes, not only at the end.
    if (options.progress && report.failureCount < 50) options.progress(`  found: ${what.slice(0, 600)}`);
    report.failureCount += 1;
    if (report.failures.length < 25) report.failures.push(what.slice(0, 600));
  };
  const started = Date.now();
  let seq = (await app.ctx.db.auditEvent.aggregate({ _max: { seq: true } }))._max.seq ?? 0;
  const refused = new Map<string, string>();
  const batch = 200;
  let round = 0;
  while (report.requests < options.requests && (options.budgetMs === undefined || Date.now() - started < options.budgetMs)) {
    const g0 = performance.now();
    const planned = fc.sample(arbitrary, { numRuns: Math.min(batch, options.requests - report.requests), seed: options.seed + round });
    report.msByRoute["(generating)"] = (report.msByRoute["(generating)"] ?? 0) + performance.now() - g0;
    round += 1;
    for (const p of planned) {
      report.requests += 1;
      const n = report.requests;
      // A distinct address per request: rate limits apply per address, and the audit rows a
      // request writes carry it.
      const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      const req = buildRequest(p);
      const b0 = performance.now();
      const caller = DISPOSABLE.has(`${p.op.method} ${p.op.path}`) && p.caller !== "anonymous" ? await world.disposableLogin() : world.callers[p.caller]!;
      const headers: Record<string, string> = { ...caller, ...p.extraHeaders };
      if (req.contentType) headers["content-type"] = req.contentType;
      const label = `${p.op.method} ${p.op.path}`;
      report.msByRoute["(building)"] = (report.msByRoute["(building)"] ?? 0) + performance.now() - b0;
      let res;
      const t0 = performance.now();
      try {
        res = await app.inject({ method: p.op.method as "GET", url: req.url, headers, payload: req.payload, remoteAddress: ip });
      } catch (err) {
        fail(`${label} as ${p.caller}: inject threw ${(err as Error).message} — ${req.url.slice(0, 200)}`);
        continue;
      }
      const status = res.statusCode;
      report.msByRoute[label] = (report.msByRoute[label] ?? 0) + performance.now() - t0;
      const klass = `${Math.floor(status / 100)}xx`;
      report.byStatus[klass] = (report.byStatus[klass] ?? 0) + 1;
      const describe = () => `${label} as ${p.caller} → ${status} ${res.body.slice(0, 200)} — url ${req.url.slice(0, 200)} body ${String(req.payload).slice(0, 200)}`;
      if (status === 503 && label === "POST /api/tunnel/open") {
        // ngrok's service is out of reach here (buildTestApp points it at a closed port): the
        // answer SPEC gives for a dependency that is down.
        report.tunnelUnavailable += 1;
      } else if (status >= 500) {
        report.serverErrors += 1;
        fail(`5xx: ${describe()}`);
      } else if (status >= 200 && status < 300) {
        report.accepted[label] = (report.accepted[label] ?? 0) + 1;
      }
      if (status >= 400) {
        const json = String(res.headers["content-type"] ?? "").startsWith("application/json");
        const parsed = json ? ZErrorBody.safeParse(safeJson(res.body)) : { success: false };
        if (!parsed.success) fail(`not in the error envelope: ${describe()}`);
      }
      // A refusal (4xx) writes nothing but the password-guessing record — a failed check, and the
      // start of a block (`user.login_throttled`, once per block); a 503 is a dependency that
      // failed while doing the work (an attempt to open the tunnel is audited as such).
      if (status >= 400 && status < 500) refused.set(ip, describe());
    }
    // Checked once per batch: every request had its own address, so an audit row names its request.
    const written = await app.ctx.db.auditEvent.findMany({ where: { seq: { gt: seq } }, select: { seq: true, sourceIp: true, action: true } });
    for (const e of written) {
      const what = e.sourceIp ? refused.get(e.sourceIp) : undefined;
      if (what && !PASSWORD_GUESSING_RECORD.has(e.action)) fail(`a refusal wrote ${e.action}: ${what}`);
    }
    seq = written.reduce((max, e) => Math.max(max, e.seq), seq);
    refused.clear();
    await world.refresh();
    if (options.progress && report.requests % 5_000 < batch) {
      options.progress(`${report.requests} requests, ${report.serverErrors} 5xx, ${report.failureCount} rule breaks, ${Math.round((Date.now() - started) / 1000)} s`);
    }
  }
  report.chainIntact = !(await verifyAuditChain(app.ctx)).firstBreak;
  return report;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Two lines a person reads after `pnpm fuzz`. */
export function summary(provider: string, r: FuzzReport): string {
  const statuses = Object.entries(r.byStatus).sort().map(([k, v]) => `${k} ${v}`).join(", ");
  return [
    `fuzz on ${provider}: ${r.requests} requests over ${r.routes} routes, ${r.serverErrors} 5xx (besides ${r.tunnelUnavailable} 503s of tunnel open: ngrok unreachable), ${r.failureCount} rule breaks (${statuses}); audit chain ${r.chainIntact ? "intact" : "BROKEN"}`,
    `  accepted (2xx) on ${Object.keys(r.accepted).length} routes: ${Object.entries(r.accepted).map(([k, v]) => `${k} ${v}`).join("; ")}`,
    `  slowest routes (s): ${Object.entries(r.msByRoute).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join("; ")}`,
    ...r.failures.map((f) => `  ${f}`),
  ].join("\n");
}
