// Web app benchmark: what opening the board costs a browser. Starts the real API (`postern serve`,
// the compiled build, a temporary SQLite database, the built SPA), gives it the board of
// `bench:api` in size (20 services, 10 of them in use), and opens it in Debian's Chromium as a
// logged-in admin: a first visit (nothing cached) and the next visit of the same browser. For each
// it prints the requests that went over the network, the bytes they carried (as sent, and once
// decoded), and the time from the navigation until all 20 service cards are on the page, the
// median of several visits; and, apart, what the live stream sent until it was connected. Chromium's network emulation stands in for the links a remote
// teammate comes over (the ngrok tunnel from a phone); loopback is the machine alone.
//
// The baseline in the same run is the same server and the same browser, with the browser sending
// `Accept-Encoding: identity` and its cache turned off: every file as it is, every visit from
// scratch, as a server that neither compresses nor lets a browser keep anything would serve it.
//
//   pnpm bench:web                 # 5 visits of each kind per link
//   pnpm bench:web --visits=9
//   BENCH_PROFILE=/tmp/prof pnpm bench:web --visits=1   # the page's JavaScript, a CPU profile per visit
//
// Needs Chromium (`apt-get install chromium`; POSTERN_CHROMIUM for another binary).
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from "playwright-core";
import { call, ensureBuilt, machine, root, startApi, statsOf, type ApiCluster } from "../lib/api-process";

/** A link as Chromium emulates it: round-trip latency added to each request, and throughput. */
interface Link {
  name: string;
  latencyMs: number;
  /** Bytes per second; -1: not limited. */
  down: number;
  up: number;
}

const mbit = (n: number) => (n * 1e6) / 8;
const LINKS: Link[] = [
  { name: "loopback", latencyMs: 0, down: -1, up: -1 },
  { name: "20 Mbit/s, 40 ms", latencyMs: 40, down: mbit(20), up: mbit(5) },
  { name: "1.6 Mbit/s, 150 ms", latencyMs: 150, down: mbit(1.6), up: mbit(0.75) },
];

const SERVICES = 20;

interface Visit {
  ms: number;
  /** Requests answered over the network, not from the browser's cache. */
  requests: number;
  /** Bytes over the wire (headers included), and the bodies' bytes once decoded. */
  wire: number;
  decoded: number;
  /** What the live stream sent until it was connected (its snapshot, or a resume's ping). */
  live: number;
}

interface Row {
  link: string;
  kind: string;
  visits: Visit[];
}

function parseVisits(argv: string[]): number {
  const n = Number(argv.find((a) => a.startsWith("--visits="))?.split("=")[1] ?? 5);
  if (!Number.isInteger(n) || n < 1) throw new Error("--visits: a whole number of visits, at least 1");
  return n;
}

async function seed(api: ApiCluster): Promise<void> {
  const url = api.instances[0]!.url;
  const admin = { cookie: api.cookie };
  const group = await call(url, admin, "POST", "/api/groups", { name: "ops" });
  for (let i = 0; i < SERVICES; i++) {
    const service = await call(url, admin, "POST", "/api/services", {
      name: `Service ${i}`,
      slug: `service-${i}`,
      kind: i % 2 ? "vpn" : "web",
      description: `The ${i % 2 ? "VPN" : "web service"} number ${i}, as a team would describe it on the board.`,
      maxDurationSeconds: 24 * 3600,
      defaultDurationSeconds: 3600,
      groupIds: [group.id],
    });
    if (i % 2 === 0) await call(url, admin, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 12 * 3600 });
  }
}

/** Counts what reaches the page over the network, from Chromium's own network events. */
function meter(cdp: CDPSession): () => Omit<Visit, "ms" | "live"> {
  const cached = new Set<string>();
  const network = new Set<string>();
  let wire = 0;
  let decoded = 0;
  cdp.on("Network.requestServedFromCache", (e) => cached.add(e.requestId));
  cdp.on("Network.responseReceived", (e) => {
    if (!e.response.fromDiskCache && !e.response.fromPrefetchCache && !cached.has(e.requestId)) network.add(e.requestId);
  });
  cdp.on("Network.dataReceived", (e) => {
    if (network.has(e.requestId)) decoded += e.dataLength;
  });
  cdp.on("Network.loadingFinished", (e) => {
    if (network.has(e.requestId)) wire += e.encodedDataLength;
  });
  return () => ({ requests: network.size, wire, decoded });
}

/** BENCH_PROFILE=<dir>: the page's JavaScript during each visit, as a V8 CPU profile there (read
 * with bench/lib/profile-summary.mjs; the source maps are beside the scripts in apps/web/dist). */
