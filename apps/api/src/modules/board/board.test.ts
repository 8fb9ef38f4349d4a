// The board in memory follows session events instead of being read again after each one: after
// every kind of session change (start, extend, end, waitlist and offer, approval, expiry) each
// class's cached board must answer exactly what a fresh read of the database would, and it must
// still be in memory, not dropped.
import zlib from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZSession, type TService, type TSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { ADMIN_CLASS, classOf, type VisibilityClass } from "../live/live.audience";
import { BoardCache } from "./board.cache";

describe.each(providers)("the board follows session events (%s)", { timeout: 60_000 }, (provider) => {
  let t: TestApp;
  let clock: TestClock;
  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_WAITLIST_OFFER_SECONDS: "300" } });
  });
  afterEach(async () => t.close());

  const call = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, user: TestUser, payload?: object) =>
    t.app.inject({ method, url, headers: user.headers, ...(payload ? { payload } : {}) });

  async function ok(method: "POST" | "DELETE", url: string, user: TestUser, payload?: object): Promise<TSession> {
    const res = await call(method, url, user, payload);
    expect(res.statusCode, res.body).toBeLessThan(300);
    return ZSession.parse(res.json());
  }

  /** What the cached routes answer for `user`, and what a board read afresh from the database holds for the class. */
  async function answers(user: TestUser, cls: VisibilityClass) {
    const services = (await call("GET", "/api/services", user)).json() as TService[];
    const sessions = (await call("GET", "/api/sessions?active=true", user)).json() as TSession[];
    const fresh = await new BoardCache(t.app.ctx).view(cls);
    return {
      cached: { services, sessions: byRequest(sessions) },
      fresh: { services: JSON.parse(fresh.servicesJson) as TService[], sessions: byRequest(JSON.parse(fresh.sessionsJson) as TSession[]) },
      inMemory: t.app.board.cache.peek(cls) !== undefined,
    };
  }

  /** Sessions asked for in the same millisecond may come in either order from a read; newest first otherwise. */
  const byRequest = (list: TSession[]) => {
    const sorted = [...list].sort((a, b) => (a.requestedAt === b.requestedAt ? a.id.localeCompare(b.id) : 0));
    expect(sorted.map((s) => s.requestedAt)).toEqual([...sorted.map((s) => s.requestedAt)].sort().reverse());
    return sorted;
  };

  it("answers what a fresh read would after every kind of session change, without reading again", async () => {
    const team = await createGroup(t.app);
    const others = await createGroup(t.app);
    const plain = await createService(t.app, { groupIds: [team.id], maxDurationSeconds: 7200 });
    const exclusive = await createService(t.app, { exclusive: true, groupIds: [team.id] });
    const approval = await createService(t.app, { requiresApproval: true, groupIds: [team.id] });
    const hidden = await createService(t.app, { groupIds: [others.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const alice = await createUser(t.app, { groupIds: [team.id] });
    const bob = await createUser(t.app, { groupIds: [team.id] });
    const carol = await createUser(t.app, { groupIds: [others.id] });
    const viewers: [TestUser, VisibilityClass][] = [
      [admin, ADMIN_CLASS],
      [alice, classOf({ admin: false, groupIds: [team.id] })],
      [carol, classOf({ admin: false, groupIds: [others.id] })],
    ];

    /** Every viewer's cached board matches a fresh read (once the session clock has done what the change set off). */
    const same = async (step: string) => {
      for (const [user, cls] of viewers) {
        await expect.poll(async () => {
          const { cached, fresh } = await answers(user, cls);
          return JSON.stringify(cached) === JSON.stringify(fresh);
        }, { timeout: 5000, interval: 50, message: `${step}: ${user.username}` }).toBe(true);
        const { cached, fresh, inMemory } = await answers(user, cls);
        expect(cached, step).toEqual(fresh);
        expect(inMemory, `${step}: ${user.username}'s board is still in memory`).toBe(true);
      }
    };
    await same("warm");
    const reads = t.app.board.cache.reads;

    const a = await ok("POST", `/api/services/${plain.id}/sessions`, alice, { durationSeconds: 600 });
    // The very next read has the change, with nothing in between to let a re-read happen.
    const right = (await call("GET", "/api/sessions?active=true", alice)).json() as TSession[];
    expect(right.map((s) => s.id)).toContain(a.id);
    await same("start");

    const held = await ok("POST", `/api/services/${exclusive.id}/sessions`, bob, { durationSeconds: 600 });
    await same("exclusive start (holder)");
    const waiting = await ok("POST", `/api/services/${exclusive.id}/waitlist`, alice, { durationSeconds: 900 });
    await same("waitlist");
    await ok("POST", `/api/sessions/${held.id}/extend`, bob, { durationSeconds: 300 });
    await same("extend");
    await ok("DELETE", `/api/sessions/${held.id}`, bob);
    await expect.poll(async () => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: waiting.id } })).status).toBe("offered");
    await same("end, offer to the next in line");
    await ok("POST", `/api/sessions/${waiting.id}/accept`, alice);
    await same("offer accepted");

    // Longer than the first start's 600 s, so that only it expires at the last step: one started
    // a few seconds after it would expire while the boards are compared, and the comparison could
    // catch the database flipped and the event not yet applied.
    const asked = await ok("POST", `/api/services/${approval.id}/sessions`, bob, { durationSeconds: 1200 });
    expect(asked.status).toBe("pending");
    await same("request");
    await ok("POST", `/api/sessions/${asked.id}/approve`, admin);
    await same("approval");

    await ok("POST", `/api/services/${hidden.id}/sessions`, carol, { durationSeconds: 1200 });
    await same("a start on another class's service");

    clock.advance(601_000);
    t.app.sessionClock.poke();
    await expect.poll(async () => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id: a.id } })).status).toBe("expired");
    await same("expiry");
    expect(t.app.board.cache.reads, "boards read again from the database").toBe(reads);
  });

  it("sends the board compressed to browsers that accept it, each version once, never an older one", async () => {
    const team = await createGroup(t.app);
    const services = [];
    for (let i = 0; i < 6; i++) services.push(await createService(t.app, { groupIds: [team.id] }));
    const alice = await createUser(t.app, { groupIds: [team.id] });
    const browser = { ...alice, headers: { ...alice.headers, "accept-encoding": "gzip, deflate, br, zstd" } };
    const decoded = (res: { headers: Record<string, unknown>; rawPayload: Buffer }) =>
      res.headers["content-encoding"] === "br" ? zlib.brotliDecompressSync(res.rawPayload) : zlib.gunzipSync(res.rawPayload);

    /** Each board read as a browser gets it matches what a script that asks for no encoding gets. */
    const same = async (step: string) => {
      for (const url of ["/api/services", "/api/sessions?active=true"]) {
        const plain = await call("GET", url, alice);
        expect(plain.headers["content-encoding"], `${step}: ${url}`).toBeUndefined();
        expect(plain.headers.vary, `${step}: ${url}`).toMatch(/accept-encoding/i);
        const br = await call("GET", url, browser);
        const gzip = await t.app.inject({ url, headers: { ...alice.headers, "accept-encoding": "gzip" } });
        for (const [res, encoding] of [[br, "br"], [gzip, "gzip"]] as const) {
          if (plain.rawPayload.length < 1024) {
            expect(res.headers["content-encoding"], `${step}: ${url} is small`).toBeUndefined();
            expect(res.body).toBe(plain.body);
            continue;
          }
          expect(res.headers["content-encoding"], `${step}: ${url}`).toBe(encoding);
          expect(res.headers.vary).toMatch(/accept-encoding/i);
          expect(Number(res.headers["content-length"])).toBe(res.rawPayload.length);
          expect(res.rawPayload.length, `${step}: ${url} ${encoding}`).toBeLessThan(plain.rawPayload.length / 3);
          expect(decoded(res).toString(), `${step}: ${url} ${encoding}`).toBe(plain.body);
        }
      }
    };
    await same("no sessions");
    // Compressed once per version: the same board again is sent from memory.
    const compress = vi.spyOn(zlib, "brotliCompressSync");
    try {
      for (let i = 0; i < 3; i++) expect((await call("GET", "/api/services", browser)).headers["content-encoding"]).toBe("br");
      expect(compress).not.toHaveBeenCalled();
    } finally {
      compress.mockRestore();
    }
    const started: TSession[] = [];
    for (const service of services) {
      started.push(await ok("POST", `/api/services/${service.id}/sessions`, alice, { durationSeconds: 600 }));
      await same(`${started.length} started`);
    }
    await ok("POST", `/api/sessions/${started[0]!.id}/extend`, alice, { durationSeconds: 300 });
    await same("extended");
    await ok("DELETE", `/api/sessions/${started[1]!.id}`, alice);
    await same("ended");
    // One service alone is small: sent as it is.
    const one = await call("GET", `/api/services/${services[0]!.id}`, browser);
    expect(one.headers["content-encoding"]).toBeUndefined();
  });

  it("stays true while many people start and end at once, across reads and drops", async () => {
    const team = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [team.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const users = await Promise.all(Array.from({ length: 8 }, () => createUser(t.app, { groupIds: [team.id] })));
    const cls = classOf({ admin: false, groupIds: [team.id] });
    await Promise.all([
      ...users.map(async (user) => {
        for (let i = 0; i < 6; i++) {
          const started = await ok("POST", `/api/services/${service.id}/sessions`, user, { durationSeconds: 600 });
          await ok("DELETE", `/api/sessions/${started.id}`, user);
        }
        await ok("POST", `/api/services/${service.id}/sessions`, user, { durationSeconds: 600 });
      }),
      // Boards dropped (an edit of the service) and read again while the changes stream in.
      (async () => {
        for (let i = 0; i < 6; i++) {
          expect((await t.app.inject({ method: "PATCH", url: `/api/services/${service.id}`, headers: admin.headers, payload: { description: `edit ${i}` } })).statusCode).toBe(200);
          await call("GET", "/api/sessions?active=true", users[0]!);
        }
      })(),
    ]);
    const { cached, fresh } = await answers(users[0]!, cls);
    expect(cached).toEqual(fresh);
    expect(cached.sessions).toHaveLength(users.length);
    expect(cached.services[0]?.activeSessions).toBe(users.length);
  });

  /** A member's class with one service, on which she has just started a session. */
  async function oneStarted() {
    const team = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [team.id] });
    const alice = await createUser(t.app, { groupIds: [team.id] });
    const started = await ok("POST", `/api/services/${service.id}/sessions`, alice, { durationSeconds: 600 });
    return { service, cls: classOf({ admin: false, groupIds: [team.id] }), started };
  }

  it("keeps an event that arrives after a later one of the same session from undoing it", async () => {
    const { service, cls, started } = await oneStarted();
    const cache = t.app.board.cache;
    await cache.view(cls);
    const ended = { ...started, status: "ended" as const, endedAt: new Date().toISOString() };
    // Another instance's start, read from the log after this process's own later end.
    cache.notice({ type: "session.ended", session: ended }, 1_000_001);
    cache.notice({ type: "session.started", session: started }, 1_000_000);
    const after = cache.peek(cls)!;
    expect(after.sessions.map((s) => s.id)).not.toContain(started.id);
    expect(after.byId.get(service.id)?.activeSessions).toBe(0);
  });

  it("remembers a service a read found unseen only until a change could show it, and not from a read that overlapped one", () => {
    const cache = new BoardCache(t.app.ctx);
    const team = classOf({ admin: false, groupIds: ["team"] });
    const others = classOf({ admin: false, groupIds: ["others"] });
    cache.unseenRecorder(team)("gone");
    expect(cache.isUnseen(team, "gone")).toBe(true);
    expect(cache.isUnseen(others, "gone")).toBe(false);
    // A session event shows no service that was not there.
    const session = { id: "s1", serviceId: "elsewhere" } as TSession;
    cache.notice({ type: "session.started", session }, 1);
    expect(cache.isUnseen(team, "gone")).toBe(true);
    // A read under way while a service changes may have seen the state before it.
    const overlapping = cache.unseenRecorder(team);
    cache.notice({ type: "service.deleted", id: "another" }, 2);
    expect(cache.isUnseen(team, "gone")).toBe(false);
    overlapping("hidden");
    expect(cache.isUnseen(team, "hidden")).toBe(false);
    cache.unseenRecorder(team)("hidden");
    expect(cache.isUnseen(team, "hidden")).toBe(true);
  });

  it("drops the boards once for this process's own change, heard at its commit", async () => {
    const { service, cls } = await oneStarted();
    const admin = await createUser(t.app, { role: "admin" });
    await t.app.board.cache.view(cls);
    const res = await call("PATCH", `/api/services/${service.id}`, admin, { name: "Renamed" });
    expect(res.statusCode, res.body).toBe(200);
    // Dropped before the edit answered; read again, then the dispatcher's pass must not drop it again.
    expect(t.app.board.cache.peek(cls)).toBeUndefined();
    const reads = t.app.board.cache.reads;
    await t.app.board.cache.view(cls);
    await t.app.changes.settled();
    expect(t.app.board.cache.peek(cls)).toBeDefined();
    expect(t.app.board.cache.reads).toBe(reads + 1);
  });

  it("remembers closed sessions until a change could delete them", async () => {
    const { cls, started } = await oneStarted();
    const cache = new BoardCache(t.app.ctx);
    await cache.view(cls);
    cache.notice({ type: "session.ended", session: { ...started, status: "ended" } }, 10);
    expect(cache.closedSession(started.id)).toEqual({ status: "ended", userId: started.userId, serviceId: started.serviceId });
    cache.notice({ type: "service.deleted", id: "elsewhere" }, 11);
    expect(cache.closedSession(started.id)).toBeUndefined();
    // A read that overlapped a drop remembers nothing; an open event forgets a session remembered missing.
    const overlapping = cache.closedRecorder();
    cache.notice({ type: "user.deleted", userId: "someone", username: "someone" }, 12);
    overlapping(started.id, { status: "ended", userId: started.userId, serviceId: started.serviceId });
    expect(cache.closedSession(started.id)).toBeUndefined();
    cache.closedRecorder()(started.id, null);
    expect(cache.closedSession(started.id)).toBeNull();
    cache.notice({ type: "session.started", session: started }, 13);
    expect(cache.closedSession(started.id)).toBeUndefined();
  });

  it("applies a session event noticed while the board is being read to what the read returns", async () => {
    const { service, cls, started } = await oneStarted();
    const cache = new BoardCache(t.app.ctx);
    const reading = cache.view(cls);
    // Noticed before the read has its rows: the read cannot hold this end (it is not even in the
    // database), yet the board it returns must.
    cache.notice({ type: "session.ended", session: { ...started, status: "ended", endedAt: new Date().toISOString() } }, 1_000_000);
    const view = await reading;
    expect(view.sessions.map((s) => s.id)).not.toContain(started.id);
    expect(view.byId.get(service.id)?.activeSessions).toBe(0);
    expect(cache.peek(cls)).toBe(view);
  });
});
