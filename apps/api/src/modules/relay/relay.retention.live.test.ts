// Pruning is a change like any other: an admin's open relay page hears which messages went, over
// the real live websocket, and the audit trail records it; members hear nothing of the relay.
import { describe, expect, it } from "vitest";
import { createUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { liveTestBed } from "../live/live.test-bed";
import { hasEvent } from "../live/live.test-client";
import { pruneMessages } from "./relay.retention";

const DAY = 86_400_000;

describe.each(providers)("relay pruning on the live stream (%s)", (provider) => {
  const bed = liveTestBed(provider);

  it("announces the pruned messages to admins, batch by batch, after they are gone", async () => {
    const db = bed.t.app.ctx.db;
    const daysAgo = (days: number) => new Date(bed.t.app.ctx.now().getTime() - days * DAY);
    const old = [
      { status: "sent", createdAt: daysAgo(50), sentAt: daysAgo(40) },
      { status: "failed", createdAt: daysAgo(50), failedAt: daysAgo(40) },
      { status: "sent", createdAt: daysAgo(60), sentAt: daysAgo(59) },
    ];
    const oldIds: string[] = [];
    for (const [i, row] of old.entries()) oldIds.push((await db.message.create({ data: { message: `old ${i}`, nextAttemptAt: row.createdAt, ...row } })).id);
    const kept = await db.message.create({ data: { message: "recent", status: "failed", createdAt: daysAgo(50), failedAt: daysAgo(1), nextAttemptAt: daysAgo(50) } });

    const member = await createUser(bed.t.app);
    const adminLive = await bed.open(bed.admin);
    const memberLive = await bed.open(member);
    await adminLive.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the admin's snapshot");
    await memberLive.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the member's snapshot");

    // Batches of two: three old messages make two changes, each announced with its own ids.
    expect(await pruneMessages(bed.t.app.ctx, 30, 2)).toBe(3);
    await adminLive.waitFor(hasEvent("message.pruned", 2), "two message.pruned events");
    const pruned = adminLive.events().flatMap((m) => (m.event.type === "message.pruned" ? [m.event] : []));
    expect(pruned.map((e) => e.ids.length)).toEqual([2, 1]);
    expect(pruned.flatMap((e) => e.ids).sort()).toEqual([...oldIds].sort());
    expect(pruned.every((e) => e.retainDays === 30)).toBe(true);
    // Announced after the commit: the rows are gone by the time the page hears of it.
    expect((await db.message.findMany({ select: { id: true } })).map((m) => m.id)).toEqual([kept.id]);

    const audit = await db.auditEvent.findMany({ where: { action: "message.pruned" }, orderBy: { seq: "asc" } });
    expect(audit.map((a) => [a.actorId, JSON.parse(a.details ?? "{}")])).toEqual([
      [null, { count: 2, retainDays: 30 }],
      [null, { count: 1, retainDays: 30 }],
    ]);

    // Nothing left to prune: nothing announced.
    expect(await pruneMessages(bed.t.app.ctx, 30, 2)).toBe(0);
    // Let any frame still on its way to the member arrive before looking.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(memberLive.events().filter((m) => m.event.type.startsWith("message."))).toEqual([]);
    expect(adminLive.events().filter((m) => m.event.type === "message.pruned")).toHaveLength(2);
  });
});
