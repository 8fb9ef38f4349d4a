// Starts, extends and ends decided from the board (sessions.guarded.ts). On PostgreSQL the change
// goes out whole behind `postern_board_guard`: no statement of it is waited for before the last.
// A board that is behind the database (rows changed here behind the API's back, so no change
// event tells it) must never decide: every answer below is the database's, on both providers.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ZErrorBody, ZSession, type TSession } from "@postern/contracts";
import type { SqlDatabase, SqlRunner } from "@postern/db";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { rowCounts } from "../../../test/counts";
import { providers } from "../../../test/databases";

vi.setConfig({ testTimeout: 60_000 });

interface Statement {
  /** `send` goes out without waiting; the others wait for their answer. */
  how: "send" | "wait" | "final";
  text: string;
}

/** Records what every write transaction of the app sends, through the real database. */
function recordTransactions(sql: SqlDatabase): Statement[][] {
  const transactions: Statement[][] = [];
  const real = sql.transaction.bind(sql);
  sql.transaction = (fn) =>
    real((runner) => {
      const sent: Statement[] = [];
      transactions.push(sent);
      const note = (how: Statement["how"], text: string) => sent.push({ how, text: text.replace(/\s+/g, " ") });
      const spy: SqlRunner = {
        all: (text, params) => (note("wait", text), runner.all(text, params)),
        get: (text, params) => (note("wait", text), runner.get(text, params)),
        run: (text, params) => (note("wait", text), runner.run(text, params)),
        script: (statements) => (statements.forEach((s) => note("wait", s)), runner.script(statements)),
        send: (text, params) => (note("send", text), runner.send(text, params)),
        final: (text, params) => (note("final", text), runner.final(text, params)),
      };
      return fn(spy);
    });
  return transactions;
}

const guarded = (t: Statement[]) => t.some((s) => s.text.includes("postern_board_guard"));
/** One round trip: everything sent, and only the last statement (with the COMMIT) waited for. */
const oneRoundTrip = (t: Statement[]) => t.every((s, i) => (i === t.length - 1 ? s.how === "final" : s.how === "send"));

