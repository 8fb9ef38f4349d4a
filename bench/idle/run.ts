// The first click after a quiet spell: a small team's board is idle most of the time, and a start
// or an end usually comes after minutes of nothing. Each request here follows `--quiet` seconds
// without any, on a fresh connection (as a browser's after its idle connection closed); the
// baseline is plain Fastify's hello after the same quiet, in the same run, alternating with them.
//
//   pnpm bench:idle                        # SQLite, 12 s of quiet, 4 start / end pairs
//   pnpm bench:idle --db=postgres --quiet=30 --pairs=3
//
// A quiet spell costs every process something (CPU caches, a vCPU the hypervisor let go), and
// Postern more: what expired meanwhile is loaded again (a login kept in memory for 30 s, a
// database connection). The ratio to the baseline is the part that is Postern's.
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { call, dbOf, machine, numberOption, startApi, startHello, statsOf } from "../lib/api-process";

const argv = process.argv.slice(2);
const numberArg = (name: string, fallback: number) => numberOption(argv, name, fallback);
const db = dbOf(argv);
const quietMs = numberArg("quiet", 12) * 1000;
const pairs = numberArg("pairs", 4);
const WARM_PAIRS = 200;

/** One request on a connection of its own; its time as the client saw it, and its answer. */
function timed(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ ms: number; status: number; text: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? "GET", headers: init.headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

const hello = await startHello();
const api = await startApi(db);
try {
  const base = api.instances[0]!.url;
  const service = await call(base, { cookie: api.cookie }, "POST", "/api/services", { name: "Idle VPN", slug: "idle-vpn", kind: "vpn", maxDurationSeconds: 3600 });
  const headers = { cookie: api.cookie, "x-postern-csrf": "1" };
  const start = async () => {
    const res = await timed(`${base}/api/services/${service.id}/sessions`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ durationSeconds: 600 }) });
    if (res.status !== 201) throw new Error(`start: ${res.status} ${res.text}`);
    return { ms: res.ms, id: (JSON.parse(res.text) as { id: string }).id };
  };
  const end = async (id: string) => {
    const res = await timed(`${base}/api/sessions/${id}`, { method: "DELETE", headers });
    if (res.status !== 200) throw new Error(`end: ${res.status} ${res.text}`);
    return res.ms;
  };
  process.stdout.write(`bench:idle on ${db}, ${machine()}\n  warm-up: ${WARM_PAIRS} start / end pairs, back to back…\n`);
  for (let i = 0; i < WARM_PAIRS; i++) await end((await start()).id);
  for (let i = 0; i < WARM_PAIRS; i++) await timed(hello.url);

  const postern = { start: [] as number[], end: [] as number[] };
  const baseline: number[] = [];
  const quiet = async () => sleep(quietMs);
  for (let i = 0; i < pairs; i++) {
    process.stdout.write(`  pair ${i + 1} of ${pairs}: ${(quietMs / 1000) * 4} s…\n`);
    await quiet();
    const started = await start();
    postern.start.push(started.ms);
    await quiet();
    baseline.push((await timed(hello.url)).ms);
    await quiet();
    postern.end.push(await end(started.id));
    await quiet();
    baseline.push((await timed(hello.url)).ms);
  }
  const back = { start: [] as number[], end: [] as number[] };
  for (let i = 0; i < 50; i++) {
    const started = await start();
    back.start.push(started.ms);
    back.end.push(await end(started.id));
  }
  const p50 = (values: number[]) => statsOf(values).p50;
  const row = (name: string, after: number[], backToBack: number[]) =>
    `| ${name} | ${after.map((v) => v.toFixed(1)).join(" / ")} | ${p50(after).toFixed(1)} | ${(p50(after) / p50(baseline)).toFixed(1)} × | ${p50(backToBack).toFixed(1)} |\n`;
  process.stdout.write(
    `\nAfter ${quietMs / 1000} s of quiet, each on a new connection (ms as the client saw it):\n\n` +
      `| request | each | p50 | × plain Fastify's hello after the same quiet | p50 back to back |\n| --- | --- | ---: | ---: | ---: |\n` +
      row("start a session", postern.start, back.start) +
      row("end it", postern.end, back.end) +
      `| plain Fastify hello (baseline) | ${baseline.map((v) => v.toFixed(1)).join(" / ")} | ${p50(baseline).toFixed(1)} | 1 × | – |\n`,
  );
} finally {
  hello.stop();
  await api.stop();
}