async function profiled<T>(cdp: CDPSession, name: string, run: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return run();
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
  await cdp.send("Profiler.start");
  const result = await run();
  const { profile } = await cdp.send("Profiler.stop");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name.replace(/[^\w.-]+/g, "-")}.cpuprofile`), JSON.stringify(profile));
  return result;
}

let visits = 0;

/** Opens the board in `page` over `link`; resolves once every service card is there. */
async function visit(page: Page, url: string, link: Link, baseline: boolean): Promise<Visit> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  if (baseline) {
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    await cdp.send("Network.setExtraHTTPHeaders", { headers: { "Accept-Encoding": "identity" } });
  }
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: link.latencyMs,
    downloadThroughput: link.down,
    uploadThroughput: link.up,
  });
  const counted = meter(cdp);
  let live = 0;
  cdp.on("Network.webSocketFrameReceived", (e) => {
    live += Buffer.byteLength(e.response.payloadData);
  });
  visits += 1;
  const ms = await profiled(cdp, `web-${visits}-${link.name}${baseline ? "-baseline" : ""}`, async () => {
    const started = performance.now();
    await page.goto(url, { waitUntil: "commit" });
    await page.locator('[data-testid^="service-card-"]').nth(SERVICES - 1).waitFor({ timeout: 60_000 });
    return performance.now() - started;
  });
  // Late events of what was already on the page (the live stream's opening) are not the visit's.
  const result = { ms, ...counted() };
  // The live stream's opening, counted apart: sent once the page is up, it is not in the time.
  await page.locator('[data-live-state="connected"]').waitFor({ timeout: 60_000 });
  await cdp.detach();
  return { ...result, live };
}

async function measure(browser: Browser, api: ApiCluster, link: Link, visits: number): Promise<Row[]> {
  const url = api.instances[0]!.url;
  const [name = "", value = ""] = api.cookie.split("=", 2);
  const rows: Row[] = [
    { link: link.name, kind: "first visit", visits: [] },
    { link: link.name, kind: "next visit", visits: [] },
    { link: link.name, kind: "baseline: no compression, no cache", visits: [] },
  ];
  for (let i = 0; i < visits; i++) {
    // A fresh context is a browser with an empty cache; its second page is the next visit.
    const context: BrowserContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name, value, url }]);
    const first = await context.newPage();
    rows[0]!.visits.push(await visit(first, `${url}/`, link, false));
    await first.close();
    const next = await context.newPage();
    rows[1]!.visits.push(await visit(next, `${url}/`, link, false));
    await next.close();
    const bare = await context.newPage();
    rows[2]!.visits.push(await visit(bare, `${url}/`, link, true));
    await context.close();
  }
  return rows;
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);

function print(rows: Row[]): void {
  console.log(
    "| link | visit | time to the board, p50 (min–max) ms | × baseline | requests over the network by then | KB over the wire | KB decoded | bytes on the live stream's opening |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const link of LINKS) {
    const ofLink = rows.filter((r) => r.link === link.name);
    const baseline = statsOf(ofLink.find((r) => r.kind.startsWith("baseline"))!.visits.map((v) => v.ms)).p50;
    for (const row of ofLink) {
      const ms = row.visits.map((v) => v.ms).sort((a, b) => a - b);
      const p50 = statsOf(ms).p50;
      const last = row.visits.at(-1)!;
      console.log(
        `| ${row.link} | ${row.kind} | ${p50.toFixed(0)} (${ms[0]!.toFixed(0)}–${ms.at(-1)!.toFixed(0)}) | ${(p50 / baseline).toFixed(2)} | ${last.requests} | ${kb(last.wire)} | ${kb(last.decoded)} | ${last.live} |`,
      );
    }
  }
}

async function main() {
  const visits = parseVisits(process.argv.slice(2));
  await ensureBuilt(["web", "api"]);
  const api = await startApi("sqlite", 1, { POSTERN_WEB_DIR: path.join(root, "apps/web/dist") });
  const browser = await chromium.launch({
    executablePath: process.env.POSTERN_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  try {
    await seed(api);
    console.log(`\nmachine: ${machine()}; the board: ${SERVICES} services, ${SERVICES / 2} in use; ${visits} visits of each kind per link`);
    const rows: Row[] = [];
    for (const link of LINKS) {
      process.stderr.write(`  ${link.name}…\n`);
      rows.push(...(await measure(browser, api, link, visits)));
    }
    console.log("");
    print(rows);
  } finally {
    await browser.close();
    await api.stop();
  }
}

await main();
