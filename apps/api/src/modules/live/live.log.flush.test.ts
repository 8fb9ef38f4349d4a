// PostgreSQL: a change's COMMIT lets go of the chain lock without waiting for the disk, and
// `CALL postern_chain_flush()`, sent right behind it, waits for the flush and only then NOTIFYs
// (migration 20261202100000_chain_flush). Checked here on the statements themselves, with a
// LISTEN connection of its own; the API's use of them is covered by every PostgreSQL test.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../../test/databases";

const CHANNEL = "postern_live";
const append = (flushAfter: boolean | undefined, audit: unknown[], live: unknown[]) =>
  flushAfter === undefined
    ? { text: "SELECT s FROM postern_chain_append($1::jsonb, $2::jsonb, $3) AS s", values: [JSON.stringify(audit), JSON.stringify(live), ""] }
    : { text: "SELECT s FROM postern_chain_append($1::jsonb, $2::jsonb, $3, $4) AS s", values: [JSON.stringify(audit), JSON.stringify(live), "", flushAfter] };
const liveRow = (type: string) => [type, JSON.stringify({ type }), "2026-12-02 10:00:00.000"];
const auditRow = (id: string) => [id, "2026-12-02 10:00:00.000", null, "tester", "test.flush", "test", null, null, null, null, `"${id}"`];

describe("the chain's flush behind the COMMIT (PostgreSQL)", () => {
  let drop: () => Promise<void>;
  let writer: pg.Client;
  let listener: pg.Client;
  const heard: string[] = [];

  beforeAll(async () => {
    const db = await createTestDatabase("postgres");
    drop = db.drop;
    writer = new pg.Client({ connectionString: db.url });
    listener = new pg.Client({ connectionString: db.url });
    await Promise.all([writer.connect(), listener.connect()]);
    listener.on("notification", (msg) => heard.push(msg.payload ?? ""));
    await listener.query(`LISTEN ${CHANNEL}`);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([writer?.end(), listener?.end()]);
    await drop?.();
  });
  beforeEach(() => {
    heard.length = 0;
  });

  /** Waits long enough for a notification already sent to have arrived. */
  const settle = async () => {
    await listener.query("SELECT 1");
    await new Promise((r) => setTimeout(r, 50));
  };
  const pending = async () => (await writer.query<{ v: string | null }>("SELECT current_setting('postern.chain_notify', true) AS v")).rows[0]?.v;
  const insertLsn = async () => (await writer.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")).rows[0]!.lsn;
  const flushedPast = async (lsn: string) =>
    (await writer.query<{ ok: boolean }>("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok", [lsn])).rows[0]?.ok;

  it("holds the change's NOTIFY until the flush has put it on disk", async () => {
    await writer.query("BEGIN");
    const { rows } = await writer.query<{ s: number }>(append(true, [auditRow("a1")], [liveRow("flush.one")]));
    await writer.query("COMMIT");
    const seq = rows[0]!.s;
    // The setting was the transaction's only: the connection commits synchronously again.
    expect((await writer.query<{ synchronous_commit: string }>("SHOW synchronous_commit")).rows[0]?.synchronous_commit).toBe("on");
    expect(await pending()).toBe(String(seq));
    await settle();
    expect(heard).toEqual([]);

    const committed = await insertLsn();
    await writer.query("CALL postern_chain_flush()");
    expect(await flushedPast(committed)).toBe(true);
    await settle();
    expect(heard).toEqual([String(seq)]);
    expect(await pending()).toBe("");
    // A second call has nothing left to do.
    await writer.query("CALL postern_chain_flush()");
    await settle();
    expect(heard).toEqual([String(seq)]);
  });

  it("notifies nothing for a change that rolled back", async () => {
    await writer.query("BEGIN");
    const { rows } = await writer.query<{ s: number }>(append(true, [auditRow("rolled")], [liveRow("flush.rolled")]));
    await writer.query("ROLLBACK");
    expect(await pending()).toBe("");
    await writer.query("CALL postern_chain_flush()");
    await settle();
    expect(heard).toEqual([]);
    const left = await writer.query(`SELECT 1 FROM "LiveEvent" WHERE "seq" = $1`, [rows[0]!.s]);
    expect(left.rowCount).toBe(0);
  });

  it("still waits for the disk when a change has audit events and nothing to announce", async () => {
    await writer.query("BEGIN");
    await writer.query(append(true, [auditRow("a2")], []));
    await writer.query("COMMIT");
    expect(await pending()).toBe("-");
    const committed = await insertLsn();
    await writer.query("CALL postern_chain_flush()");
    expect(await flushedPast(committed)).toBe(true);
    await settle();
    expect(heard).toEqual([]);
    expect(await pending()).toBe("");
  });

  it("commits and notifies at once when called as before, inside a transaction it does not end", async () => {
    await writer.query("BEGIN");
    const { rows } = await writer.query<{ s: number }>(append(undefined, [auditRow("a3")], [liveRow("flush.inline")]));
    await writer.query("COMMIT");
    await settle();
    expect(heard).toEqual([String(rows[0]!.s)]);
    expect(await pending()).not.toBe(String(rows[0]!.s));
  });
});
