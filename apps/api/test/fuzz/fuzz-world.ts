// What the fuzzer works in: the app's routes read from its own OpenAPI document, the callers
// (anonymous, a member and an admin, each by cookie and CSRF header, Bearer token and
// `x-access-tokens`), and pools of the ids that exist, refreshed as the run creates and deletes.
// Requests that would end the fuzzer's own logins or users go to stand-ins instead.
import type { FastifyInstance } from "fastify";
import { LOGIN_SESSION_SECONDS } from "../../src/modules/auth/auth.service";
import { CSRF_HEADER, SESSION_COOKIE } from "../../src/plugins/auth";
import { createGroup, createService, createUser, type TestUser } from "../app";
import type { JsonSchema } from "./json-schema-arbitrary";

export interface Operation {
  method: string;
  /** The Fastify path, `/api/users/:id`. */
  path: string;
  pathParams: string[];
  query: Array<{ name: string; required: boolean; schema: JsonSchema }>;
  body?: JsonSchema;
}

/** Every route of the OpenAPI document, with its parameters and JSON body schema. */
export async function readOperations(app: FastifyInstance): Promise<Operation[]> {
  const doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json() as {
    paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; required?: boolean; schema: JsonSchema }>; requestBody?: { content?: Record<string, { schema: JsonSchema }> } }>>;
  };
  const ops: Operation[] = [];
  for (const [openPath, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      ops.push({
        method: method.toUpperCase(),
        path: openPath.replace(/\{(\w+)\}/g, ":$1"),
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        query: params.filter((p) => p.in === "query").map((p) => ({ name: p.name, required: Boolean(p.required), schema: p.schema })),
        body: op.requestBody?.content?.["application/json"]?.schema,
      });
    }
  }
  return ops;
}

export type Pool = "users" | "groups" | "services" | "sessions" | "tokens" | "agents";

export interface FuzzWorld {
  app: FastifyInstance;
  admin: TestUser;
  member: TestUser;
  /** A user whose logins the logout and password routes may end. */
  disposable: TestUser;
  callers: Record<string, Record<string, string>>;
  /** Ids that exist now, by kind; `victims` leaves out the fuzzer's own. */
  ids(pool: Pool, victimsOnly: boolean): string[];
  allIds(): string[];
  refresh(): Promise<void>;
  /** Headers of a fresh login of the disposable user. */
  disposableLogin(): Promise<Record<string, string>>;
}

async function tokenFor(app: FastifyInstance, user: TestUser, scopes: string[]): Promise<{ id: string; token: string }> {
  const res = await app.inject({ method: "POST", url: "/api/tokens", headers: user.headers, payload: { name: `fuzz-${scopes.join("-")}`, scopes } });
  if (res.statusCode !== 201) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return res.json() as { id: string; token: string };
}

export async function buildFuzzWorld(app: FastifyInstance): Promise<FuzzWorld> {
  const group = await createGroup(app, "fuzz-main");
  const admin = await createUser(app, { role: "admin", username: "fuzz-admin" });
  const member = await createUser(app, { username: "fuzz-member", groupIds: [group.id] });
  const disposable = await createUser(app, { username: "fuzz-disposable", groupIds: [group.id] });
  const service = await createService(app, { groupIds: [group.id], exclusive: true, maxDurationSeconds: 7200 });
  await createService(app, { groupIds: [group.id], requiresApproval: true });
  // Victims: what the fuzzer may delete, disable and demote.
  await createUser(app, { username: "fuzz-victim-1", groupIds: [group.id] });
  await createUser(app, { username: "fuzz-victim-2" });
  await createGroup(app, "fuzz-victim");
  await createService(app, { groupIds: [group.id] });
  await app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: member.headers, payload: { durationSeconds: 3600 } });
  const adminToken = await tokenFor(app, admin, ["admin", "sessions:read", "sessions:write", "relay:send", "tunnel:manage"]);
  const memberToken = await tokenFor(app, member, ["sessions:read", "sessions:write", "relay:send"]);

  const protectedIds = new Set([admin.id, member.id, disposable.id, group.id, service.id, adminToken.id, memberToken.id]);
  const pools: Record<Pool, string[]> = { users: [], groups: [], services: [], sessions: [], tokens: [], agents: [] };
  const world: FuzzWorld = {
    app,
    admin,
    member,
    disposable,
    callers: {
      anonymous: {},
      "admin cookie": admin.headers,
      "member cookie": member.headers,
      "admin bearer": { authorization: `Bearer ${adminToken.token}` },
      "member bearer": { authorization: `Bearer ${memberToken.token}` },
      "member x-access-tokens": { "x-access-tokens": memberToken.token },
      "member cookie without CSRF": { cookie: member.headers.cookie ?? "" },
    },
    ids: (pool, victimsOnly) => (victimsOnly ? pools[pool].filter((id) => !protectedIds.has(id)) : pools[pool]),
    allIds: () => Object.values(pools).flat(),
    refresh: async () => {
      const db = app.ctx.db;
      const take = 50;
      const pick = { select: { id: true }, take, orderBy: { createdAt: "desc" as const } };
      const [users, groups, services, sessions, tokens, agents] = await Promise.all([
        db.user.findMany(pick),
        db.group.findMany(pick),
        db.service.findMany(pick),
        db.accessSession.findMany({ select: { id: true }, take, orderBy: { requestedAt: "desc" } }),
        db.apiToken.findMany(pick),
        db.agent.findMany(pick),
      ]);
      const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);
      Object.assign(pools, { users: ids(users), groups: ids(groups), services: ids(services), sessions: ids(sessions), tokens: ids(tokens), agents: ids(agents) });
    },
    disposableLogin: async () => {
      const login = await app.ctx.db.loginSession.create({
        data: { userId: disposable.id, expiresAt: new Date(app.ctx.now().getTime() + LOGIN_SESSION_SECONDS * 1000), provider: "local" },
      });
      const cookie = app.jwt.sign({ typ: "login", sid: login.id }, { expiresIn: LOGIN_SESSION_SECONDS });
      return { cookie: `${SESSION_COOKIE}=${cookie}`, [CSRF_HEADER]: "1" };
    },
  };
  await world.refresh();
  return world;
}
