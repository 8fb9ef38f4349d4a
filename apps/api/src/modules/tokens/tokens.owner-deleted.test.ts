// A token made by a user whom an admin deletes at that moment: the insert names an owner that is
// gone (on PostgreSQL the deletion can commit between the caller's check and the insert). The
// change runs once more (retryOnConflict), the owner is still gone, and the answer is a 409 that
// says so, not a 500. SQLite's changes are one writer's turns: nothing commits in between.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import { beforeStatement } from "../../../test/between-statements";

describe("a token made while its owner is deleted, on postgres", () => {
  let t: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    t = await buildTestApp("postgres");
    admin = await createUser(t.app, { role: "admin" });
  });
  afterAll(async () => t?.close());

  it("is refused with a 409, and nothing of it is saved", async () => {
    const owner = await createUser(t.app);
    let deleted = 0;
    const between = beforeStatement("postgres", 'INSERT INTO "public"."ApiToken"', async () => {
      deleted = (await t.app.inject({ method: "DELETE", url: `/api/users/${owner.id}`, headers: admin.headers })).statusCode;
    });
    try {
      const res = await t.app.inject({ method: "POST", url: "/api/tokens", headers: owner.headers, payload: { name: "monitor", scopes: ["sessions:read"] } });
      expect([between.happened, deleted]).toEqual([true, 204]);
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json()).toEqual({ error: { code: "conflict", message: "something this change refers to was deleted at the same moment; nothing was saved" } });
    } finally {
      between.restore();
    }
    expect(await t.app.ctx.db.apiToken.count({ where: { name: "monitor" } })).toBe(0);
    expect(await t.app.ctx.db.auditEvent.count({ where: { action: "token.created" } })).toBe(0);
  });
});
