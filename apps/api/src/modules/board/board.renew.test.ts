// A board that shows a gateway under a stream of doors: an agent's event that comes while the board
// is being read is applied to it once read (not a reason to read every board again), and a board
// grown old by age answers at once while it is read again.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TAgentStatus, TDomainEvent } from "@postern/contracts";
import { buildTestApp, createService, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";
import { ADMIN_CLASS } from "../live/live.audience";
import { BoardCache, type BoardView } from "./board.cache";

describe.each(providers)("a board with a gateway, kept by the cache (%s)", { timeout: 60_000 }, (provider) => {
  let t: TestApp;
  let agent: TAgentStatus;
  let serviceId: string;

  beforeAll(async () => {
    t = await buildTestApp(provider);
    const row = await t.app.ctx.db.agent.create({ data: { name: `edge-${provider}`, online: true, lastSeenAt: new Date(), rulesApplied: 0, rulesDesired: 0 } });
    agent = { id: row.id, name: row.name, online: true, inSync: true, rulesApplied: 0, rulesDesired: 0 };
    serviceId = (await createService(t.app)).id;
    await t.app.ctx.db.service.update({
      where: { id: serviceId },
      data: { gatewayAgentId: row.id, gatewayPublicPort: 18080, gatewayLanHost: "10.9.0.2", gatewayLanPort: 80, gatewayProtocol: "tcp" },
    });
  });
  afterAll(async () => t.close());

  const statusOn = (board: BoardView) => board.byId.get(serviceId)?.gatewayStatus;
  /** What the agent reports after a door failed; the database still says it is in sync. */
  const failed = (seq: number): [TDomainEvent, number] => [
    { type: "agent.rules_applied", agent: { ...agent, inSync: false, error: "nft lacks privileges", rulesDesired: 1 }, serviceIds: [serviceId], added: 0, removed: 0 },
    seq,
  ];

  it("applies an agent's event noticed during the read, with no second read", async () => {
    const cache = new BoardCache(t.app.ctx);
    const reading = cache.view(ADMIN_CLASS);
    cache.notice(...failed(10));
    const board = await reading;
    expect(statusOn(board)).toEqual({ online: true, inSync: false, error: "nft lacks privileges" });
    expect(cache.reads).toBe(1);
    expect(cache.peek(ADMIN_CLASS)).toBe(board);
    // An older event of the same agent, noticed later, is not applied over it.
    cache.notice({ ...failed(9)[0], agent: { ...agent } } as TDomainEvent, 9);
    expect(statusOn(cache.peek(ADMIN_CLASS)!)).toEqual({ online: true, inSync: false, error: "nft lacks privileges" });
  });

  it("answers with an old board at once while reading it again, and waits once it is very old", async () => {
    const cache = new BoardCache(t.app.ctx);
    const first = await cache.view(ADMIN_CLASS);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 6_000 });
    try {
      expect(cache.current(ADMIN_CLASS)).toBeUndefined();
      expect(await cache.view(ADMIN_CLASS)).toBe(first);
      expect(cache.reads).toBe(2);
      // Events reach the read under way as well as the board that answers meanwhile.
      cache.notice(...failed(20));
      const moved = cache.peek(ADMIN_CLASS)!;
      expect(statusOn(moved)).toMatchObject({ inSync: false });
      for (let i = 0; i < 200 && cache.peek(ADMIN_CLASS) === moved; i++) await new Promise((r) => setTimeout(r, 10));
      const renewed = cache.peek(ADMIN_CLASS)!;
      expect(renewed).not.toBe(moved);
      expect(statusOn(renewed)).toEqual({ online: true, inSync: false, error: "nft lacks privileges" });
      expect(cache.current(ADMIN_CLASS)).toBe(renewed);

      // Past the age it may answer at (the database down, say), a request waits for a read.
      vi.setSystemTime(Date.now() + 25_000);
      const waited = cache.view(ADMIN_CLASS);
      expect(cache.reads).toBe(3);
      expect(await waited).not.toBe(renewed);
    } finally {
      vi.useRealTimers();
    }
  });
});
