// Ended sessions, audit events and relayed messages seeded straight into a benchmark's database:
// the history a board in use for months keeps. The benchmarks otherwise start on empty tables,
// where a statement that reads every row ever kept costs next to nothing; with a history it costs
// what it would in use.
import { apiRequire, call, type ApiCluster, type BenchDb, type PgModule } from "./api-process";

interface Database {
  run(sql: string): Promise<void>;
  close(): Promise<void>;
}

async function open(db: BenchDb, url: string): Promise<Database> {
  if (db === "postgres") {
    const pg = apiRequire("pg") as PgModule;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return { run: async (sql) => void (await client.query(sql)), close: () => client.end() };
  }
  // The server has the file open too: WAL lets both in, and it is idle while this writes.
  type Sqlite = { exec(sql: string): void; close(): void; pragma(p: string): unknown };
  const Better = apiRequire("better-sqlite3") as new (file: string) => Sqlite;
  const file = new Better(url.replace(/^file:/, ""));
  file.pragma("busy_timeout = 10000");
  return { run: async (sql) => file.exec(sql), close: async () => file.close() };
}

const quoted = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** `n.i` minutes before `from` (a column, or now when null), plus `seconds`: a time written as
 * each database stores it (SQLite: ISO 8601 with an explicit offset, as Prisma's adapter does). */
function minutesBack(db: BenchDb, from: string | null, seconds = 0): string {
  if (db === "postgres") return `${from ?? "now()::timestamp(3)"} - n.i * INTERVAL '1 minute' + INTERVAL '${seconds} second'`;
  return `strftime('%Y-%m-%dT%H:%M:%f+00:00', ${from ?? "'now'"}, '-' || n.i || ' minutes', '+${seconds} seconds')`;
}

/**
 * Runs `insert` (numbered rows `n.i` from 1 to `count`, with `more` common table expressions
 * after `n`) on the database, then on PostgreSQL refreshes `table`'s statistics, as autovacuum
 * would have by then; SQLite's planner runs without any, as Postern never runs ANALYZE there.
 */
async function seed(db: BenchDb, url: string, table: string, count: number, insert: string, more = ""): Promise<void> {
  const database = await open(db, url);
  try {
    // A recursive count: the same statement on both databases.
    await database.run(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${Math.floor(count)})${more} ${insert}`);
    if (db === "postgres") await database.run(`ANALYZE "${table}"`);
  } finally {
    await database.close();
  }
}

/**
 * Adds `count` ended sessions on `serviceId`, held in turn by `users` new users (made through the
 * API) and the first admin, each a copy of one real start and end (so its dates are stored as the
 * server stores them) under a new id and moved back by a minute per copy. Returns the time it
 * took, in seconds.
 */
export async function seedHistory(db: BenchDb, cluster: ApiCluster, serviceId: string, count: number, users = 20): Promise<number> {
  const started = performance.now();
  const url = cluster.instances[0]!.url;
  const admin = { cookie: cluster.cookie };
  const holders = [(await call<{ user: { id: string } }>(url, admin, "GET", "/api/me")).user.id];
  for (let i = 1; i < users; i++) {
    holders.push((await call(url, admin, "POST", "/api/users", { username: `history${i}`, password: `pw-history-${i}-long-enough` })).id);
  }
  const template = await call(url, admin, "POST", `/api/services/${serviceId}/sessions`, { durationSeconds: 600 });
  await call(url, admin, "DELETE", `/api/sessions/${template.id}`);
  // The i-th copy a minute before the one after it: a history whose sessions were asked for one
  // at a time, as a list sorted by the time of the request finds them.
  const earlier = (column: string) => minutesBack(db, `t."${column}"`);
  await seed(
    db,
    cluster.databaseUrl,
    "AccessSession",
    count,
    `INSERT INTO "AccessSession" ("id", "serviceId", "userId", "status", "durationSeconds", "requestedAt", "startedAt", "expiresAt", "endedAt", "endedById")
     SELECT 'history-' || n.i, t."serviceId", h.id, t."status", t."durationSeconds", ${earlier("requestedAt")}, ${earlier("startedAt")}, ${earlier("expiresAt")}, ${earlier("endedAt")}, h.id
       FROM n JOIN holders h ON h.k = n.i % ${holders.length} JOIN "AccessSession" t ON t."id" = ${quoted(template.id)}`,
    `, holders(k, id) AS (VALUES ${holders.map((id, k) => `(${k}, ${quoted(id)})`).join(", ")})`,
  );
  return (performance.now() - started) / 1000;
}

/**
 * Adds `count` audit events about `serviceId`, made in turn by the users the history's holders are
 * (by id and username) and, one in a thousand, a monitor's API token relaying an alert: starts,
 * extensions and ends a minute apart, older than every real event. They go below the chain, at
 * negative `seq`, so the running servers' chain head (kept in memory) stays the newest event; the
 * chain's own check starts above them. Returns the time it took, in seconds.
 */
export async function seedAuditTrail(db: BenchDb, cluster: ApiCluster, serviceId: string, count: number): Promise<number> {
  const started = performance.now();
  const url = cluster.instances[0]!.url;
  const users = await call<{ id: string; username: string }[]>(url, { cookie: cluster.cookie }, "GET", "/api/users");
  await seed(
    db,
    cluster.databaseUrl,
    "AuditEvent",
    count,
    `INSERT INTO "AuditEvent" ("id", "seq", "at", "actorId", "actorUsername", "action", "serviceId", "prevHash", "hash")
     SELECT 'audit-history-' || n.i, -n.i, ${minutesBack(db, null)},
       CASE WHEN n.i % 1000 = 0 THEN NULL ELSE a.id END,
       CASE WHEN n.i % 1000 = 0 THEN 'token:monitor' ELSE a.username END,
       CASE WHEN n.i % 1000 = 0 THEN 'relay.sent' WHEN n.i % 3 = 0 THEN 'session.started' WHEN n.i % 3 = 1 THEN 'session.extended' ELSE 'session.ended' END,
       CASE WHEN n.i % 1000 = 0 THEN NULL ELSE ${quoted(serviceId)} END,
       'seeded', 'seeded'
       FROM n JOIN actors a ON a.k = n.i % ${users.length}`,
    `, actors(k, id, username) AS (VALUES ${users.map((u, k) => `(${k}, ${quoted(u.id)}, ${quoted(u.username)})`).join(", ")})`,
  );
  return (performance.now() - started) / 1000;
}

/**
 * Adds `count` relayed messages, a minute apart and older than any real one: all sent but one in
 * a thousand, which failed, as a monitor relaying alerts for months leaves them. Returns the time
 * it took, in seconds.
 */
export async function seedMessages(db: BenchDb, cluster: ApiCluster, count: number): Promise<number> {
  const started = performance.now();
  await seed(
    db,
    cluster.databaseUrl,
    "Message",
    count,
    `INSERT INTO "Message" ("id", "subject", "message", "severity", "status", "attempts", "createdAt", "nextAttemptAt", "sentAt")
     SELECT 'message-history-' || n.i, 'disk almost full', 'disk /var at 91 % on host ' || (n.i % 40), 'warning',
       CASE WHEN n.i % 1000 = 0 THEN 'failed' ELSE 'sent' END, 1, ${minutesBack(db, null)}, ${minutesBack(db, null)},
       CASE WHEN n.i % 1000 = 0 THEN NULL ELSE ${minutesBack(db, null, 1)} END
       FROM n`,
  );
  return (performance.now() - started) / 1000;
}
