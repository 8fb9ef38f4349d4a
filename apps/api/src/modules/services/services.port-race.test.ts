// Two admins binding services to one gateway's public port at the same moment (PostgreSQL, two
// instances): both pass the services API's check before either is saved. The database's unique
// index on (gateway, port, protocol) takes the second; it is refused with a 409 naming the field,
// as the check would have, not saved beside the first. SQLite's changes are one writer's turns:
// nothing commits in between.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import { beforeStatement } from "../../../test/between-statements";
import { createAgentToken, listen, ScriptedAgent } from "../gateway/gateway.testkit";

describe("two services bound to one gateway port at once, on postgres", () => {
  let t: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    t = await buildTestApp("postgres");
    admin = await createUser(t.app, { role: "admin" });
  });
  afterAll(async () => t?.close());

  it("saves the first and refuses the second with a 409 naming the port", async () => {
    const agent = await ScriptedAgent.connect(await listen(t.app), { authorization: `Bearer ${await createAgentToken(t.app)}` });
    agent.send({ type: "hello", name: "edge-race", driver: "dry-run" });
    const { agentId } = await agent.next("welcome");
    const bind = (slug: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/services",
        headers: admin.headers,
        payload: { name: slug, slug, kind: "tcp", maxDurationSeconds: 600, gateway: { agentId, publicPort: 18200, lanHost: "10.9.0.2", lanPort: 80, protocol: "tcp" } },
      });
    let first = 0;
    // The second request has passed the check; the first is saved before its insert.
    const between = beforeStatement("postgres", 'INSERT INTO "public"."Service"', async () => {
      first = (await bind("first")).statusCode;
    });
    try {
      const second = await bind("second");
      expect([between.happened, first]).toEqual([true, 201]);
      expect(second.statusCode, second.body).toBe(409);
      expect(ZErrorBody.parse(second.json()).error.message).toContain("gateway.publicPort: already taken");
      expect(second.json()).toMatchObject({ error: { details: [{ field: "body.gateway.publicPort" }] } });
    } finally {
      between.restore();
      agent.close();
    }
    expect(await t.app.ctx.db.service.count({ where: { gatewayAgentId: agentId, gatewayPublicPort: 18200 } })).toBe(1);
  });
});
