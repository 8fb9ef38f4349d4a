// Bad input never reaches a 500: characters a database cannot store (NUL, lone surrogates), dates
// beyond any calendar the database keeps and unsafe URLs, in bodies, queries and headers, are
// refused with a 400 naming the field, and write nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../test/app";
import { rowCounts } from "../../test/counts";
import { providers } from "../../test/databases";
import { databaseInputIssue } from "./database-input-errors";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;

interface Probe {
  method: "GET" | "POST" | "PATCH";
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
  /** The field the answer must name. */
  field: string;
}

describe.each(providers)("bad input on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;
  let member: TestUser;
  let serviceId: string;
  let groupId: string;
  beforeAll(async () => {
    t = await buildTestApp(provider);
    admin = await createUser(t.app, { role: "admin" });
    const group = await createGroup(t.app);
    groupId = group.id;
    member = await createUser(t.app, { groupIds: [group.id] });
    serviceId = (await createService(t.app, { groupIds: [group.id] })).id;
  });
  afterAll(async () => t.close());

  const probes: Array<[string, () => Probe]> = [
    ["a lone surrogate in a login", () => ({ method: "POST", url: "/api/auth/login", payload: { username: "\ud800", password: "x" }, field: "body.username" })],
    ["a NUL in a login", () => ({ method: "POST", url: "/api/auth/login", payload: { username: "a\u0000b", password: "x" }, field: "body.username" })],
    ["a NUL in Basic credentials", () => ({ method: "POST", url: "/api/auth/token", headers: { authorization: basic("a\u0000b", "x") }, field: "headers.authorization" })],
    ["a NUL in the older tools' Basic login", () => ({ method: "POST", url: "/api/loginUser", headers: { authorization: basic("root", "a\u0000") }, field: "headers.authorization" })],
    ["a NUL in a group name", () => ({ method: "POST", url: "/api/groups", payload: { name: "a\u0000b" }, field: "body.name" })],
    ["a lone surrogate in a group rename", () => ({ method: "PATCH", url: `/api/groups/${groupId}`, payload: { name: "a\udc00b" }, field: "body.name" })],
    ["a NUL in a reason", () => ({ method: "PATCH", url: `/api/users/${member.id}`, payload: { disabled: false, reason: "x\u0000" }, field: "body.reason" })],
    ["a NUL in an id", () => ({ method: "PATCH", url: `/api/users/a%00b`, payload: { disabled: false }, field: "params.id" })],
    ["a NUL in the audit actor filter", () => ({ method: "GET", url: "/api/audit?actor=a%00b", field: "querystring.actor" })],
    ["an audit list up to 9999-12-31", () => ({ method: "GET", url: "/api/audit?to=9999-12-31", field: "querystring.to" })],
    ["a CSV export up to 9999-12-31", () => ({ method: "GET", url: "/api/audit/export.csv?from=2026-01-01&to=9999-12-31", field: "querystring.to" })],
    ["a CSV export of 9999-W52", () => ({ method: "GET", url: "/api/audit/export.csv?week=9999-W52", field: "querystring.week" })],
    ["a javascript: service URL", () => ({ method: "POST", url: "/api/services", payload: { name: "x", slug: "x", kind: "web", maxDurationSeconds: 600, url: "javascript:alert(1)" }, field: "body.url" })],
    ["a data: service URL", () => ({ method: "PATCH", url: `/api/services/${serviceId}`, payload: { url: "data:text/html,<b>x</b>" }, field: "body.url" })],
    ["a 60 KB service URL", () => ({ method: "PATCH", url: `/api/services/${serviceId}`, payload: { url: `https://example.com/${"a".repeat(60_000)}` }, field: "body.url" })],
    ["a token expiring in year 10000", () => ({ method: "POST", url: "/api/tokens", payload: { name: "t", scopes: ["sessions:read"], expiresAt: "+010000-01-01T00:00:00Z" }, field: "body.expiresAt" })],
    ["an audit cursor beyond the 32-bit sequence", () => ({ method: "GET", url: `/api/audit?cursor=${b64("seq:999999999999999")}`, field: "querystring.cursor" })],
    ["a relay cursor at a date PostgreSQL does not keep", () => ({ method: "GET", url: `/api/messages?cursor=${b64("-271821-04-20T00:00:00.000Z|x")}`, field: "querystring.cursor" })],
    ["a relay cursor with a NUL in its id", () => ({ method: "GET", url: `/api/messages?cursor=${b64("2026-01-01T00:00:00.000Z|a\u0000b")}`, field: "querystring.cursor" })],
    ["a token expiring before 2000", () => ({ method: "POST", url: "/api/tokens", payload: { name: "t", scopes: ["sessions:read"], expiresAt: "1970-01-01T00:00:00Z" }, field: "body.expiresAt" })],
  ];

  it.each(probes)("refuses %s with a 400 naming the field, writing nothing", async (_name, make) => {
    const probe = make();
    const before = await rowCounts(t.app);
    const res = await t.app.inject({ method: probe.method, url: probe.url, payload: probe.payload as object, headers: { ...admin.headers, ...probe.headers } });
    expect(res.statusCode, res.body).toBe(400);
    const body = ZErrorBody.parse(res.json());
    expect(body.error.message).toContain(probe.field);
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("refuses a booking that would end after year 9999", async () => {
    const before = await rowCounts(t.app);
    for (const startsAt of ["9999-12-31T23:00:00Z", "+010000-01-01T00:00:00Z"]) {
      const res = await t.app.inject({ method: "POST", url: `/api/services/${serviceId}/sessions`, headers: member.headers, payload: { durationSeconds: 7200, startsAt } });
      expect(res.statusCode, res.body).toBe(400);
      expect(ZErrorBody.parse(res.json()).error.message).toContain("body.startsAt");
    }
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("answers a URL that is not UTF-8, and a plain GET of a websocket route, in the envelope", async () => {
    const badUrl = await t.app.inject({ method: "GET", url: "/api/services/%uD800", headers: admin.headers });
    expect(badUrl.statusCode).toBe(400);
    expect(ZErrorBody.parse(badUrl.json()).error).toMatchObject({ code: "bad_request", message: expect.stringContaining("url") });
    // A resume point beyond the 32-bit sequence is refused before any upgrade.
    const since = await t.app.inject({ method: "GET", url: "/api/live?since=99999999999", headers: admin.headers });
    expect(since.statusCode).toBe(400);
    expect(ZErrorBody.parse(since.json()).error.message).toContain("querystring.since");
    const live = await t.app.inject({ method: "GET", url: "/api/live", headers: admin.headers });
    expect(live.statusCode).toBe(404);
    expect(ZErrorBody.parse(live.json()).error.message).toContain("websocket");
  });

  it("answers an export at the edge of the range in full", async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/audit/export.csv?from=2000-01-01&to=9998-12-31", headers: admin.headers });
    expect(res.statusCode).toBe(200);
    expect(res.body.startsWith("time,actor,action")).toBe(true);
    expect(res.body.endsWith("\r\n")).toBe(true);
  });

  it("turns a value the database refuses into a field problem, not a fault", async () => {
    // Straight at the database, past the contracts: what the error handler's net must catch.
    const refusals = [
      () => t.app.ctx.db.group.create({ data: { name: "a\ud800b" } }),
      () => t.app.ctx.db.auditEvent.findMany({ where: { at: { lt: new Date("+010000-01-01T00:00:00Z") } } }),
      ...(provider === "postgres"
        ? [
            () => t.app.ctx.db.user.findUnique({ where: { username: "a\u0000b" } }),
            () => t.app.ctx.db.$queryRawUnsafe("select $1::text", "a\u0000"),
            // The plain-SQL path (node-postgres itself, past Prisma).
            () => t.app.ctx.sql.read((sql) => sql.all(`SELECT "seq" FROM "AuditEvent" WHERE "seq" < ?`, [999999999999999])),
          ]
        : []),
    ];
    for (const refuse of refusals) {
      const err = await refuse().then(() => null, (e: unknown) => e);
      expect(err).not.toBeNull();
      expect(databaseInputIssue(err)).toMatchObject({ field: expect.any(String), message: expect.any(String) });
    }
    expect(databaseInputIssue(new Error("boom"))).toBeNull();
  });
});
