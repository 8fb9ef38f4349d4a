// The dispatcher takes each change once, in order, whichever way it arrives first: a local
// commit, or (PostgreSQL) the change's own notification, which can overtake the commit's answer.
import { describe, expect, it } from "vitest";
import type { LogRecord } from "../modules/live/live.log";
import { ChangeDispatcher } from "./changes";

const record = (seq: number): LogRecord => ({
  seq,
  event: { type: "group.created", group: { id: `g${seq}`, name: `group ${seq}` } },
  audience: { to: "admins" },
});

function dispatcher() {
  const d = new ChangeDispatcher((err) => {
    throw err;
  });
  let wakes = 0;
  d.attachReader({ wake: () => void (wakes += 1), settled: async () => {} });
  const seen: number[] = [];
  d.subscribe((r) => seen.push(r.seq));
  return { d, seen, wakes: () => wakes };
}

describe("the change dispatcher", () => {
  it("does not read the log for a local commit its notification already brought", async () => {
    const { d, seen, wakes } = dispatcher();
    d.lastSeq = 4;
    d.deliver([record(5)]);
    d.committed([record(5)]);
    d.committed([record(6)]);
    await d.settled();
    expect(seen).toEqual([5, 6]);
    expect(wakes()).toBe(0);
  });

  it("reads the log after a gap, and takes nothing out of order", async () => {
    const { d, seen, wakes } = dispatcher();
    d.lastSeq = 4;
    d.committed([record(7)]);
    await d.settled();
    expect(seen).toEqual([]);
    expect(wakes()).toBe(1);
    d.deliver([record(5), record(6), record(7)]);
    await d.settled();
    expect(seen).toEqual([5, 6, 7]);
  });

  it("holds a change that came ahead of a gap until the change before it arrives, without reading the log", async () => {
    const { d, seen, wakes } = dispatcher();
    d.gapWaitMs = 20;
    d.lastSeq = 4;
    // Another instance committed 5 first; this one's commit (6) was answered before 5's
    // notification arrived.
    d.committed([record(6)]);
    d.offer([record(7)]);
    await d.settled();
    expect(seen).toEqual([]);
    d.offer([record(5)]);
    await d.settled();
    expect(seen).toEqual([5, 6, 7]);
    await new Promise((r) => setTimeout(r, 40));
    expect(wakes()).toBe(0);
  });

  it("reads the log once a gap has stayed open for its wait, and takes each change once", async () => {
    const { d, seen, wakes } = dispatcher();
    d.gapWaitMs = 20;
    d.lastSeq = 4;
    d.committed([record(6)]);
    d.offer([record(7)]);
    expect(wakes()).toBe(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(wakes()).toBe(1);
    // The log: 5 was rolled back after taking its seq; 6 and 7 are read again.
    d.deliver([record(6), record(7)]);
    d.offer([record(8)]);
    await d.settled();
    expect(seen).toEqual([6, 7, 8]);
    await new Promise((r) => setTimeout(r, 40));
    expect(wakes()).toBe(1);
  });

  it("runs consumers before the commit's caller goes on while the audience is small, after the turn otherwise", async () => {
    const { d, seen } = dispatcher();
    let audience = 2;
    d.runAtOnceWhile(() => audience <= 32);
    d.committed([record(1)]);
    expect(seen).toEqual([1]);
    audience = 10_000;
    d.committed([record(2)]);
    expect(seen).toEqual([1]);
    await d.settled();
    expect(seen).toEqual([1, 2]);
  });

  it("keeps the order when a consumer running at once hears of another change", () => {
    const { d, seen } = dispatcher();
    d.runAtOnceWhile(() => true);
    d.subscribe((r) => {
      if (r.seq === 1) d.deliver([record(2)]);
    });
    d.committed([record(1)]);
    expect(seen).toEqual([1, 2]);
  });

  describe("a consumer that hears this process's changes at commit", () => {
    function atCommit() {
      const { d, seen } = dispatcher();
      const heard: number[] = [];
      d.subscribeAtCommit((r) => heard.push(r.seq));
      return { d, seen, heard };
    }

    it("hears a local change before the commit's caller goes on, and not again from the drain", async () => {
      const { d, seen, heard } = atCommit();
      d.lastSeq = 4;
      d.committed([record(5), record(6)]);
      expect(heard).toEqual([5, 6]);
      expect(seen).toEqual([]);
      await d.settled();
      expect(seen).toEqual([5, 6]);
      expect(heard).toEqual([5, 6]);
    });

    it("hears a change once when its notification brought it first, drained or not", async () => {
      const { d, heard } = atCommit();
      d.lastSeq = 4;
      d.deliver([record(5)]);
      await d.settled();
      d.committed([record(5)]);
      d.deliver([record(6)]);
      d.committed([record(6)]);
      await d.settled();
      expect(heard).toEqual([5, 6]);
    });

    it("hears others' changes in order, and its own ahead of a gap only once", async () => {
      const { d, seen, heard } = atCommit();
      d.gapWaitMs = 20;
      d.lastSeq = 4;
      d.committed([record(6)]);
      d.offer([record(5)]);
      await d.settled();
      expect(heard).toEqual([6, 5]);
      expect(seen).toEqual([5, 6]);
    });

    it("hears with the consumers when the audience is small, before them and once", () => {
      const { d, heard } = atCommit();
      const order: string[] = [];
      d.subscribeAtCommit((r) => order.push(`cache ${r.seq}`));
      d.subscribe((r) => order.push(`effect ${r.seq}`));
      d.runAtOnceWhile(() => true);
      d.committed([record(1)]);
      d.offer([record(2)]);
      expect(heard).toEqual([1, 2]);
      expect(order).toEqual(["cache 1", "effect 1", "cache 2", "effect 2"]);
    });
  });
  describe("catching up for a board read that names a change (reach)", () => {
    /** A dispatcher whose log read, when asked for, finds `inLog` after the cursor. */
    function withLog(inLog: LogRecord[], reads: { settle: boolean } = { settle: true }) {
      const d = new ChangeDispatcher((err) => {
        throw err;
      });
      const order: string[] = [];
      d.subscribeAtCommit((r) => order.push(`cache ${r.seq}`));
      let readsAsked = 0;
      d.attachReader({
        wake: () => {
          readsAsked += 1;
          if (reads.settle) d.deliver(inLog.filter((r) => r.seq > d.lastSeq));
        },
        settled: () => (reads.settle ? Promise.resolve() : new Promise(() => {})),
      });
      return { d, order, readsAsked: () => readsAsked };
    }

    it("answers at once, without reading, for a change already taken and drained", async () => {
      const { d, readsAsked } = withLog([]);
      d.lastSeq = 9;
      expect(d.reached(9)).toBe(true);
      await d.reach(9, 60_000);
      expect(readsAsked()).toBe(0);
    });

    it("reads the log at once and answers once the board's cache has had the change", async () => {
      const { d, order, readsAsked } = withLog([record(5), record(6)]);
      d.lastSeq = 4;
      expect(d.reached(6)).toBe(false);
      await d.reach(6, 60_000);
      expect(readsAsked()).toBe(1);
      expect(order).toEqual(["cache 5", "cache 6"]);
      expect(d.reached(6)).toBe(true);
    });

    it("answers when the log does not hold the change (a bogus seq, a restored database)", async () => {
      const { d, order } = withLog([record(5)]);
      d.lastSeq = 4;
      await d.reach(1_000_000, 60_000);
      await d.settled();
      expect(order).toEqual(["cache 5"]);
      expect(d.reached(1_000_000)).toBe(false);
    });

    it("answers after its longest wait when the log cannot be read", async () => {
      const { d } = withLog([], { settle: false });
      d.lastSeq = 4;
      let answered = false;
      const waiting = d.reach(5, 30).then(() => (answered = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect(answered).toBe(false);
      await waiting;
      expect(d.reached(5)).toBe(false);
    });

    it("answers every waiter at shutdown", async () => {
      const { d } = withLog([], { settle: false });
      d.lastSeq = 4;
      const waiting = d.reach(5, 60_000);
      d.stop();
      await waiting;
    });
  });
});
