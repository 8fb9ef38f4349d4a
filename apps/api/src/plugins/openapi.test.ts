// The API description against the real app: every route appears with its authentication and
// error responses; the reference page is served locally; and what routes actually send — for
// successes, refusals and bad input alike — validates against the schema documented for that
// status (a route answering an undocumented status fails too).
import Fastify, { type FastifyInstance, type RouteOptions } from "fastify";
import fp from "fastify-plugin";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "@postern/db";
import serviceApp from "../app";
import { loadConfig } from "../config";
import { BODY_LIMIT } from "../server";
import { authHeaders, createGroup, createService, createUser, type TestUser } from "../../test/app";
import { createTestDatabase } from "../../test/databases";

interface Operation {
  description?: string;
  security?: Record<string, string[]>[];
  tags?: string[];
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components: Record<string, unknown> };

let app: FastifyInstance;
let drop: () => Promise<void>;
const routes: RouteOptions[] = [];
let doc: Doc;
let admin: TestUser;
let member: TestUser;

beforeAll(async () => {
  const database = await createTestDatabase("sqlite");
  drop = database.drop;
  const config = loadConfig({ DATABASE_URL: database.url, POSTERN_SECRET: "openapi-secret-openapi-secret-0123456789", POSTERN_WEB_DIR: "/nonexistent" }, "/dev/null");
  const opened = await openDatabase(database.url);
  app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
  // Every route the app registers, to hold the description against.
  app.addHook("onRoute", (route) => {
    routes.push(route);
  });
  await app.register(fp(serviceApp), { config, database: opened, secret: config.secret ?? "" });
  app.addHook("onClose", async () => opened.close());
  await app.ready();
  const res = await app.inject({ url: "/api/openapi.json" });
  expect(res.statusCode).toBe(200);
  doc = res.json();
  admin = await createUser(app, { role: "admin" });
  member = await createUser(app);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await drop?.();
});

