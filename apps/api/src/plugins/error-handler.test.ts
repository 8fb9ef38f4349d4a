// Every kind of failure leaves in the one error format with the right status, names the field
// when a field is at fault, writes nothing, and never shows internals.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { buildTestApp, createService, createUser, type TestApp, type TestUser } from "../../test/app";
import { rowCounts } from "../../test/counts";
import { providers } from "../../test/databases";
import { CONFLICT_ATTEMPTS } from "../lib/transaction-conflict";
import { BODY_LIMIT } from "../server";

// A few seconds each on a quiet machine; the margin is for a loaded CI box.
vi.setConfig({ testTimeout: 120_000 });

/** Signs of internals that must never reach a client. */
const LEAKS = /\bat \S+ \(|\.ts:\d+|node_modules|prisma|PrismaClient|SELECT |INSERT |sqlite|postgres|stack/i;

function expectError(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(String(res.headers["content-type"])).toMatch(/^application\/json/);
  const body = ZErrorBody.parse(JSON.parse(res.body));
  expect(body.error.code).toBe(code);
  expect(res.body).not.toMatch(LEAKS);
  return body.error;
}

describe.each(providers)("error handler on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;
  let webDir: string;
  beforeEach(async () => {
    webDir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-web-"));
    fs.writeFileSync(path.join(webDir, "index.html"), "<!doctype html><title>Postern</title>");
    t = await buildTestApp(provider, { env: { POSTERN_WEB_DIR: webDir } });
    admin = await createUser(t.app, { role: "admin" });
  });
  afterEach(async () => {
    await t.close();
    fs.rmSync(webDir, { recursive: true, force: true });
  });

  const post = (url: string, payload: string, contentType = "application/json") =>
    t.app.inject({ method: "POST", url, headers: { ...admin.headers, "content-type": contentType }, payload });

  it("answers 400 for malformed or empty JSON and writes nothing", async () => {
    const before = await rowCounts(t.app);
    const malformed = expectError(await post("/api/groups", '{"name": "ops"'), 400, "bad_request");
    expect(malformed.message).toBe("body: malformed JSON");
    expect(malformed.details).toEqual([{ field: "body", message: "malformed JSON" }]);
    const empty = expectError(await post("/api/groups", ""), 400, "bad_request");
    expect(empty.message).toContain("body");
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("refuses JSON that is not UTF-8 (400) or declares another charset (415), keeping the default parser's guards", async () => {
    const before = await rowCounts(t.app);
    const send = (payload: Buffer | string, contentType = "application/json") =>
      t.app.inject({ method: "POST", url: "/api/groups", headers: { ...admin.headers, "content-type": contentType }, payload });
    // ISO-8859-1 from an old client: "café" with é as the single byte 0xE9.
    const latin1 = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const notUtf8 = expectError(await send(latin1), 400, "bad_request");
    expect(notUtf8).toMatchObject({ message: "body: not valid UTF-8 (send JSON in UTF-8)", details: [{ field: "body", message: "not valid UTF-8 (send JSON in UTF-8)" }] });
    const declared = expectError(await send('{"name":"ops"}', "application/json; charset=ISO-8859-1"), 415, "unsupported_media_type");
    expect(declared.message).toBe("body: charset iso-8859-1 is not accepted (send JSON in UTF-8)");
    expect(expectError(await send('{"name":"ops","__proto__":{"admin":true}}'), 400, "bad_request").message).toBe("body: malformed JSON");
    expect(expectError(await send('{"name":"ops","constructor":{"prototype":{"admin":true}}}'), 400, "bad_request").message).toBe("body: malformed JSON");
    expect(expectError(await send(""), 400, "bad_request").message).toContain("empty");
    expect(await rowCounts(t.app)).toEqual(before);

    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"crème"}')]);
    expect((await send(withBom)).statusCode).toBe(201);
    expect((await send('{"name":"café"}', 'application/json; charset="utf-8"')).statusCode).toBe(201);
  });

  it("answers 413 for a body over the limit and 415 for an unsupported content type", async () => {
    const before = await rowCounts(t.app);
    const huge = JSON.stringify({ name: "x".repeat(BODY_LIMIT + 10) });
    const tooLarge = expectError(await post("/api/groups", huge), 413, "payload_too_large");
    expect(tooLarge.message).toContain("body");
    expect(tooLarge.details).toEqual([{ field: "body", message: `larger than ${BODY_LIMIT} bytes` }]);
    const xml = expectError(await post("/api/groups", "<name>ops</name>", "application/xml"), 415, "unsupported_media_type");
    expect(xml.message).toContain("Content-Type");
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("answers 400 naming each field for schema errors in body, params and query", async () => {
    const before = await rowCounts(t.app);
    const body = expectError(
      await t.app.inject({ method: "POST", url: "/api/users", headers: admin.headers, payload: { username: 7, password: "short" } }),
      400,
      "validation_failed",
    );
    const details = body.details as { field: string; message: string }[];
    expect(details.map((d) => d.field).sort()).toEqual(["body.password", "body.username"]);
    expect(body.message).toContain("body.username");

    const extra = expectError(
      await t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name: "ops", colour: "red" } }),
      400,
      "validation_failed",
    );
    expect((extra.details as { field: string }[]).map((d) => d.field)).toEqual(["body.colour"]);

    const param = expectError(
      await t.app.inject({ method: "GET", url: `/api/services/${"x".repeat(100)}`, headers: admin.headers }),
      400,
      "validation_failed",
    );
    expect((param.details as { field: string }[]).map((d) => d.field)).toEqual(["params.id"]);

    const query = expectError(
      await t.app.inject({ method: "GET", url: "/api/sessions?active=maybe", headers: admin.headers }),
      400,
      "validation_failed",
    );
    expect((query.details as { field: string }[]).map((d) => d.field)).toEqual(["querystring.active"]);

    const wrongShape = expectError(
      await t.app.inject({ method: "POST", url: "/api/groups", headers: { ...admin.headers, "content-type": "application/json" }, payload: "[1,2]" }),
      400,
      "validation_failed",
    );
    expect((wrongShape.details as { field: string }[]).map((d) => d.field)).toEqual(["body"]);
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("answers 409 when two writers race for one unique name: one wins, nothing half-written", async () => {
    const before = await rowCounts(t.app);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name: "raced" } })),
    );
    const statuses = answers.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    for (const res of answers.filter((r) => r.statusCode === 409)) {
      const error = expectError(res, 409, "conflict");
      expect(error.message).toMatch(/name|raced/);
      // A unique column that lost the race is named as a field, for the form to show beside it.
      if (/already taken/.test(error.message)) expect(error.details).toEqual([{ field: "body.name", message: "already taken" }]);
    }
    const after = await rowCounts(t.app);
    expect(after).toEqual({ ...before, groups: before.groups + 1, audit: before.audit + 1 });
  });

  it("answers unknown API routes with a JSON 404 and page URLs with the SPA", async () => {
    const api = expectError(await t.app.inject({ method: "GET", url: "/api/no-such-route" }), 404, "not_found");
    expect(api.message).toBe("no route GET /api/no-such-route");
    expectError(await t.app.inject({ method: "POST", url: "/no-such-form", payload: {} }), 404, "not_found");
    expectError(await t.app.inject({ method: "GET", url: "/assets/missing.js" }), 404, "not_found");

    const page = await t.app.inject({ method: "GET", url: "/board/some-page?x=1" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain("<title>Postern</title>");
  });

  it.runIf(provider === "postgres")("answers 503 when every run of a change met a deadlock, and saves none of it", async () => {
    const group = await t.app.ctx.db.group.create({ data: { name: "ops" } });
    // PostgreSQL's own deadlock error, raised by the database at every run of the rename. A
    // sequence counts the runs: it moves on even when the transaction that moved it rolls back.
    await t.app.ctx.db.$executeRawUnsafe(`CREATE SEQUENCE "conflict_runs"`);
    await t.app.ctx.db.$executeRawUnsafe(
      `CREATE FUNCTION "always_deadlock"() RETURNS trigger AS $$ BEGIN PERFORM nextval('conflict_runs'); RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$ LANGUAGE plpgsql`,
    );
    await t.app.ctx.db.$executeRawUnsafe(`CREATE TRIGGER "always_deadlock" BEFORE UPDATE ON "Group" FOR EACH ROW EXECUTE FUNCTION "always_deadlock"()`);
    const res = await t.app.inject({ method: "PATCH", url: `/api/groups/${group.id}`, headers: admin.headers, payload: { name: "ops2" } });
    const error = expectError(res, 503, "service_unavailable");
    expect(error.message).toMatch(/try again/);
    expect(res.headers["retry-after"]).toBe("1");
    const counted = await t.app.ctx.db.$queryRawUnsafe<{ runs: bigint }[]>(`SELECT last_value AS runs FROM "conflict_runs"`);
    expect(Number(counted[0]?.runs)).toBe(CONFLICT_ATTEMPTS);
    expect((await t.app.ctx.db.group.findUniqueOrThrow({ where: { id: group.id } })).name).toBe("ops");
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "group.renamed" } })).toBe(0);
  });

  it("hides the text of an unexpected failure behind a 500 and logs nothing to the client", async () => {
    const service = await createService(t.app);
    // Break the database under the running app: the query fails in a way no route expects.
    await t.app.ctx.db.$executeRawUnsafe(`ALTER TABLE "Group" RENAME TO "GroupGone"`);
    const res = await t.app.inject({ method: "GET", url: "/api/groups", headers: admin.headers });
    const error = expectError(res, 500, "internal");
    expect(error).toEqual({ code: "internal", message: "internal error; the server log has the details" });
    expect(res.body).not.toContain("GroupGone");
    await t.app.ctx.db.$executeRawUnsafe(`ALTER TABLE "GroupGone" RENAME TO "Group"`);
    expect((await t.app.inject({ method: "GET", url: `/api/services/${service.id}`, headers: admin.headers })).statusCode).toBe(200);
  });
});
