// Two admin changes at once on PostgreSQL, the second started between two statements of the first
// every time (between-statements.ts). Each read what it judged before the other committed:
//   - two admins demoting (or disabling) each other each counted the other and left none;
//   - two replacements of a service's or a user's groups merged into a set neither admin chose.
// SQLite needs no test: its changes are one writer's turns.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { beforeStatement, finishedOrWaiting } from "../../../test/between-statements";

describe("admin changes racing each other, on postgres", { timeout: 60_000 }, () => {
  let t: TestApp;
  let watcher: pg.Client;

  beforeAll(async () => {
    t = await buildTestApp("postgres");
    watcher = new pg.Client({ connectionString: t.url });
    await watcher.connect();
  });
  afterAll(async () => {
    await watcher?.end();
    await t?.close();
  });


  /** Runs `first`, with `second` started just before its statement beginning with `prefix`; both answers. */
  async function interleave(prefix: string, first: () => Promise<number>, second: () => Promise<number>): Promise<[number, number]> {
    let other: Promise<number> | undefined;
    const between = beforeStatement("postgres", prefix, () => {
      other = second();
      return finishedOrWaiting(watcher, other);
    });
    try {
      const a = await first();
      expect(between.happened).toBe(true);
      return [a, await other!];
    } finally {
      between.restore();
    }
  }

  const patch = (by: TestUser, url: string, payload: object) => () =>
    t.app.inject({ method: "PATCH", url, headers: by.headers, payload }).then((res) => res.statusCode);

  it.each([
    ["demoting", { role: "member" }],
    ["disabling", { disabled: true }],
  ])("two admins %s each other leave one admin", async (_what, payload) => {
    const a = await createUser(t.app, { role: "admin" });
    const b = await createUser(t.app, { role: "admin" });
    // Every other admin out of the way, so that these two are the last.
    await t.app.ctx.db.user.updateMany({ where: { id: { notIn: [a.id, b.id] }, role: "admin" }, data: { role: "member" } });
    const answers = await interleave('UPDATE "public"."User"', patch(a, `/api/users/${b.id}`, payload), patch(b, `/api/users/${a.id}`, payload));
    expect(answers.sort()).toEqual([200, 400]);
    expect(await t.app.ctx.db.user.count({ where: { role: "admin", disabled: false } })).toBe(1);
  });

  it("two replacements of a service's groups: the later one stands", async () => {
    const admin = await createUser(t.app, { role: "admin" });
    const [g1, g2, g3] = [await createGroup(t.app), await createGroup(t.app), await createGroup(t.app)];
    const service = await createService(t.app, { groupIds: [g1.id] });
    const answers = await interleave(
      'INSERT INTO "public"."ServiceGroup"',
      patch(admin, `/api/services/${service.id}`, { groupIds: [g2.id] }),
      patch(admin, `/api/services/${service.id}`, { groupIds: [g3.id] }),
    );
    expect(answers).toEqual([200, 200]);
    const groups = await t.app.ctx.db.serviceGroup.findMany({ where: { serviceId: service.id } });
    expect(groups.map((g) => g.groupId)).toEqual([g3.id]);
  });

  it("two replacements of a user's groups: the later one stands", async () => {
    const admin = await createUser(t.app, { role: "admin" });
    const member = await createUser(t.app);
    const [g1, g2] = [await createGroup(t.app), await createGroup(t.app)];
    const answers = await interleave(
      'INSERT INTO "public"."GroupMember"',
      patch(admin, `/api/users/${member.id}`, { groupIds: [g1.id] }),
      patch(admin, `/api/users/${member.id}`, { groupIds: [g2.id] }),
    );
    expect(answers).toEqual([200, 200]);
    const groups = await t.app.ctx.db.groupMember.findMany({ where: { userId: member.id } });
    expect(groups.map((g) => g.groupId)).toEqual([g2.id]);
  });
});
