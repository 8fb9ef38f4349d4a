// A change that puts someone or something in a group (a new user, a user's groups, a service's
// groups, an OIDC login's groups claim) checks the group exists and then writes the membership.
// On PostgreSQL a deletion of the group could commit between the two, and the write failed on its
// foreign key: a 500, the change lost. Now the check holds the groups until the change commits
// (FOR KEY SHARE): the deletion waits, then takes the new membership with it. Here the deletion is
// started between the check and the write every time (between-statements.ts). SQLite needs no
// test: its changes are one writer's turns, and nothing commits between a change's statements.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TService, TUser } from "@postern/contracts";
import { buildTestApp, createGroup, createUser, type TestApp, type TestUser } from "../../../test/app";
import { beforeStatement, finishedOrWaiting } from "../../../test/between-statements";
import { loginOidc } from "../auth/oidc.service";

describe("a group deleted while a change adds to it, on postgres", () => {
  let t: TestApp;
  let admin: TestUser;
  let watcher: pg.Client;

  beforeAll(async () => {
    t = await buildTestApp("postgres");
    admin = await createUser(t.app, { role: "admin" });
    watcher = new pg.Client({ connectionString: t.url });
    await watcher.connect();
  });
  afterAll(async () => {
    await watcher?.end();
    await t?.close();
  });


  /**
   * Runs `change` with the group's deletion started just before the statement that starts with
   * `prefix`; the change must succeed, and so must the deletion once it commits.
   */
  async function withDeletionBefore<T>(groupId: string, prefix: string, change: () => Promise<T>): Promise<T> {
    let deletion: Promise<number> | undefined;
    const between = beforeStatement("postgres", prefix, () => {
      deletion = t.app.inject({ method: "DELETE", url: `/api/groups/${groupId}`, headers: admin.headers }).then((res) => res.statusCode);
      return finishedOrWaiting(watcher, deletion);
    });
    try {
      const result = await change();
      expect(between.happened).toBe(true);
      expect(await deletion).toBe(204);
      return result;
    } finally {
      between.restore();
    }
  }

  const api = async (method: "POST" | "PATCH", url: string, payload: object, status: number) => {
    const res = await t.app.inject({ method, url, headers: admin.headers, payload });
    expect(res.statusCode, res.body).toBe(status);
    return res.json() as unknown;
  };

  it("creating a user in it", async () => {
    const group = await createGroup(t.app);
    const created = await withDeletionBefore(group.id, 'INSERT INTO "public"."GroupMember"', () =>
      api("POST", "/api/users", { username: `held-${group.id}`, password: "a-long-enough-password", groupIds: [group.id] }, 201),
    );
    expect((created as TUser).groups).toEqual([{ id: group.id, name: group.name }]);
    expect(await t.app.ctx.db.groupMember.count({ where: { groupId: group.id } })).toBe(0);
  });

  it("adding a user to it", async () => {
    const group = await createGroup(t.app);
    const user = await createUser(t.app);
    await withDeletionBefore(group.id, 'INSERT INTO "public"."GroupMember"', () => api("PATCH", `/api/users/${user.id}`, { groupIds: [group.id] }, 200));
    expect(await t.app.ctx.db.groupMember.count({ where: { userId: user.id } })).toBe(0);
  });

  it("giving a service to it", async () => {
    const group = await createGroup(t.app);
    const service = (await api("POST", "/api/services", { name: `held-${group.id}`, slug: `held-${group.id}`, kind: "web", maxDurationSeconds: 3600 }, 201)) as TService;
    await withDeletionBefore(group.id, 'INSERT INTO "public"."ServiceGroup"', () => api("PATCH", `/api/services/${service.id}`, { groupIds: [group.id] }, 200));
    expect(await t.app.ctx.db.serviceGroup.count({ where: { serviceId: service.id } })).toBe(0);
  });

  it("an OIDC login whose groups claim names it", async () => {
    const group = await createGroup(t.app);
    const provider = { id: "idp", issuer: "https://idp.example.test", clientId: "postern", name: "IdP", groupsClaim: "groups", allowSignup: true, linkByEmail: false, scopes: "openid" };
    const claims = { sub: `subject-${group.id}`, preferred_username: `oidc-${group.id}`, groups: [group.name] };
    const { user } = await withDeletionBefore(group.id, 'INSERT INTO "public"."GroupMember"', () =>
      loginOidc(t.app.ctx, { provider, issuer: provider.issuer, claims, idToken: "id-token" }, { ip: "127.0.0.1" }),
    );
    expect(await t.app.ctx.db.groupMember.count({ where: { userId: user.id } })).toBe(0);
  });
});
