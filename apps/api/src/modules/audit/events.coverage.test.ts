// Every route that changes state records its event: in the audit chain and, through the live log,
// on a connected admin's live stream. The test walks the app's route table (collected with an
// onRoute hook), calls each mutating route with valid input as an admin and checks that an event
// of the expected type was audited and reached the live client.
//
// When you add a mutating route, add it to `auditedRoutes` below: a route the table does not
// know fails this test by name, so no change goes unrecorded by accident.
import net from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZSession, type TDomainEventType } from "@postern/contracts";
import { openDatabase, type OpenDatabase } from "@postern/db";
import serviceApp from "../../app";
import { loadConfig } from "../../config";
import { BODY_LIMIT } from "../../server";
import { createApiToken } from "../tokens/tokens.service";
import { createGroup, createService, createUser, type TestUser } from "../../../test/app";
import { createTestDatabase, providers } from "../../../test/databases";
import { openLive, type LiveTestClient } from "../live/live.test-client";
import { verifyAuditChain } from "./audit.service";

interface Fixture {
  app: FastifyInstance;
  admin: TestUser;
}

interface Call {
  url: string;
  payload?: unknown;
  /** Added to (and overriding) the admin's login headers. */
  headers?: Record<string, string>;
}

interface Entry {
  /** The type of the event the call must record. */
  action: TDomainEventType;
  /** Builds what the call needs and says how to make it. */
  call(f: Fixture): Promise<Call>;
  /** The status the call answers when it is not a 2xx (a failure that is itself recorded). */
  expectStatus?: number;
}

async function startSession(f: Fixture, serviceOptions: Parameters<typeof createService>[1] = {}) {
  const service = await createService(f.app, serviceOptions);
  const res = await f.app.inject({
    method: "POST",
    url: `/api/services/${service.id}/sessions`,
    headers: f.admin.headers,
    payload: { durationSeconds: 600 },
  });
  return ZSession.parse(res.json());
}

async function pendingRequest(f: Fixture) {
  const group = await createGroup(f.app);
  const service = await createService(f.app, { requiresApproval: true, groupIds: [group.id] });
  const member = await createUser(f.app, { groupIds: [group.id] });
  const res = await f.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: member.headers, payload: {} });
  return ZSession.parse(res.json());
}

const basic = (u: TestUser) => ({ authorization: `Basic ${Buffer.from(`${u.username}:${u.password}`).toString("base64")}` });

