// Histories on a board that has been in use a while. Starts the real API on a fresh database,
// seeds ended sessions, audit events and relayed messages (bench/lib/history.ts), then asks for the
// lists the board itself does not answer (`GET /api/sessions` without active=true, or with a
// filter), for pages of the audit trail with its filters and for the relay's messages, one request
// at a time on one connection. Prints p50 / p99
// per list, the items it answered with, the statements each request sent, and the ratio of its
// p50 to the p50 of the board's own read (`GET /api/sessions?active=true`, from memory) measured
// in the same run.
//
//   pnpm bench:history                          # SQLite: 100,000 sessions, 200,000 events, 100,000 messages
//   pnpm bench:history --db=postgres            # PostgreSQL at 127.0.0.1:5432 (BENCH_PG_URL to change)
//   pnpm bench:history --history=300000 --events=1000000 --messages=0 --requests=100
//
// Each list is asked for `--warm` times before it is measured: PostgreSQL keeps the statements
// prepared and may switch a statement to a plan made without its values after its fifth run, so
// the figures are those of the plan a server settles on.
import { call, dbOf, login, machine, numberOption, percentile, queriesSent, startApi } from "../lib/api-process";
import { seedAuditTrail, seedHistory, seedMessages } from "../lib/history";

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => numberOption(argv, name, fallback);
const db = dbOf(argv);
const history = option("history", 100_000);
const events = option("events", 200_000);
const messages = option("messages", 100_000);
const requests = option("requests", 200);
const warm = option("warm", 20);

interface Row {
  list: string;
  p50: number;
  p99: number;
  items: number;
  statements: number;
}

const cluster = await startApi(db);
try {
  const url = cluster.instances[0]!.url;
  const admin = { cookie: cluster.cookie };
  const group = await call(url, admin, "POST", "/api/groups", { name: "operators" });
  const service = await call(url, admin, "POST", "/api/services", { name: "VPN", slug: "vpn", kind: "vpn", maxDurationSeconds: 7200, groupIds: [group.id] });
  // A second service the member may not see: their lists leave its sessions out.
  await call(url, admin, "POST", "/api/services", { name: "Lab", slug: "lab", kind: "web", maxDurationSeconds: 7200 });
  process.stdout.write(
    `Histories: ${machine()}, ${db}, ${history} ended sessions (--history), ${events} audit events (--events), ${messages} relayed messages (--messages), ${requests} requests a list after ${warm}\n`,
  );
  const seconds =
    (await seedHistory(db, cluster, service.id, history)) +
    (await seedAuditTrail(db, cluster, service.id, events)) +
    (await seedMessages(db, cluster, messages));
  process.stdout.write(`  seeded in ${seconds.toFixed(1)} s\n`);
  // One of the seeded holders, made a member of the service's group: a member with a history.
  const holders = await call<{ id: string; username: string }[]>(url, admin, "GET", "/api/users");
  const holder = holders.find((u) => u.username === "history1");
  if (!holder) throw new Error("the history seeder made no user history1");
  await call(url, admin, "POST", `/api/groups/${group.id}/members/${holder.id}`);
  const member = { cookie: await login(url, "history1", "pw-history-1-long-enough") };

  const measure = async (list: string, auth: { cookie: string }, path: string): Promise<Row> => {
    let items = 0;
    // A list of sessions, a page of the audit trail or of messages, or the relay's summary.
    const count = (answer: unknown[] | { items?: unknown[] }) => (Array.isArray(answer) ? answer.length : (answer.items?.length ?? 1));
    for (let i = 0; i < warm; i++) items = count(await call<unknown[] | { items?: unknown[] }>(url, auth, "GET", path));
    const before = await queriesSent(url);
    const ms: number[] = [];
    for (let i = 0; i < requests; i++) {
      const started = performance.now();
      await call(url, auth, "GET", path);
      ms.push(performance.now() - started);
    }
    // The /metrics request itself sends none.
    const statements = ((await queriesSent(url)) - before) / requests;
    ms.sort((a, b) => a - b);
    return { list, p50: percentile(ms, 50), p99: percentile(ms, 99), items, statements };
  };

  const rows: Row[] = [
    await measure("admin: the board (?active=true, memory)", admin, "/api/sessions?active=true"),
    await measure("admin: every session", admin, "/api/sessions"),
    await measure("admin: ended (?active=false)", admin, "/api/sessions?active=false"),
    await measure("admin: one service (?serviceId=)", admin, `/api/sessions?serviceId=${service.id}`),
    await measure("admin: one person (?userId=)", admin, `/api/sessions?userId=${holder.id}`),
    await measure("admin: own (?mine=true)", admin, "/api/sessions?mine=true"),
    await measure("admin: own open (?mine=true&active=true)", admin, "/api/sessions?mine=true&active=true"),
    await measure("admin: newest 20 (?limit=20)", admin, "/api/sessions?limit=20"),
    await measure("member: every session they may see", member, "/api/sessions"),
    await measure("member: ended", member, "/api/sessions?active=false"),
    await measure("member: own (?mine=true)", member, "/api/sessions?mine=true"),
    await measure("audit: newest page", admin, "/api/audit"),
    await measure("audit: a person (?actor=id)", admin, `/api/audit?actor=${holder.id}`),
    await measure("audit: a person (?actor=username)", admin, "/api/audit?actor=history1"),
    await measure("audit: a monitor's token, 1 in 1,000", admin, "/api/audit?actor=token:monitor"),
    await measure("audit: one service", admin, `/api/audit?serviceId=${service.id}`),
    await measure("audit: one action (session.ended)", admin, "/api/audit?action=session.ended"),
    await measure("audit: a prefix (session.)", admin, "/api/audit?action=session."),
    await measure("audit: a rare action (relay.sent)", admin, "/api/audit?action=relay.sent"),
    await measure("audit: a person's one action", admin, `/api/audit?actor=${holder.id}&action=session.ended`),
    await measure("relay: newest messages", admin, "/api/messages"),
    await measure("relay: the page after", admin, `/api/messages?cursor=${(await call<{ nextCursor: string }>(url, admin, "GET", "/api/messages")).nextCursor}`),
    await measure("relay: failed, 1 in 1,000", admin, "/api/messages?status=failed"),
    await measure("relay: the relay page's summary", admin, "/api/messages/status"),
  ];
  const board = rows[0]!.p50;
  process.stdout.write(`\n| list | items | p50 ms | p99 ms | × the board's read | statements |\n| --- | ---: | ---: | ---: | ---: | ---: |\n`);
  for (const r of rows) {
    process.stdout.write(`| ${r.list} | ${r.items} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.p50 / board).toFixed(1)} | ${r.statements.toFixed(1)} |\n`);
  }
  process.stdout.write(`\nOne request at a time from one client; each time includes parsing the answer.\n`);
} finally {
  await cluster.stop();
}
