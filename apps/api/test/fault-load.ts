// Write load and its bookkeeping for the fault suite (faults/): writers that start, extend and
// end sessions and remember every change the server acknowledged (a 2xx), and the checks that
// each of them survived — in the tables, in the audit chain, and in the live log's replay.
import { openDatabase } from "@postern/db";
import { openLive } from "../src/modules/live/live.test-client";
import { postern } from "./cli";

export type Auth = { cookie: string };

export interface Ack {
  op: "start" | "extend" | "end";
  sessionId: string;
}

const EVENT_OF: Record<Ack["op"], string> = { start: "session.started", extend: "session.extended", end: "session.ended" };

async function call(url: string, auth: Auth, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { cookie: auth.cookie, "x-postern-csrf": "1" };
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

export async function createServices(url: string, auth: Auth, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const slug = `fault-${i}-${Math.random().toString(36).slice(2, 7)}`;
    const res = await call(url, auth, "POST", "/api/services", { name: slug, slug, kind: "other", maxDurationSeconds: 86_400 });
    if (res.status !== 201 && res.status !== 200) throw new Error(`creating a service: ${res.status} ${await res.text()}`);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

/** Writers, one per service, each looping start → extend → end until stopped. */
export class Writers {
  readonly acks: Ack[] = [];
  /** Status (or network error) → count, for the report. */
  readonly outcomes = new Map<string, number>();
  /** Bodies of every 503, to check they use the error envelope. */
  readonly unavailable: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private url: string,
    private readonly auth: Auth,
    services: string[],
  ) {
    this.loops = services.map((id) => this.loop(id));
  }

  /** Points the writers at a restarted server. */
  retarget(url: string): void {
    this.url = url;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private note(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  private async send(method: string, path: string, body?: unknown): Promise<{ status: number; json?: unknown }> {
    try {
      const res = await call(this.url, this.auth, method, path, body);
      const text = await res.text();
      this.note(String(res.status));
      if (res.status === 503) this.unavailable.push(text);
      return { status: res.status, json: res.ok && text ? (JSON.parse(text) as unknown) : undefined };
    } catch (err) {
      this.note((err as { cause?: { code?: string } }).cause?.code ?? "network");
      return { status: 0 };
    }
  }

  private async loop(serviceId: string): Promise<void> {
    let sessionId: string | undefined;
    while (this.running) {
      let down: boolean;
      if (!sessionId) {
        const r = await this.send("POST", `/api/services/${serviceId}/sessions`, { durationSeconds: 3600 });
        down = r.status === 0;
        if (r.status === 201 || r.status === 200) {
          sessionId = (r.json as { id: string }).id;
          this.acks.push({ op: "start", sessionId });
        }
      } else {
        const r = await this.send("POST", `/api/sessions/${sessionId}/extend`, { durationSeconds: 60 });
        if (r.status === 200) this.acks.push({ op: "extend", sessionId });
        const e = await this.send("DELETE", `/api/sessions/${sessionId}`);
        down = e.status === 0;
        if (e.status === 200) {
          this.acks.push({ op: "end", sessionId });
          sessionId = undefined;
        } else if (e.status === 409 || e.status === 404) sessionId = undefined;
      }
      // While the server is down (killed, restarting) retry without spinning.
      if (down) await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** What each acknowledged change should have left, per session: events of each type. */
function expectedCounts(acks: Ack[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of acks) {
    const key = `${a.sessionId} ${EVENT_OF[a.op]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Acknowledged changes absent from the audit table (a missing or short count per session and type). */
export async function missingFromDatabase(databaseUrl: string, acks: Ack[]): Promise<string[]> {
  const database = await openDatabase(databaseUrl);
  try {
    const sessionIds = [...new Set(acks.map((a) => a.sessionId))];
    const rows = await database.db.auditEvent.groupBy({
      by: ["sessionId", "action"],
      where: { sessionId: { in: sessionIds } },
      _count: { _all: true },
    });
    const have = new Map(rows.map((r) => [`${r.sessionId} ${r.action}`, r._count._all]));
    const sessions = new Map((await database.db.accessSession.findMany({ where: { id: { in: sessionIds } } })).map((s) => [s.id, s]));
    const missing: string[] = [];
    for (const [key, n] of expectedCounts(acks)) if ((have.get(key) ?? 0) < n) missing.push(`${key}: ${have.get(key) ?? 0} of ${n}`);
    for (const a of acks) if (!sessions.has(a.sessionId)) missing.push(`${a.sessionId}: no session row`);
    for (const a of acks) if (a.op === "end" && sessions.get(a.sessionId)?.status !== "ended") missing.push(`${a.sessionId}: not ended`);
    return missing;
  } finally {
    await database.close();
  }
}

/** The highest seq in the live log right now. */
export async function lastSeqOf(databaseUrl: string): Promise<number> {
  const database = await openDatabase(databaseUrl);
  try {
    const row = await database.db.liveEvent.findFirst({ orderBy: { seq: "desc" }, select: { seq: true } });
    return row?.seq ?? 0;
  } finally {
    await database.close();
  }
}

/** Acknowledged changes a client resuming with `?since=` does not get replayed. */
export async function missingFromReplay(url: string, auth: Auth, databaseUrl: string, since: number, acks: Ack[]): Promise<string[]> {
  const last = await lastSeqOf(databaseUrl);
  const client = await openLive(url, { cookie: auth.cookie }, since);
  try {
    await client.waitFor(
      (messages) => messages.some((m) => m.type === "snapshot") || client.lastSeq() >= last,
      `the replay up to seq ${last}`,
      30_000,
    );
    if (client.messages.some((m) => m.type === "snapshot")) return [`?since=${since} answered with a snapshot, not a replay`];
    const got = new Map<string, number>();
    for (const m of client.events()) {
      const session = (m.event as { session?: { id: string } }).session;
      if (!session) continue;
      const key = `${session.id} ${m.event.type}`;
      got.set(key, (got.get(key) ?? 0) + 1);
    }
    const missing: string[] = [];
    for (const [key, n] of expectedCounts(acks)) if ((got.get(key) ?? 0) < n) missing.push(`${key}: ${got.get(key) ?? 0} of ${n}`);
    return missing;
  } finally {
    await client.close();
  }
}

/** `postern audit verify` on the database: its one line, and whether it passed. */
export async function verifyAudit(databaseUrl: string, cwd: string): Promise<{ ok: boolean; line: string }> {
  const result = await postern(["audit", "verify"], { DATABASE_URL: databaseUrl, POSTERN_DATA_DIR: cwd }, cwd);
  return { ok: result.code === 0, line: (result.stdout + result.stderr).trim() };
}
