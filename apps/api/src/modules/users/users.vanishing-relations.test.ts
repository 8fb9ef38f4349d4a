// A user's groups (and a group's members) come from Prisma in one statement per relation, and each
// statement sees the database as it is when it starts. A group deleted between the membership
// read and the group read left a membership with a null group, and presenting it was a 500: seen
// as a rare failure of revocation.test.ts on PostgreSQL (a user disabled while their group was
// deleted). Here the deletion lands between the two statements every time (between-statements.ts)
// and the answer is the state after it: the group is gone, so is the membership.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TGroup, TMe, TUser } from "@postern/contracts";
import { buildTestApp, createGroup, createUser, type TestApp, type TestUser } from "../../../test/app";
import { beforeStatement, sqliteWriter } from "../../../test/between-statements";
import { providers } from "../../../test/databases";

/** Prisma's read of groups by id, the include's second statement, as each provider spells it. */
const groupsById = { postgres: 'SELECT "public"."Group"."id"', sqlite: "SELECT `main`.`Group`.`id`" } as const;

describe.each(providers)("a relation deleted during a read, on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    t = await buildTestApp(provider);
    admin = await createUser(t.app, { role: "admin" });
  });
  afterAll(async () => t?.close());

  /** Deletes the group as another request (PostgreSQL) or another process (SQLite) would. */
  const deleteGroup = (id: string) => {
    if (provider === "postgres") {
      return t.app.inject({ method: "DELETE", url: `/api/groups/${id}`, headers: admin.headers }).then((res) => {
        expect(res.statusCode, res.body).toBe(204);
      });
    }
    const db = sqliteWriter(t.url);
    try {
      expect(db.prepare('DELETE FROM "Group" WHERE "id" = ?').run(id).changes).toBe(1);
    } finally {
      db.close();
    }
  };

  it("a login while one of the user's groups is deleted answers with the groups that remain", async () => {
    const [kept, doomed] = [await createGroup(t.app, `kept-${provider}`), await createGroup(t.app, `doomed-${provider}`)];
    const user = await createUser(t.app, { groupIds: [kept.id, doomed.id] });
    const between = beforeStatement(provider, groupsById[provider], () => deleteGroup(doomed.id));
    try {
      const res = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: user.username, password: user.password } });
      expect(between.happened).toBe(true);
      expect(res.statusCode, res.body).toBe(200);
      expect((res.json() as TMe).user.groups).toEqual([{ id: kept.id, name: kept.name }]);
    } finally {
      between.restore();
    }
  });

  // On SQLite a change is one writer's turn: nothing else commits between its statements.
  it.runIf(provider === "postgres")("disabling a user while their group is deleted disables them, without that group", async () => {
    const group = await createGroup(t.app);
    const user = await createUser(t.app, { groupIds: [group.id] });
    // The first read of groups is the user as they were; the second, the user as the change left them.
    const between = beforeStatement(provider, groupsById.postgres, () => deleteGroup(group.id), 1);
    try {
      const res = await t.app.inject({ method: "PATCH", url: `/api/users/${user.id}`, headers: admin.headers, payload: { disabled: true } });
      expect(between.happened).toBe(true);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json() as TUser).toMatchObject({ id: user.id, disabled: true, groups: [] });
    } finally {
      between.restore();
    }
    const disabled = await t.app.ctx.db.auditEvent.findFirst({ where: { action: "user.disabled", target: `user:${user.id}` } });
    expect(disabled).not.toBeNull();
  });

  it.runIf(provider === "postgres")("renaming a group while one of its members is deleted lists the members that remain", async () => {
    const group = await createGroup(t.app);
    const [stays, goes] = [await createUser(t.app, { groupIds: [group.id] }), await createUser(t.app, { groupIds: [group.id] })];
    const between = beforeStatement(provider, 'SELECT "public"."User"."id"', () =>
      t.app.inject({ method: "DELETE", url: `/api/users/${goes.id}`, headers: admin.headers }).then((res) => expect(res.statusCode, res.body).toBe(204)),
    );
    try {
      const res = await t.app.inject({ method: "PATCH", url: `/api/groups/${group.id}`, headers: admin.headers, payload: { name: `renamed-${group.id}` } });
      expect(between.happened).toBe(true);
      expect(res.statusCode, res.body).toBe(200);
      expect((res.json() as TGroup).members?.map((m) => m.id)).toEqual([stays.id]);
    } finally {
      between.restore();
    }
  });
});
