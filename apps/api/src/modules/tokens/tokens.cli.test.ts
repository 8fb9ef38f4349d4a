// `postern token create` and `postern token revoke`, run as the real command in a child process
// against the same database the API serves.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { postern as runPostern, type CliResult } from "../../../test/cli";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";

function postern(args: string[], databaseUrl: string, cwd: string): Promise<CliResult> {
  return runPostern(args, { DATABASE_URL: databaseUrl }, cwd);
}

// One database is enough: the commands call the same services the API tests run on both.
describe("postern token (sqlite)", () => {
  let t: TestApp;
  let member: TestUser;
  let cwd: string;

  beforeEach(async () => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), "postern-cli-"));
    t = await buildTestApp("sqlite");
    member = await createUser(t.app);
  });
  afterEach(async () => {
    await t.close();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it("creates service and personal tokens that the API accepts, refuses bad input, revokes", { timeout: 240_000 }, async () => {
    const created = await postern(["token", "create", "--name", "monitor", "--scope", "relay:send", "sessions:read", "--expires", "2099-01-01T00:00:00Z"], t.url, cwd);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const secret = /token: (pst_\S+)/.exec(created.stdout)?.[1] ?? "";
    const id = /\((\w+)\)/.exec(created.stdout)?.[1] ?? "";
    expect(created.stdout).toContain("service token monitor");
    const row = await t.app.ctx.db.apiToken.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ userId: null, scopes: "relay:send sessions:read" });
    // The random part is base64url and may itself hold "_", so it is everything after the prefix.
    const randomPart = /^pst_[0-9a-f]{12}_(.{43})$/.exec(secret)?.[1];
    expect(randomPart).toHaveLength(43);
    expect(row.secretHash).not.toContain(randomPart);
    // A service token is no user: the route refuses it with 403, but the token itself was accepted (not 401).
    expect((await t.app.inject({ url: "/api/sessions", headers: { authorization: `Bearer ${secret}` } })).statusCode).toBe(403);
    await t.app.tokenUsage.flush();
    expect((await t.app.ctx.db.apiToken.findUniqueOrThrow({ where: { id } })).lastUsedAt).not.toBeNull();

    const personal = await postern(["token", "create", "--name", "mine", "--scope", "sessions:read", "--user", member.username], t.url, cwd);
    expect(personal.code).toBe(0);
    const mine = /token: (pst_\S+)/.exec(personal.stdout)?.[1] ?? "";
    const me = await t.app.inject({ url: "/api/me", headers: { "x-access-tokens": mine } });
    expect(me.json()).toMatchObject({ user: { id: member.id } });

    const tooMuch = await postern(["token", "create", "--name", "x", "--scope", "admin", "--user", member.username], t.url, cwd);
    expect(tooMuch.code).not.toBe(0);
    expect(tooMuch.stderr).toContain("admin");
    const badScope = await postern(["token", "create", "--name", "x", "--scope", "root"], t.url, cwd);
    expect(badScope.code).not.toBe(0);
    expect(badScope.stderr).toMatch(/--scope/);
    const badExpiry = await postern(["token", "create", "--name", "x", "--scope", "agent", "--expires", "tomorrow"], t.url, cwd);
    expect(badExpiry.code).not.toBe(0);
    expect(badExpiry.stderr).toMatch(/--expires/);

    const revoked = await postern(["token", "revoke", id], t.url, cwd);
    expect(revoked.code).toBe(0);
    // The running server hears of the CLI's change from the live log, within its next read.
    await expect.poll(async () => (await t.app.inject({ url: "/api/sessions", headers: { authorization: `Bearer ${secret}` } })).statusCode).toBe(401);
    const missing = await postern(["token", "revoke", "nope"], t.url, cwd);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toBe("postern: token not found");

    const actions = (await t.app.ctx.db.auditEvent.findMany({ where: { action: { startsWith: "token." } }, orderBy: { seq: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(["token.created", "token.created", "token.revoked"]);
  });
});
