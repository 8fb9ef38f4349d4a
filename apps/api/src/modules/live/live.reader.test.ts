// Another instance's change reaches this process through its NOTIFY: an ordinary change carries
// its records and costs no read of the log; a gap, or a notification without records, is read.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import type { DbContext } from "../../lib/db-context";
import { LIVE_CHANNEL, lastLogSeq, notifiedRecords, type LogRecord } from "./live.log";
import { LogReader, type LogReaderOptions } from "./live.reader";
import { ChangeDispatcher } from "../../plugins/changes";

vi.setConfig({ testTimeout: 60_000 });

describe("notifiedRecords", () => {
  it("reads seqs alone, or seqs with the records they carry", () => {
    expect(notifiedRecords("41,42")).toEqual({ seqs: [41, 42] });
    const stored = { event: { type: "group.created", group: { id: "g1", name: "ops" } }, audience: { admins: true } };
    const { seqs, records } = notifiedRecords(`7|[${JSON.stringify(stored)}]`);
    expect(seqs).toEqual([7]);
    expect(records).toEqual([{ seq: 7, ...stored }]);
    // Records that do not pair with the seqs are not trusted: the log is read instead.
    expect(notifiedRecords(`7,8|[${JSON.stringify(stored)}]`).records).toBeUndefined();
  });
});

/** The same database, with every read of the log counted. */
function countingReads(ctx: DbContext, count: () => void): DbContext {
  return {
    ...ctx,
    sql: {
      ...ctx.sql,
      read: (fn) => {
        count();
        return ctx.sql.read(fn);
      },
    },
  };
}

/** A reader of the test app's database, started: it hears the notifications, and polls too
 * seldom to matter, so every read it makes is one a notification asked for. */
async function listeningReader(
  t: TestApp,
  ctx: DbContext,
  options: Pick<LogReaderOptions, "cursor" | "deliver" | "offer"> & Partial<LogReaderOptions>,
): Promise<LogReader> {
  const reader = new LogReader(ctx, { log: () => {}, pollMs: 60_000, listenUrl: t.url, last: () => undefined, rewound: () => {}, ...options });
  await reader.start();
  await reader.settled();
  return reader;
}

describe("the log reader on postgres", () => {
  let t: TestApp;
  let reader: LogReader;
  let reads = 0;
  const delivered: LogRecord[] = [];
  // The server's own arrangement: the reader feeds a dispatcher, which holds a change that came
  // ahead of a gap for a while and then has the reader read the log.
  const dispatcher = new ChangeDispatcher((err) => {
    throw err;
  });
  dispatcher.gapWaitMs = 20;
  dispatcher.subscribe((r) => delivered.push(r));

  beforeAll(async () => {
    t = await buildTestApp("postgres");
    const ctx = t.app.ctx;
    const counted = countingReads(ctx, () => (reads += 1));
    dispatcher.lastSeq = await lastLogSeq(ctx);
    reader = await listeningReader(t, counted, {
      cursor: () => dispatcher.lastSeq,
      last: () => dispatcher.lastRecord,
      deliver: (records) => dispatcher.deliver(records),
      offer: (records) => dispatcher.offer(records),
    });
    dispatcher.attachReader(reader);
  }, 120_000);
  afterAll(async () => {
    dispatcher.stop();
    await reader?.stop();
    await t?.close();
  });

  let admin: TestUser | undefined;
  const createGroup = async (name: string) => {
    admin ??= await createUser(t.app, { role: "admin" });
    const res = await t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name } });
    expect(res.statusCode).toBe(201);
  };

  const waitFor = async (what: () => boolean, label: string) => {
    for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(what(), label).toBe(true);
  };

  it("takes an ordinary change from its notification, without reading the log", async () => {
    const before = reads;
    await createGroup("from-the-notification");
    await waitFor(() => delivered.some((r) => r.event.type === "group.created"), "group.created delivered");
    expect(reads).toBe(before);
  });

  it("reads the log after a gap, and for a notification without records", async () => {
    // This process missed a change (as after a lost connection): the next one's notification does
    // not follow the cursor, and no notification will close the gap, so once the dispatcher has
    // waited for one, the reader reads from the cursor and gets both.
    await reader.settled();
    dispatcher.lastSeq -= 1;
    delivered.length = 0;
    const before = reads;
    await createGroup("after-a-gap");
    await waitFor(() => delivered.length >= 2, "the missed change and the new one");
    expect(reads).toBeGreaterThan(before);

    const again = reads;
    await t.app.ctx.db.$executeRawUnsafe(`SELECT pg_notify('${LIVE_CHANNEL}', '${dispatcher.lastSeq + 1}')`);
    await waitFor(() => reads > again, "a read for a notification without records");
  });
});

describe("this process's own notifications on postgres", () => {
  let t: TestApp;
  let reader: LogReader;
  let reads = 0;

  beforeAll(async () => {
    t = await buildTestApp("postgres");
    const ctx = t.app.ctx;
    const counted = countingReads(ctx, () => (reads += 1));
    const cursor = await lastLogSeq(ctx);
    reader = await listeningReader(t, counted, {
      cursor: () => cursor,
      deliver: () => {},
      offer: () => {},
    });
  }, 120_000);
  afterAll(async () => {
    await reader?.stop();
    await t?.close();
  });

  const backendPid = async (via: "pool" | "prisma") => {
    if (via === "prisma") return Number((await t.app.ctx.db.$queryRawUnsafe<{ pid: number }[]>("SELECT pg_backend_pid() AS pid"))[0]!.pid);
    const rows = await t.app.ctx.sql.transaction((sql) => sql.final<{ pid: number }>("SELECT pg_backend_pid() AS pid"));
    return Number(rows[0]!.pid);
  };

  it("knows the server processes behind its hot-path pool, and only those", async () => {
    expect(t.app.ctx.sql.isOwnConnection?.(await backendPid("pool"))).toBe(true);
    expect(t.app.ctx.sql.isOwnConnection?.(await backendPid("prisma"))).toBe(false);
  });

  // A notification without records makes the reader read the log, unless its sender is this
  // process's own pool: that change's commit delivers it.
  it("drops a notification its own pool sent, and reads for one sent by another connection", async () => {
    const notify = `SELECT pg_notify('${LIVE_CHANNEL}', '${(await lastLogSeq(t.app.ctx)) + 1}')::text AS sent`;
    const wakes = vi.spyOn(reader, "wake");
    const before = reads;
    await t.app.ctx.sql.transaction((sql) => sql.final(notify));
    // Then the same from Prisma's connection: one LISTEN connection hears them in commit order,
    // so once this one has woken the reader, the first has been dealt with.
    await t.app.ctx.db.$queryRawUnsafe(notify);
    for (let i = 0; i < 200 && wakes.mock.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    await reader.settled();
    expect(wakes).toHaveBeenCalledTimes(1);
    expect(reads - before).toBe(1);
  });
});
