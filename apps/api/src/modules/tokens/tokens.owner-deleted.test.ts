// A token made by a user whom an admin deletes or disables at that moment (on PostgreSQL the change
// can commit between the caller's check and the insert). Deleted: the insert names an owner that
// is gone, the change runs once more (retryOnConflict), the owner is still gone, and the answer is
// a 409 that says so, not a 500. Disabled: the owner's row, held and read again, refuses it; else
// the disable's revocation of the owner's tokens would have missed it. SQLite's changes are one
// writer's turns: nothing commits in between.
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
    // Before the owner's row is held: once it is, the deletion waits for the token and takes it along.
    const between = beforeStatement("postgres", 'SELECT "id", "username", "disabled", "passwordHash" FROM "User"', async () => {
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

  it("is refused when its owner is disabled at that moment, and the disable's revocation misses nothing", async () => {
    const owner = await createUser(t.app);
    let disabled = 0;
    const between = beforeStatement("postgres", 'SELECT "id", "username", "disabled", "passwordHash" FROM "User"', async () => {
      disabled = (await t.app.inject({ method: "PATCH", url: `/api/users/${owner.id}`, headers: admin.headers, payload: { disabled: true } })).statusCode;
    });
    try {
      const res = await t.app.inject({ method: "POST", url: "/api/tokens", headers: owner.headers, payload: { name: "late", scopes: ["sessions:read"] } });
      expect([between.happened, disabled]).toEqual([true, 200]);
      expect(res.statusCode, res.body).toBe(401);
    } finally {
      between.restore();
    }
    // Enabled again, the owner has no token they made while being disabled.
    expect((await t.app.inject({ method: "PATCH", url: `/api/users/${owner.id}`, headers: admin.headers, payload: { disabled: false } })).statusCode).toBe(200);
    expect(await t.app.ctx.db.apiToken.count({ where: { name: "late", revokedAt: null } })).toBe(0);
  });
});