const oasPath = (url: string) => url.replace(/:(\w+)/g, "{$1}");

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 and lists every route with its method", () => {
    expect(doc.openapi).toBe("3.1.0");
    const api = routes.filter((r) => r.url !== "/*" && !r.url.startsWith("/api/docs") && r.url !== "/api/openapi.json");
    const missing: string[] = [];
    for (const route of api) {
      for (const method of [route.method].flat()) {
        if (method === "HEAD") continue;
        if (!doc.paths[oasPath(route.url)]?.[method.toLowerCase()]) missing.push(`${method} ${route.url}`);
      }
    }
    expect(missing).toEqual([]);
    // The SPEC's surface, spot-checked: websockets and probes included.
    for (const [method, path] of [
      ["get", "/api/live"],
      ["get", "/api/agent"],
      ["post", "/api/services/{id}/sessions"],
      ["get", "/api/audit/export.csv"],
      ["post", "/api/placeMessage"],
      ["get", "/metrics"],
      ["get", "/readyz"],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
  });

  it("documents each route's authentication and its error envelope", () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const label = `${method.toUpperCase()} ${path}`;
        expect(op.tags?.length, label).toBeGreaterThan(0);
        expect(op.security, label).toBeDefined();
        const schemes = op.security!.flatMap((s) => Object.keys(s));
        if (schemes.includes("cookie")) {
          // Signed-in-only routes take the cookie or a traded bearer, not x-access-tokens.
          expect(schemes, label).toEqual(expect.arrayContaining(op.description?.includes("never an API token") ? ["bearer"] : ["bearer", "accessToken"]));
          expect(op.responses["401"], label).toBeDefined();
        }
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400) {
            const schema = response.content?.["application/json"]?.schema as { properties?: Record<string, unknown> } | undefined;
            expect(schema?.properties?.error, `${label} ${status}`).toBeDefined();
          }
        }
      }
    }
    expect(doc.paths["/api/users"]!.get!.security).toEqual([{ cookie: [] }, { bearer: ["admin"] }, { accessToken: ["admin"] }]);
    expect(doc.paths["/api/sessions"]!.get!.security).toEqual([{ cookie: [] }, { bearer: ["sessions:read"] }, { accessToken: ["sessions:read"] }]);
    expect(doc.paths["/api/messages"]!.post!.security![1]).toEqual({ bearer: ["relay:send"] });
    expect(doc.paths["/api/auth/login"]!.post!.security).toEqual([]);
    expect(doc.paths["/api/auth/token"]!.post!.security).toEqual([{ basic: [] }]);
    expect(doc.paths["/api/auth/login"]!.post!.responses["429"]).toBeDefined();
    expect(doc.paths["/api/me/password"]!.post!.security).toEqual([{ cookie: [] }, { bearer: [] }]);
  });

  it("serves the reference page and its assets from the package, no CDN", async () => {
    const page = await app.inject({ url: "/api/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/Swagger UI/);
    expect(page.body).not.toMatch(/https?:\/\/(?!localhost)[^"']*\.(js|css)/);
    const script = /src="\.\/(static\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    expect((await app.inject({ url: `/api/docs/${script}` })).statusCode).toBe(200);
  });
});

describe("what routes send matches what is documented", () => {
  const ajv = new Ajv2020({ strict: false, validateSchema: false, validateFormats: false, allErrors: true });
  let added = false;

  /** Validates a response against the document's schema for its path, method and status. */
  function check(method: string, path: string, status: number, body: unknown): void {
    if (!added) {
      ajv.addSchema(doc as unknown as Record<string, unknown>, "openapi");
      added = true;
    }
    const op = doc.paths[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path} is documented`).toBeDefined();
    const documented = op!.responses[String(status)] ?? op!.responses[`${String(status)[0]}XX`] ?? op!.responses[`${String(status)[0]}xx`];
    expect(documented, `${method} ${path} answered ${status}, which is not documented`).toBeDefined();
    if (!documented!.content?.["application/json"]) return;
    const pointer = ["paths", path, method.toLowerCase(), "responses", status in op!.responses ? String(status) : Object.keys(op!.responses).find((k) => k.startsWith(String(status)[0]!))!, "content", "application/json", "schema"]
      .map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1"))
      .join("/");
    const validate = ajv.getSchema(`openapi#/${pointer}`)!;
    expect(validate(body), `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`).toBe(true);
  }

  async function call(method: string, url: string, options: { headers?: Record<string, string>; payload?: unknown; path?: string } = {}) {
    const res = await app.inject({ method: method as "GET", url, headers: options.headers, payload: options.payload as string | undefined });
    const body = res.headers["content-type"]?.toString().startsWith("application/json") ? res.json() : res.body;
    check(method, options.path ?? oasPath(url.split("?")[0]!), res.statusCode, body);
    return res;
  }

  it("for successes, refusals and bad input across the API", async () => {
    const group = await createGroup(app);
    const service = await createService(app, { exclusive: true, groupIds: [group.id] });
    const alice = await createUser(app, { groupIds: [group.id] });
    const bob = await createUser(app, { groupIds: [group.id] });
    const id = "/api/services/{id}";

    // Anonymous: 401 on every protected read.
    for (const url of ["/api/me", "/api/services", "/api/sessions", "/api/users", "/api/groups", "/api/tokens", "/api/audit", "/api/messages", "/api/agents", "/api/tunnel"]) {
      expect((await call("GET", url)).statusCode, url).toBe(401);
    }
    // A member on admin routes: 403.
    for (const url of ["/api/users", "/api/audit", "/api/agents"]) expect((await call("GET", url, { headers: member.headers })).statusCode, url).toBe(403);
    // Successes.
    for (const url of ["/api/me", "/api/services", "/api/sessions?active=true", "/api/users", "/api/groups", "/api/tokens", "/api/audit", "/api/audit/verify", "/api/agents", "/api/tunnel", "/api/auth/providers", "/healthz", "/readyz"]) {
      expect((await call("GET", url, { headers: admin.headers })).statusCode, url).toBeLessThan(300);
    }
    expect((await call("GET", `/api/services/${service.id}`, { headers: alice.headers, path: id })).statusCode).toBe(200);
    // Bad input, unknown ids, a conflict naming the holder.
    expect((await call("POST", "/api/auth/login", { payload: { username: 1 } })).statusCode).toBe(400);
    expect((await call("POST", "/api/services", { headers: admin.headers, payload: { name: "x" } })).statusCode).toBe(400);
    expect((await call("GET", "/api/services/no-such-service", { headers: admin.headers, path: id })).statusCode).toBe(404);
    const started = await call("POST", `/api/services/${service.id}/sessions`, { headers: alice.headers, payload: { durationSeconds: 600 }, path: `${id}/sessions` });
    expect(started.statusCode).toBe(201);
    const conflict = await call("POST", `/api/services/${service.id}/sessions`, { headers: bob.headers, payload: { durationSeconds: 600 }, path: `${id}/sessions` });
    expect(conflict.statusCode).toBe(409);
    const sessionId = (started.json() as { id: string }).id;
    expect((await call("POST", `/api/sessions/${sessionId}/extend`, { headers: alice.headers, payload: { durationSeconds: 60 }, path: "/api/sessions/{id}/extend" })).statusCode).toBe(200);
    expect((await call("DELETE", `/api/sessions/${sessionId}`, { headers: alice.headers, path: "/api/sessions/{id}" })).statusCode).toBeLessThan(300);
    // A token: created (shown once), used through both headers, refused without the scope.
    const token = await call("POST", "/api/tokens", { headers: alice.headers, payload: { name: "reader", scopes: ["sessions:read"] } });
    expect(token.statusCode).toBe(201);
    const secret = (token.json() as { token: string }).token;
    expect((await call("GET", "/api/sessions", { headers: { authorization: `Bearer ${secret}` } })).statusCode).toBe(200);
    expect((await call("GET", "/api/sessions", { headers: { "x-access-tokens": secret } })).statusCode).toBe(200);
    expect((await call("POST", `/api/services/${service.id}/sessions`, { headers: { authorization: `Bearer ${secret}` }, payload: { durationSeconds: 60 }, path: `${id}/sessions` })).statusCode).toBe(403);
    // A login through the route itself, then logout.
    const login = await call("POST", "/api/auth/login", { payload: { username: alice.username, password: alice.password } });
    expect(login.statusCode).toBe(200);
    expect((await call("POST", "/api/auth/logout", { headers: authHeaders(login) })).statusCode).toBeLessThan(300);
  });
});
