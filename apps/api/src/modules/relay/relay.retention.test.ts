// Relay retention on real databases: a message's age counts from when it settled (sent or failed),
// not from when it was queued, so a message retried for days is not deleted the moment it fails.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildTestApp, testClock, type TestApp, type TestClock } from "../../../test/app";
import { providers } from "../../../test/databases";
import { claimMessage, recordAttempt } from "./relay.service";
import { presentMessage } from "./relay.presenter";
import { pruneMessages } from "./relay.retention";

const DAY = 86_400_000;
const TO = ["ops@example.test"];

describe.each(providers)("relay retention (%s)", (provider) => {
  let t: TestApp | undefined;
  let clock: TestClock;

  beforeEach(async () => {
    clock = testClock();
    // 0: the plugin's own pruning at start-up stays out of the way; the tests prune by hand.
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_RELAY_RETAIN_DAYS: "0" } });
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const daysAgo = (days: number) => new Date(clock.now().getTime() - days * DAY);
  const names = async () =>
    (await t!.app.ctx.db.message.findMany({ orderBy: { message: "asc" }, select: { message: true } })).map((m) => m.message);

  /** A message queued `queuedDaysAgo` days ago, settled now by one real attempt through the queue. */
  async function settleNow(name: string, queuedDaysAgo: number, outcome: "sent" | "failed") {
    const ctx = t!.app.ctx;
    const row = await ctx.db.message.create({
      data: { message: name, status: "queued", attempts: 3, createdAt: daysAgo(queuedDaysAgo), nextAttemptAt: daysAgo(0) },
    });
    const claimed = await claimMessage(ctx, row.id, 60_000);
    if (!claimed) throw new Error("the message could not be claimed");
    const result =
      outcome === "sent"
        ? { delivered: TO, missed: [] }
        : { delivered: [], missed: [{ address: TO[0]!, reason: "550 no such user", refused: true }] };
    const after = await recordAttempt(ctx, claimed.row, claimed.lease, result, { to: TO, retryInMs: 1000, maxAttempts: 8 });
    expect(after?.status).toBe(outcome);
    return after!;
  }

  it("keeps a message queued long ago that settled just now, and prunes it once it has been settled that long", async () => {
    const settling = clock.now();
    const failed = await settleNow("failed now, queued 20 days ago", 20, "failed");
    await settleNow("sent now, queued 20 days ago", 20, "sent");

    expect(await pruneMessages(t!.app.ctx, 7)).toBe(0);
    expect(await names()).toEqual(["failed now, queued 20 days ago", "sent now, queued 20 days ago"]);
    expect(failed.failedAt!.getTime()).toBeGreaterThanOrEqual(settling.getTime());
    // SPEC's Message shape has no failedAt: when it failed is the pruning's to know, not the API's.
    expect(Object.keys(presentMessage(failed))).not.toContain("failedAt");

    clock.advance(6 * DAY);
    expect(await pruneMessages(t!.app.ctx, 7)).toBe(0);
    clock.advance(2 * DAY);
    expect(await pruneMessages(t!.app.ctx, 7)).toBe(2);
    expect(await names()).toEqual([]);
  });

  it("prunes by sentAt and failedAt, and by createdAt only for a message that failed before failedAt was kept", async () => {
    const db = t!.app.ctx.db;
    const rows = {
      sentLongAgo: { status: "sent", createdAt: daysAgo(12), sentAt: daysAgo(10) },
      sentLately: { status: "sent", createdAt: daysAgo(12), sentAt: daysAgo(2) },
      failedLongAgo: { status: "failed", createdAt: daysAgo(12), failedAt: daysAgo(10) },
      failedLately: { status: "failed", createdAt: daysAgo(12), failedAt: daysAgo(2) },
      // Failed before the column existed: its queueing is all there is to go by.
      legacyFailedOld: { status: "failed", createdAt: daysAgo(12), failedAt: null },
      legacyFailedNew: { status: "failed", createdAt: daysAgo(2), failedAt: null },
      queuedForever: { status: "queued", createdAt: daysAgo(400) },
    };
    for (const [name, row] of Object.entries(rows)) await db.message.create({ data: { message: name, nextAttemptAt: row.createdAt, ...row } });

    expect(await pruneMessages(t!.app.ctx, 7)).toBe(3);
    expect(await names()).toEqual(["failedLately", "legacyFailedNew", "queuedForever", "sentLately"]);
    expect(await pruneMessages(t!.app.ctx, 7)).toBe(0);
  });
});