describe.each(providers)("changes decided from the board on %s", (provider) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setUp() {
    t = await buildTestApp(provider);
    const group = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [group.id], maxDurationSeconds: 7200, defaultDurationSeconds: 600 });
    const member = await createUser(t.app, { groupIds: [group.id] });
    // The member's board is read once; from here on only change events move it.
    const board = await t.app.inject({ method: "GET", url: "/api/services", headers: member.headers });
    expect(board.statusCode).toBe(200);
    return { app: t, service, member, transactions: recordTransactions(t.app.ctx.sql) };
  }

  const inject = (app: TestApp, user: TestUser, method: "POST" | "DELETE", url: string, payload?: object) =>
    app.app.inject({ method, url, headers: user.headers, ...(payload ? { payload } : {}) });

  it("takes a start, an extend and an end the board shows in one round trip on PostgreSQL", async () => {
    const { app, service, member, transactions } = await setUp();
    const started = await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600 });
    expect(started.statusCode, started.body).toBe(201);
    const session = ZSession.parse(started.json());
    const extended = await inject(app, member, "POST", `/api/sessions/${session.id}/extend`, { durationSeconds: 300 });
    expect(extended.statusCode, extended.body).toBe(200);
    expect(ZSession.parse(extended.json()).expiresAt).toBe(new Date(Date.parse(session.expiresAt!) + 300_000).toISOString());
    const ended = await inject(app, member, "DELETE", `/api/sessions/${session.id}`);
    expect(ended.statusCode, ended.body).toBe(200);
    expect(ZSession.parse(ended.json()).status).toBe("ended");

    expect(transactions).toHaveLength(3);
    for (const sent of transactions) {
      expect(guarded(sent), JSON.stringify(sent)).toBe(provider === "postgres");
      if (provider === "postgres") expect(oneRoundTrip(sent), JSON.stringify(sent)).toBe(true);
    }
    const audit = await app.app.inject({ method: "GET", url: "/api/audit/verify", headers: (await createUser(app.app, { role: "admin" })).headers });
    expect(audit.json()).toMatchObject({ intact: true });
  });

  it("answers from the database when the service's maximum changed behind the board", async () => {
    const { app, service, member, transactions } = await setUp();
    await app.app.ctx.db.service.update({ where: { id: service.id }, data: { maxDurationSeconds: 900 } });
    const before = await rowCounts(app.app);
    const res = await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 1800 });
    expect(res.statusCode, res.body).toBe(400);
    expect(ZErrorBody.parse(res.json()).error.message).toContain("maximum of 900");
    expect(await rowCounts(app.app)).toEqual(before);
    if (provider === "postgres") expect(transactions.map(guarded)).toEqual([true, false]);
  });

  it("answers from the database when the caller holds a session the board does not show", async () => {
    const { app, service, member, transactions } = await setUp();
    const now = new Date();
    const hidden = await app.app.ctx.db.accessSession.create({
      data: { serviceId: service.id, userId: member.id, status: "active", durationSeconds: 600, requestedAt: now, startedAt: now, expiresAt: new Date(now.getTime() + 600_000) },
    });
    const res = await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600 });
    expect(res.statusCode, res.body).toBe(409);
    expect(ZErrorBody.parse(res.json()).error.details).toEqual({ sessionId: hidden.id });
    if (provider === "postgres") expect(transactions.map(guarded)).toEqual([true, false]);
  });

  it("answers 404 when the service left the caller's groups behind the board", async () => {
    const { app, service, member, transactions } = await setUp();
    const other = await createGroup(app.app);
    await app.app.ctx.db.serviceGroup.deleteMany({ where: { serviceId: service.id } });
    await app.app.ctx.db.serviceGroup.create({ data: { serviceId: service.id, groupId: other.id } });
    const before = await rowCounts(app.app);
    const res = await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600 });
    expect(res.statusCode, res.body).toBe(404);
    expect(await rowCounts(app.app)).toEqual(before);
    if (provider === "postgres") expect(transactions.map(guarded)).toEqual([true, false]);
  });

  it("extends from the session as the database holds it, not as the board shows it", async () => {
    const { app, service, member, transactions } = await setUp();
    const session = ZSession.parse((await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600 })).json());
    // Ten minutes more, written behind the board's back.
    const later = new Date(Date.parse(session.expiresAt!) + 600_000);
    await app.app.ctx.db.accessSession.update({ where: { id: session.id }, data: { expiresAt: later, durationSeconds: 1200 } });
    const res = await inject(app, member, "POST", `/api/sessions/${session.id}/extend`, { durationSeconds: 300 });
    expect(res.statusCode, res.body).toBe(200);
    const extended: TSession = ZSession.parse(res.json());
    expect(extended.expiresAt).toBe(new Date(later.getTime() + 300_000).toISOString());
    expect(extended.durationSeconds).toBe(1500);
    const row = await app.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } });
    expect(row.expiresAt?.toISOString()).toBe(extended.expiresAt);
    if (provider === "postgres") expect(transactions.map(guarded)).toEqual([true, true, false]);
  });

  it("refuses an extension into the holder's own booking made behind the board", async () => {
    const { app, service, member, transactions } = await setUp();
    const session = ZSession.parse((await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600 })).json());
    // A booking in 15 minutes, written behind the board's back: the board shows the holder alone.
    const startsAt = new Date(Date.parse(session.expiresAt!) + 300_000);
    await app.app.ctx.db.accessSession.create({
      data: {
        serviceId: service.id,
        userId: member.id,
        status: "scheduled",
        durationSeconds: 600,
        startsAt,
        expiresAt: new Date(startsAt.getTime() + 600_000),
        requestedAt: new Date(),
      },
    });
    const res = await inject(app, member, "POST", `/api/sessions/${session.id}/extend`, { durationSeconds: 600 });
    expect(res.statusCode, res.body).toBe(409);
    expect(ZErrorBody.parse(res.json()).error.message).toMatch(/already have an open \(scheduled\) session/);
    const row = await app.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: session.id } });
    expect(row.expiresAt?.toISOString()).toBe(session.expiresAt);
    // On PostgreSQL the guard found the booking the board did not show, and the locked way refused.
    if (provider === "postgres") expect(transactions.map(guarded)).toEqual([true, true, false]);
  });

  it("refuses an IPv6 start on a service bound to a gateway behind the board", async () => {
    const { app, service, member, transactions } = await setUp();
    // Bound on another instance a moment ago: this board still shows the service without a gateway.
    const agent = await app.app.ctx.db.agent.create({ data: { name: `edge-${service.id}` } });
    await app.app.ctx.db.service.update({
      where: { id: service.id },
      data: { gatewayAgentId: agent.id, gatewayPublicPort: 18300, gatewayLanHost: "10.9.0.2", gatewayLanPort: 80, gatewayProtocol: "tcp" },
    });
    const res = await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600, sourceIp: "2001:db8::9" });
    expect(res.statusCode, res.body).toBe(400);
    expect(ZErrorBody.parse(res.json()).error.message).toContain("body.sourceIp");
    expect(await app.app.ctx.db.accessSession.count({ where: { serviceId: service.id } })).toBe(0);
    // On PostgreSQL the guard found the binding the board did not show, and the locked way refused.
    if (provider === "postgres") expect(transactions.map(guarded)).toEqual([true, false]);
  });

  it("refuses to end a session that ended behind the board, and writes nothing", async () => {
    const { app, service, member, transactions } = await setUp();
    const session = ZSession.parse((await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600 })).json());
    await app.app.ctx.db.accessSession.update({ where: { id: session.id }, data: { status: "ended", endedAt: new Date() } });
    const before = await rowCounts(app.app);
    const res = await inject(app, member, "DELETE", `/api/sessions/${session.id}`);
    expect(res.statusCode, res.body).toBe(409);
    expect(ZErrorBody.parse(res.json()).error.message).toContain("already ended");
    expect(await rowCounts(app.app)).toEqual(before);
    if (provider === "postgres") expect(transactions.map(guarded)).toEqual([true, true, false]);
  });

  it("ends a session whose holder was renamed behind the board with the name the database holds", async () => {
    const { app, service, member } = await setUp();
    const session = ZSession.parse((await inject(app, member, "POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600 })).json());
    await app.app.ctx.db.user.update({ where: { id: member.id }, data: { displayName: "Renamed Behind" } });
    const res = await inject(app, member, "DELETE", `/api/sessions/${session.id}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(ZSession.parse(res.json()).user.displayName).toBe("Renamed Behind");
  });
});
