// Services through the real routes: CRUD by admins, slug uniqueness, visibility by group and
// the CSV import, on SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ZErrorBody, ZImportResult, ZService } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { rowCounts } from "../../../test/counts";
import { providers } from "../../../test/databases";

// A few seconds each on a quiet machine; the margin is for a loaded CI box.
vi.setConfig({ testTimeout: 120_000 });

const fieldsOf = (body: unknown) => (ZErrorBody.parse(body).error.details as { field: string }[]).map((d) => d.field);

describe.each(providers)("services on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;
  beforeEach(async () => {
    t = await buildTestApp(provider);
    admin = await createUser(t.app, { role: "admin" });
  });
  afterEach(async () => t.close());

  it("creates, reads, updates and deletes a service, auditing each step", async () => {
    const group = await createGroup(t.app);
    const created = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: {
        name: "Customer A VPN",
        slug: "customer-a",
        kind: "vpn",
        connection: { main: "vpn main 1", sub: "vpn sub 1" },
        exclusive: true,
        maxDurationSeconds: 7200,
        groupIds: [group.id],
      },
    });
    expect(created.statusCode).toBe(201);
    const service = ZService.parse(created.json());
    expect(service).toMatchObject({
      name: "Customer A VPN",
      slug: "customer-a",
      kind: "vpn",
      connection: { main: "vpn main 1", sub: "vpn sub 1" },
      exclusive: true,
      requiresApproval: false,
      defaultDurationSeconds: 3600,
      maxDurationSeconds: 7200,
      groupIds: [group.id],
      activeSessions: 0,
    });

    const read = await t.app.inject({ method: "GET", url: `/api/services/${service.id}`, headers: admin.headers });
    expect(read.statusCode).toBe(200);
    expect(ZService.parse(read.json())).toEqual(service);
    // The same bytes the board's list holds for it.
    const list = await t.app.inject({ method: "GET", url: "/api/services", headers: admin.headers });
    expect(read.json()).toEqual((list.json() as { id: string }[]).find((s) => s.id === service.id));

    const patched = await t.app.inject({
      method: "PATCH",
      url: `/api/services/${service.id}`,
      headers: admin.headers,
      payload: { name: "Customer A", description: "the main tunnel", exclusive: false, groupIds: [] },
    });
    expect(patched.statusCode).toBe(200);
    expect(ZService.parse(patched.json())).toMatchObject({ name: "Customer A", description: "the main tunnel", exclusive: false, groupIds: [] });
    // Read again: the single read is not kept from before the change.
    const reread = await t.app.inject({ method: "GET", url: `/api/services/${service.id}`, headers: admin.headers });
    expect(reread.json()).toEqual(patched.json());

    const cleared = await t.app.inject({ method: "PATCH", url: `/api/services/${service.id}`, headers: admin.headers, payload: { description: null } });
    expect(ZService.parse(cleared.json()).description).toBeUndefined();

    const deleted = await t.app.inject({ method: "DELETE", url: `/api/services/${service.id}`, headers: admin.headers });
    expect(deleted.statusCode).toBe(204);
    const gone = await t.app.inject({ method: "GET", url: `/api/services/${service.id}`, headers: admin.headers });
    expect(gone.statusCode).toBe(404);
    expect(ZErrorBody.parse(gone.json()).error.code).toBe("not_found");

    const actions = await t.app.ctx.db.auditEvent.findMany({ where: { serviceId: service.id }, orderBy: { seq: "asc" } });
    expect(actions.map((e) => e.action)).toEqual(["service.created", "service.updated", "service.updated", "service.deleted"]);
    expect(actions.every((e) => e.actorId === admin.id)).toBe(true);
  });

  it("answers 409 for a slug that is taken, on create and on rename, and writes nothing", async () => {
    const first = await createService(t.app);
    const second = await createService(t.app);
    const before = await rowCounts(t.app);
    const create = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: { name: "Copy", slug: first.slug, kind: "web", maxDurationSeconds: 600 },
    });
    expect(create.statusCode).toBe(409);
    expect(ZErrorBody.parse(create.json()).error).toMatchObject({ code: "conflict", message: `slug "${first.slug}" is already used by another service` });
    const rename = await t.app.inject({ method: "PATCH", url: `/api/services/${second.id}`, headers: admin.headers, payload: { slug: first.slug } });
    expect(rename.statusCode).toBe(409);
    expect(await rowCounts(t.app)).toEqual(before);
    // Keeping one's own slug is not a conflict.
    const same = await t.app.inject({ method: "PATCH", url: `/api/services/${first.id}`, headers: admin.headers, payload: { slug: first.slug } });
    expect(same.statusCode).toBe(200);
  });

  it("shows a member only the services of their groups; a hidden one is a 404, not a 403", async () => {
    const ops = await createGroup(t.app);
    const sales = await createGroup(t.app);
    const mine = await createService(t.app, { groupIds: [ops.id] });
    const both = await createService(t.app, { groupIds: [ops.id, sales.id] });
    const theirs = await createService(t.app, { groupIds: [sales.id] });
    const nobodys = await createService(t.app);
    const member = await createUser(t.app, { groupIds: [ops.id] });

    const list = await t.app.inject({ method: "GET", url: "/api/services", headers: member.headers });
    expect(list.statusCode).toBe(200);
    expect(z.array(ZService).parse(list.json()).map((s) => s.id).sort()).toEqual([mine.id, both.id].sort());

    const all = await t.app.inject({ method: "GET", url: "/api/services", headers: admin.headers });
    expect(z.array(ZService).parse(all.json())).toHaveLength(4);

    expect((await t.app.inject({ method: "GET", url: `/api/services/${mine.id}`, headers: member.headers })).statusCode).toBe(200);
    const before = await rowCounts(t.app);
    for (const hidden of [theirs, nobodys]) {
      const read = await t.app.inject({ method: "GET", url: `/api/services/${hidden.id}`, headers: member.headers });
      // The same answer as for an id that does not exist, so hidden services cannot be probed.
      expect(read.statusCode).toBe(404);
      expect(ZErrorBody.parse(read.json()).error).toEqual({ code: "not_found", message: "service not found" });
      const start = await t.app.inject({ method: "POST", url: `/api/services/${hidden.id}/sessions`, headers: member.headers, payload: {} });
      expect(start.statusCode).toBe(404);
    }
    const unknown = await t.app.inject({ method: "GET", url: "/api/services/no-such-id", headers: member.headers });
    expect(unknown.json()).toEqual((await t.app.inject({ method: "GET", url: `/api/services/${theirs.id}`, headers: member.headers })).json());
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("keeps service management to admins (403) and everything from anonymous callers (401)", async () => {
    const service = await createService(t.app);
    const member = await createUser(t.app);
    const before = await rowCounts(t.app);
    const attempts = [
      { method: "POST" as const, url: "/api/services", payload: { name: "x", slug: "x", kind: "web", maxDurationSeconds: 60 } },
      { method: "PATCH" as const, url: `/api/services/${service.id}`, payload: { name: "renamed" } },
      { method: "DELETE" as const, url: `/api/services/${service.id}` },
      { method: "POST" as const, url: "/api/services/import", payload: "a;b\n", headers: { "content-type": "text/csv" } },
    ];
    for (const a of attempts) {
      const asMember = await t.app.inject({ ...a, headers: { ...member.headers, ...a.headers } });
      expect(asMember.statusCode, `${a.method} ${a.url}`).toBe(403);
      expect(ZErrorBody.parse(asMember.json()).error.code).toBe("forbidden");
      const anonymous = await t.app.inject({ ...a, headers: a.headers });
      expect(anonymous.statusCode, `${a.method} ${a.url}`).toBe(401);
    }
    for (const url of ["/api/services", `/api/services/${service.id}`]) {
      const anonymous = await t.app.inject({ method: "GET", url });
      expect(anonymous.statusCode).toBe(401);
      expect(ZErrorBody.parse(anonymous.json()).error.code).toBe("unauthorized");
    }
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("names the field of a bad service body and writes nothing", async () => {
    const service = await createService(t.app);
    const before = await rowCounts(t.app);
    const valid = { name: "Web", slug: "web", kind: "web", maxDurationSeconds: 600 };
    const cases: [string, "POST" | "PATCH", object, string][] = [
      ["/api/services", "POST", { name: "Web", slug: "web", kind: "web" }, "body.maxDurationSeconds"],
      ["/api/services", "POST", { ...valid, maxDurationSeconds: "600" }, "body.maxDurationSeconds"],
      ["/api/services", "POST", { ...valid, kind: "ftp" }, "body.kind"],
      ["/api/services", "POST", { ...valid, slug: "Not A Slug" }, "body.slug"],
      ["/api/services", "POST", { ...valid, defaultDurationSeconds: 900 }, "body.defaultDurationSeconds"],
      ["/api/services", "POST", { ...valid, url: "not a url" }, "body.url"],
      ["/api/services", "POST", { ...valid, groupIds: ["no-such-group"] }, "body.groupIds"],
      ["/api/services", "POST", { ...valid, gateway: { agentId: "no-such-agent", publicPort: 8443, lanHost: "10.0.0.5", lanPort: 443, protocol: "tcp" } }, "body.gateway.agentId"],
      ["/api/services", "POST", { ...valid, colour: "red" }, "body.colour"],
      [`/api/services/${service.id}`, "PATCH", { defaultDurationSeconds: 999_999 }, "body.defaultDurationSeconds"],
      [`/api/services/${service.id}`, "PATCH", { exclusive: "yes" }, "body.exclusive"],
    ];
    for (const [url, method, payload, field] of cases) {
      const res = await t.app.inject({ method, url, headers: admin.headers, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(fieldsOf(res.json()), JSON.stringify(payload)).toContain(field);
    }
    const missing = await t.app.inject({ method: "PATCH", url: "/api/services/no-such-id", headers: admin.headers, payload: { name: "x" } });
    expect(missing.statusCode).toBe(404);
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("imports main;sub CSV lines, reporting each bad line by its number", async () => {
    const group = await createGroup(t.app);
    const existing = await createService(t.app);
    const csv = [
      "main;sub",
      "vpn main 1;vpn sub 1",
      "vpn main 1;vpn sub 2",
      "",
      ";no main",
      "vpn main 2",
      "too;many;fields",
      "# a comment line",
      "vpn main 1;vpn sub 1",
      existing.slug,
      "!!!",
      `${"m".repeat(100)};${"s".repeat(30)}`,
    ].join("\n");
    const res = await t.app.inject({
      method: "POST",
      url: `/api/services/import?groupId=${group.id}&maxSeconds=1800&exclusive=false`,
      headers: { ...admin.headers, "content-type": "text/csv" },
      payload: csv,
    });
    expect(res.statusCode).toBe(200);
    const result = ZImportResult.parse(res.json());
    expect(result.created.map((s) => [s.slug, s.connection])).toEqual([
      ["vpn-main-1-vpn-sub-1", { main: "vpn main 1", sub: "vpn sub 1" }],
      ["vpn-main-1-vpn-sub-2", { main: "vpn main 1", sub: "vpn sub 2" }],
      ["vpn-main-2", { main: "vpn main 2" }],
    ]);
    expect(result.created.every((s) => !s.exclusive && s.maxDurationSeconds === 1800 && s.kind === "vpn")).toBe(true);
    expect(result.created.every((s) => s.groupIds.length === 1 && s.groupIds[0] === group.id)).toBe(true);
    expect(result.skipped).toEqual([
      { line: 5, reason: "the main connection name is empty" },
      { line: 7, reason: "expected at most two fields: main;sub" },
      { line: 9, reason: 'a service with slug "vpn-main-1-vpn-sub-1" already exists' },
      { line: 10, reason: `a service with slug "${existing.slug}" already exists` },
      { line: 11, reason: "the name has no letters or digits to make a slug from" },
      { line: 12, reason: "the service name (main / sub) is limited to 128 characters" },
    ]);
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "service.created" } })).toBe(3);
  });

  it.runIf(provider === "postgres")("runs an import again after a deadlock, reporting each skipped line once", async () => {
    const existing = await createService(t.app);
    // PostgreSQL's deadlock error on the import's first insert only: the change runs again whole.
    await t.app.ctx.db.$executeRawUnsafe(`CREATE SEQUENCE "service_inserts"`);
    await t.app.ctx.db.$executeRawUnsafe(
      `CREATE FUNCTION "deadlock_once"() RETURNS trigger AS $$ BEGIN IF nextval('service_inserts') = 1 THEN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
    );
    await t.app.ctx.db.$executeRawUnsafe(`CREATE TRIGGER "deadlock_once" BEFORE INSERT ON "Service" FOR EACH ROW EXECUTE FUNCTION "deadlock_once"()`);
    // The lines skipped inside the change come before the insert that fails the first run.
    const csv = [existing.slug, "!!!", ";no main", "vpn main 1"].join("\n");
    const res = await t.app.inject({ method: "POST", url: "/api/services/import", headers: { ...admin.headers, "content-type": "text/csv" }, payload: csv });
    expect(res.statusCode, res.body).toBe(200);
    const result = ZImportResult.parse(res.json());
    expect(result.created.map((s) => s.slug)).toEqual(["vpn-main-1"]);
    expect(result.skipped).toEqual([
      { line: 1, reason: `a service with slug "${existing.slug}" already exists` },
      { line: 2, reason: "the name has no letters or digits to make a slug from" },
      { line: 3, reason: "the main connection name is empty" },
    ]);
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "service.created" } })).toBe(1);
  });

  it("refuses a CSV (or text) import not in UTF-8, naming the body, and creates nothing", async () => {
    const before = await rowCounts(t.app);
    // "Café" saved in ISO-8859-1: é is the single byte 0xE9, which used to become "Caf\ufffd".
    const latin1 = Buffer.concat([Buffer.from("Caf"), Buffer.from([0xe9]), Buffer.from(" main;sub\n")]);
    for (const contentType of ["text/csv", "text/plain", "text/csv; charset=utf-8"]) {
      const res = await t.app.inject({ method: "POST", url: "/api/services/import", headers: { ...admin.headers, "content-type": contentType }, payload: latin1 });
      expect(res.statusCode, contentType).toBe(400);
      expect(ZErrorBody.parse(res.json()).error.details, contentType).toEqual([{ field: "body", message: expect.stringContaining("UTF-8") }]);
    }
    // Another declared charset is not guessed at either.
    const declared = await t.app.inject({
      method: "POST",
      url: "/api/services/import",
      headers: { ...admin.headers, "content-type": "text/csv; charset=iso-8859-1" },
      payload: latin1,
    });
    expect(declared.statusCode).toBe(415);
    expect(fieldsOf(declared.json())).toEqual(["body"]);
    expect(await rowCounts(t.app)).toEqual(before);

    // The same file in UTF-8 goes in with its accent.
    const utf8 = await t.app.inject({ method: "POST", url: "/api/services/import", headers: { ...admin.headers, "content-type": "text/plain; charset=UTF-8" }, payload: "Café main;sub\n" });
    expect(utf8.statusCode, utf8.body).toBe(200);
    expect(ZImportResult.parse(utf8.json()).created.map((c) => c.name)).toEqual(["Café main / sub"]);
  });

  it("rejects an import with an unknown group or a bad option, naming it, and creates nothing", async () => {
    const before = await rowCounts(t.app);
    const cases: [string, string][] = [
      ["groupId=no-such-group", "querystring.groupId"],
      ["kind=ftp", "querystring.kind"],
      ["maxSeconds=-5", "querystring.maxSeconds"],
      ["colour=red", "querystring.colour"],
    ];
    for (const [query, field] of cases) {
      const res = await t.app.inject({
        method: "POST",
        url: `/api/services/import?${query}`,
        headers: { ...admin.headers, "content-type": "text/csv" },
        payload: "vpn main 1;vpn sub 1\n",
      });
      expect(res.statusCode, query).toBe(400);
      expect(fieldsOf(res.json()), query).toContain(field);
    }
    expect(await rowCounts(t.app)).toEqual(before);
  });
});