/** Every mutating route, keyed `METHOD url`, and the event it must record. */
const auditedRoutes: Record<string, Entry> = {
  "POST /api/auth/login": {
    action: "user.login",
    call: async ({ admin }) => ({ url: "/api/auth/login", headers: {}, payload: { username: admin.username, password: admin.password } }),
  },
  "POST /api/auth/logout": {
    action: "user.logout",
    call: async ({ app }) => ({ url: "/api/auth/logout", headers: (await createUser(app, { role: "admin" })).headers }),
  },
  "POST /api/auth/logout-all": {
    action: "user.logout_all",
    call: async ({ app }) => ({ url: "/api/auth/logout-all", headers: (await createUser(app, { role: "admin" })).headers }),
  },
  "POST /api/auth/token": {
    action: "auth.token_issued",
    call: async ({ admin }) => ({ url: "/api/auth/token", headers: basic(admin) }),
  },
  "POST /api/loginUser": {
    action: "auth.token_issued",
    call: async ({ admin }) => ({ url: "/api/loginUser", headers: basic(admin) }),
  },
  "POST /api/users": {
    action: "user.created",
    call: async () => ({ url: "/api/users", payload: { username: `new-${Math.random().toString(36).slice(2, 8)}`, password: "long-enough-pw" } }),
  },
  "PATCH /api/users/:id": {
    action: "user.updated",
    call: async ({ app }) => ({ url: `/api/users/${(await createUser(app)).id}`, payload: { displayName: "Renamed" } }),
  },
  "DELETE /api/users/:id": {
    action: "user.deleted",
    call: async ({ app }) => ({ url: `/api/users/${(await createUser(app)).id}?reason=left` }),
  },
  "POST /api/me/password": {
    action: "user.password_changed",
    call: async ({ app }) => {
      const user = await createUser(app);
      return { url: "/api/me/password", headers: user.headers, payload: { currentPassword: user.password, newPassword: "a-brand-new-password" } };
    },
  },
  "POST /api/groups": {
    action: "group.created",
    call: async () => ({ url: "/api/groups", payload: { name: `g-${Math.random().toString(36).slice(2, 8)}` } }),
  },
  "PATCH /api/groups/:id": {
    action: "group.renamed",
    call: async ({ app }) => ({ url: `/api/groups/${(await createGroup(app)).id}`, payload: { name: `g-${Math.random().toString(36).slice(2, 8)}` } }),
  },
  "DELETE /api/groups/:id": {
    action: "group.deleted",
    call: async ({ app }) => ({ url: `/api/groups/${(await createGroup(app)).id}` }),
  },
  "POST /api/groups/:id/members/:userId": {
    action: "group.member_added",
    call: async ({ app }) => ({ url: `/api/groups/${(await createGroup(app)).id}/members/${(await createUser(app)).id}` }),
  },
  "DELETE /api/groups/:id/members/:userId": {
    action: "group.member_removed",
    call: async ({ app }) => {
      const group = await createGroup(app);
      const user = await createUser(app, { groupIds: [group.id] });
      return { url: `/api/groups/${group.id}/members/${user.id}` };
    },
  },
  "POST /api/services": {
    action: "service.created",
    call: async () => {
      const slug = `svc-${Math.random().toString(36).slice(2, 8)}`;
      return { url: "/api/services", payload: { name: slug, slug, kind: "web", maxDurationSeconds: 3600 } };
    },
  },
  "PATCH /api/services/:id": {
    action: "service.updated",
    call: async ({ app }) => ({ url: `/api/services/${(await createService(app)).id}`, payload: { description: "now described" } }),
  },
  "DELETE /api/services/:id": {
    action: "service.deleted",
    call: async ({ app }) => ({ url: `/api/services/${(await createService(app)).id}` }),
  },
  "POST /api/services/import": {
    action: "service.created",
    call: async () => ({
      url: "/api/services/import",
      headers: { "content-type": "text/csv" },
      payload: `vpn main ${Math.random().toString(36).slice(2, 8)};vpn sub 1\n`,
    }),
  },
  "POST /api/services/:id/sessions": {
    action: "session.started",
    call: async ({ app }) => ({ url: `/api/services/${(await createService(app)).id}/sessions`, payload: { durationSeconds: 600 } }),
  },
  "POST /api/sessions/:id/extend": {
    action: "session.extended",
    call: async (f) => ({ url: `/api/sessions/${(await startSession(f)).id}/extend`, payload: { durationSeconds: 600 } }),
  },
  "DELETE /api/sessions/:id": {
    action: "session.ended",
    call: async (f) => ({ url: `/api/sessions/${(await startSession(f)).id}` }),
  },
  "POST /api/sessions/:id/approve": {
    action: "session.approved",
    call: async (f) => ({ url: `/api/sessions/${(await pendingRequest(f)).id}/approve` }),
  },
  "POST /api/sessions/:id/deny": {
    action: "session.denied",
    call: async (f) => ({ url: `/api/sessions/${(await pendingRequest(f)).id}/deny` }),
  },
  "POST /api/services/:id/waitlist": {
    action: "session.waitlisted",
    call: async ({ app }) => ({ url: `/api/services/${(await createService(app, { exclusive: true })).id}/waitlist`, payload: {} }),
  },
  "DELETE /api/services/:id/waitlist": {
    action: "session.left_waitlist",
    call: async (f) => {
      const service = await createService(f.app, { exclusive: true });
      await f.app.inject({ method: "POST", url: `/api/services/${service.id}/waitlist`, headers: f.admin.headers, payload: {} });
      return { url: `/api/services/${service.id}/waitlist` };
    },
  },
  "POST /api/sessions/:id/accept": {
    action: "session.started",
    call: async (f) => {
      const service = await createService(f.app, { exclusive: true });
      const offer = await f.app.ctx.db.accessSession.create({
        data: { serviceId: service.id, userId: f.admin.id, status: "offered", durationSeconds: 600, offerExpiresAt: new Date(Date.now() + 600_000) },
      });
      return { url: `/api/sessions/${offer.id}/accept`, payload: {} };
    },
  },
  "POST /conn/req/:serviceId": {
    action: "session.started",
    call: async ({ app }) => ({ url: `/conn/req/${(await createService(app)).id}`, payload: {} }),
  },
  "POST /session/remove/:sessionId": {
    action: "session.ended",
    call: async (f) => ({ url: `/session/remove/${(await startSession(f)).id}` }),
  },
  "POST /api/messages": {
    action: "message.queued",
    call: async () => ({ url: "/api/messages", payload: { message: "disk full", severity: "warning" } }),
  },
  "POST /api/placeMessage": {
    action: "message.queued",
    call: async () => ({ url: "/api/placeMessage", payload: { message: "disk full" } }),
  },
  // Token routes (identity work): listed ahead so they are checked the moment they exist.
  "POST /api/tokens": {
    action: "token.created",
    call: async () => ({ url: "/api/tokens", payload: { name: "ci", scopes: ["sessions:read"] } }),
  },
  // ngrok's cloud is out of reach in tests (the tunnel dials a closed loopback port), so an open
  // fails with 503; the failure itself is the audited change, and closing the failed tunnel too.
  "POST /api/tunnel/open": {
    action: "tunnel.failed",
    expectStatus: 503,
    call: async () => ({ url: "/api/tunnel/open" }),
  },
  "POST /api/tunnel/close": {
    action: "tunnel.closed",
    call: async ({ app, admin }) => {
      await app.inject({ method: "POST", url: "/api/tunnel/open", headers: admin.headers });
      return { url: "/api/tunnel/close" };
    },
  },
  "DELETE /api/tokens/:id": {
    action: "token.revoked",
    call: async ({ app, admin }) => {
      const { row } = await createApiToken(app.ctx, { actor: null }, { name: "old", scopes: ["sessions:read"], userId: admin.id });
      return { url: `/api/tokens/${row.id}` };
    },
  },
};

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Every route once, each with real password hashing: long on a busy 2-core machine.
describe.each(providers)("every mutating route records its event (%s)", { timeout: 120_000 }, (provider) => {
  let app: FastifyInstance;
  let opened: OpenDatabase;
  let drop: () => Promise<void>;
  let live: LiveTestClient | undefined;
  const routes: string[] = [];

  beforeAll(async () => {
    const database = await createTestDatabase(provider);
    drop = database.drop;
    const config = loadConfig(
      {
        DATABASE_URL: database.url,
        POSTERN_SECRET: "test-secret-test-secret-test-secret-0123456789",
        POSTERN_LOG_LEVEL: "silent",
        POSTERN_WEB_DIR: "/nonexistent",
        // The relay must be on for its routes; nothing listens there, so nothing is sent.
        SMTP_URL: `smtp://127.0.0.1:${await deadPort()}`,
        POSTERN_MAIL_FROM: "postern@example.test",
        POSTERN_RELAY_TO: "ops@example.test",
        NGROK_AUTHTOKEN: "not-a-real-authtoken",
        POSTERN_NGROK_SERVER_ADDR: "127.0.0.1:9",
      },
      "/dev/null",
    );
    opened = await openDatabase(database.url, { poolSize: 4 });
    app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
    app.addHook("onRoute", (route) => {
      for (const method of [route.method].flat()) if (MUTATING.has(method)) routes.push(`${method} ${route.url}`);
    });
    await app.register(fp(serviceApp), { config, database: opened, secret: config.secret ?? "" });
    await app.ready();
  });
  afterAll(async () => {
    await live?.close();
    await app?.close();
    await opened?.close();
    await drop?.();
  });

  it("knows every mutating route", () => {
    expect(routes.length).toBeGreaterThan(10);
    const unknown = routes.filter((r) => !(r in auditedRoutes));
    expect(
      unknown,
      `mutating routes missing from auditedRoutes in ${import.meta.filename}: add each with the audit action it writes`,
    ).toEqual([]);
  });

  it("audits the expected event for each of them, and shows it on a live admin board", async () => {
    const admin = await createUser(app, { role: "admin" });
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    live = await openLive(base, admin.headers);
    await live.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
    const problems: string[] = [];
    for (const route of routes) {
      const entry = auditedRoutes[route];
      if (!entry) continue; // reported by the test above
      const [method] = route.split(" ") as ["POST" | "PUT" | "PATCH" | "DELETE"];
      const call = await entry.call({ app, admin });
      const before = (await app.ctx.db.auditEvent.aggregate({ _max: { seq: true } }))._max.seq ?? 0;
      const liveBefore = live.events().length;
      const res = await app.inject({
        method,
        url: call.url,
        headers: { ...admin.headers, ...call.headers },
        payload: call.payload as string | Record<string, unknown> | undefined,
      });
      if (entry.expectStatus ? res.statusCode !== entry.expectStatus : res.statusCode >= 300) {
        problems.push(`${route}: answered ${res.statusCode} ${res.body.slice(0, 200)}`);
        continue;
      }
      const actions = (await app.ctx.db.auditEvent.findMany({ where: { seq: { gt: before } }, select: { action: true } })).map((e) => e.action);
      if (!actions.includes(entry.action)) {
        problems.push(`${route}: expected an audit event ${entry.action}, got ${actions.length ? actions.join(", ") : "none"}`);
        continue;
      }
      const seen = () => live!.events().slice(liveBefore).some((m) => m.event.type === entry.action);
      await live.waitFor(() => seen(), `${entry.action} on the live stream`, 5000).catch(() => undefined);
      if (!seen()) problems.push(`${route}: ${entry.action} was audited but never reached the live admin board`);
    }
    expect(problems).toEqual([]);
    expect((await verifyAuditChain(app.ctx)).firstBreak).toBeUndefined();
  });
});
