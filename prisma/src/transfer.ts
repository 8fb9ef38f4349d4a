// Moving Postern's whole state between databases (SQLite → PostgreSQL, or back): an export
// file of JSON lines and its import. Written over the Prisma models and the database's own
// catalog, never a list of tables or columns, so a model that gains a column or a table moves
// with it: every scalar field of every model is copied as it is (ids, timestamps and the audit
// chain's hashes included), tables in the order their foreign keys need.
import { Prisma } from "../generated/sqlite/client";
import { inTransactionScope } from "./sqlite-serial";
import type { Db, Provider, Tx } from "./index";

export class TransferError extends Error {}

type Row = Record<string, unknown>;

/** The part of a Prisma model delegate these functions use, whatever the model. */
interface ModelDelegate {
  findMany(args?: { orderBy?: Record<string, "asc">[]; skip?: number; take?: number }): Promise<Row[]>;
  createMany(args: { data: Row[] }): Promise<{ count: number }>;
  deleteMany(): Promise<{ count: number }>;
  count(): Promise<number>;
}

/** Every model of the schema, as Prisma names them (and as their tables are named). */
export const modelNames: readonly string[] = Object.values(Prisma.ModelName);

function delegateOf(client: Db | Tx, model: string): ModelDelegate {
  const delegate = (client as unknown as Record<string, ModelDelegate | undefined>)[model.charAt(0).toLowerCase() + model.slice(1)];
  if (!delegate) throw new TransferError(`the Prisma client has no model ${model}`);
  return delegate;
}

/** Rows per model; a model whose table does not exist (an unmigrated database) counts 0. */
export async function countRows(db: Db): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const model of modelNames) counts[model] = await delegateOf(db, model).count().catch(() => 0);
  return counts;
}

/** The migrations a database has applied, in order. */
export async function appliedMigrations(db: Db | Tx): Promise<string[]> {
  const rows = await db.$queryRawUnsafe<{ migration_name: string }[]>(
    `SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL ORDER BY "migration_name"`,
  );
  return rows.map((r) => r.migration_name);
}

/** Each model's foreign-key targets and primary-key columns, from the database's catalog. */
async function catalogOf(db: Db | Tx, provider: Provider): Promise<Map<string, { references: Set<string>; primaryKey: string[] }>> {
  const catalog = new Map<string, { references: Set<string>; primaryKey: string[] }>();
  for (const model of modelNames) {
    let references: { ref: string }[];
    let primaryKey: { name: string }[];
    if (provider === "sqlite") {
      references = await db.$queryRawUnsafe(`SELECT "table" AS "ref" FROM pragma_foreign_key_list(?)`, model);
      primaryKey = await db.$queryRawUnsafe(`SELECT "name" FROM pragma_table_info(?) WHERE "pk" > 0 ORDER BY "pk"`, model);
    } else {
      const table = `"${model.replaceAll('"', '""')}"`;
      references = await db.$queryRawUnsafe(
        `SELECT ref.relname AS "ref" FROM pg_constraint c JOIN pg_class ref ON ref.oid = c.confrelid WHERE c.contype = 'f' AND c.conrelid = $1::regclass`,
        table,
      );
      primaryKey = await db.$queryRawUnsafe(
        `SELECT a.attname AS "name" FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
        table,
      );
    }
    if (primaryKey.length === 0) throw new TransferError(`model ${model} has no table of that name with a primary key in the database (is it migrated?)`);
    catalog.set(model, { references: new Set(references.map((r) => r.ref).filter((r) => r !== model)), primaryKey: primaryKey.map((p) => p.name) });
  }
  return catalog;
}

/** The models in an order where every table comes after the tables its foreign keys point at. */
function dependencyOrder(catalog: Map<string, { references: Set<string> }>): string[] {
  const order: string[] = [];
  const pending = new Map([...catalog].map(([model, { references }]) => [model, new Set([...references].filter((r) => catalog.has(r)))]));
  while (pending.size > 0) {
    const ready = [...pending].filter(([, refs]) => [...refs].every((r) => !pending.has(r))).map(([model]) => model);
    if (ready.length === 0) throw new TransferError(`the models' foreign keys form a cycle (${[...pending.keys()].join(", ")})`);
    for (const model of ready.sort()) {
      order.push(model);
      pending.delete(model);
    }
  }
  return order;
}

// ---- the file: a header line, then one line per row ----

export const EXPORT_FORMAT = "postern-export";
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: number;
  provider: Provider;
  exportedAt: string;
  /** The migrations the exported database had applied: an import needs at least these. */
  migrations: string[];
  /** Rows per model, to check the import against. */
  counts: Record<string, number>;
}

interface RowLine {
  model: string;
  row: Row;
}

/** JSON has no dates, big integers or bytes: such values travel tagged. */
function encodeValue(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (Prisma.Decimal.isDecimal(value)) return { $decimal: value.toString() };
  return value;
}

function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const entries = Object.entries(value);
  if (entries.length !== 1) return value;
  const [tag, inner] = entries[0]!;
  if (typeof inner !== "string") return value;
  if (tag === "$date") return new Date(inner);
  if (tag === "$bigint") return BigInt(inner);
  if (tag === "$bytes") return Buffer.from(inner, "base64");
  if (tag === "$decimal") return inner;
  return value;
}

const mapRow = (row: Row, fn: (v: unknown) => unknown): Row => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, fn(v)]));

const PAGE = 1000;

/**
 * Every row of every model as export lines (header first), in foreign-key order. The caller
 * provides a consistent view: a SQLite snapshot file, or a PostgreSQL transaction at
 * REPEATABLE READ.
 */
export async function* exportLines(db: Db | Tx, provider: Provider, now = new Date()): AsyncGenerator<string> {
  const catalog = await catalogOf(db, provider);
  const order = dependencyOrder(catalog);
  const counts: Record<string, number> = {};
  for (const model of order) counts[model] = await delegateOf(db, model).count();
  const header: ExportHeader = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    provider,
    exportedAt: now.toISOString(),
    migrations: await appliedMigrations(db),
    counts,
  };
  yield JSON.stringify(header) + "\n";
  for (const model of order) {
    const orderBy = catalog.get(model)!.primaryKey.map((column) => ({ [column]: "asc" as const }));
    for (let skip = 0; ; skip += PAGE) {
      const rows = await delegateOf(db, model).findMany({ orderBy, skip, take: PAGE });
      for (const row of rows) yield JSON.stringify({ model, row: mapRow(row, encodeValue) } satisfies RowLine) + "\n";
      if (rows.length < PAGE) break;
    }
  }
}

function parseHeader(line: string | undefined): ExportHeader {
  let header: Partial<ExportHeader>;
  try {
    header = JSON.parse(line ?? "") as Partial<ExportHeader>;
  } catch {
    throw new TransferError("not a Postern export (the first line is not JSON)");
  }
  if (header.format !== EXPORT_FORMAT) throw new TransferError("not a Postern export (no postern-export header)");
  if (header.version !== EXPORT_VERSION) throw new TransferError(`export format version ${String(header.version)} is not supported (this build reads ${EXPORT_VERSION})`);
  return header as ExportHeader;
}

function parseRowLine(line: string): RowLine {
  try {
    return JSON.parse(line) as RowLine;
  } catch {
    // A copy cut short in the middle of a line.
    throw new TransferError("the export has a line that is not JSON (is the file complete?); nothing was changed");
  }
}

export interface ImportOptions {
  /** Replace the rows a non-empty database holds. */
  force?: boolean;
  /** Runs in the import's transaction once every row is in: throwing rolls the import back
   * (the CLI verifies the audit chain here, so a tampered export changes nothing). */
  beforeCommit?: (tx: Tx) => Promise<void>;
}

/**
 * Imports an export into a migrated database, in one transaction: all of it or nothing. Refuses
 * a database that holds rows unless `force`, which deletes them first, and an export from a
 * database with migrations this one lacks (a newer Postern).
 */
export async function importLines(db: Db, provider: Provider, lines: AsyncIterable<string>, options: ImportOptions = {}): Promise<Record<string, number>> {
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  const header = parseHeader(first.done ? undefined : first.value);
  const applied = new Set(await appliedMigrations(db));
  const missing = header.migrations.filter((m) => !applied.has(m));
  if (missing.length > 0) {
    throw new TransferError(`the export comes from a database with migrations this one lacks (${missing.join(", ")}): import it with the Postern version that made it, or a newer one`);
  }
  const existing = Object.entries(await countRows(db)).filter(([, n]) => n > 0);
  if (existing.length > 0 && !options.force) {
    throw new TransferError(
      `the database is not empty (${existing.map(([m, n]) => `${n} ${m}`).join(", ")}); an import replaces everything in it: pass --force to do that`,
    );
  }
  const catalog = await catalogOf(db, provider);
  const order = dependencyOrder(catalog);
  const imported: Record<string, number> = Object.fromEntries(order.map((m) => [m, 0]));

  const run = async (tx: Tx) => {
    if (existing.length > 0) for (const model of [...order].reverse()) await delegateOf(tx, model).deleteMany();
    let batch: Row[] = [];
    let current: string | undefined;
    let position = -1;
    const flush = async () => {
      if (current && batch.length > 0) imported[current]! += (await delegateOf(tx, current).createMany({ data: batch })).count;
      batch = [];
    };
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      if (next.value.trim() === "") continue;
      const { model, row } = parseRowLine(next.value);
      if (model !== current) {
        await flush();
        const at = order.indexOf(model);
        if (at < 0) throw new TransferError(`the export has rows of model ${model}, which this database does not have`);
        // Rows of a table must come after the rows of the tables it points at.
        if (at < position) throw new TransferError(`the export lists ${model} after a table that depends on it`);
        current = model;
        position = at;
      }
      batch.push(mapRow(row, decodeValue));
      if (batch.length >= PAGE) await flush();
    }
    await flush();
    // Checked before the commit: a truncated export must roll back, not replace the data with part of it.
    for (const [model, expected] of Object.entries(header.counts)) {
      if ((imported[model] ?? 0) !== expected) throw new TransferError(`imported ${imported[model] ?? 0} ${model} rows, the export announced ${expected}; the file is incomplete, nothing was changed`);
    }
    if (provider === "postgres") await resetSequences(tx);
    await options.beforeCommit?.(tx);
  };
  await db.$transaction((tx) => inTransactionScope(db, () => run(tx)), { maxWait: 60_000, timeout: 60 * 60_000 });
  // A table filled at once has no statistics until autovacuum gets to it (a minute by default,
  // never where it is off), and without them PostgreSQL plans the history and audit pages as if
  // they were small: reading whole tables for a page. SQLite plans without statistics by design.
  if (provider === "postgres") await db.$executeRawUnsafe("ANALYZE");
  return imported;
}

/** PostgreSQL sequences do not move when ids are inserted explicitly: set each past the largest id. */
async function resetSequences(tx: Tx): Promise<void> {
  const columns = await tx.$queryRawUnsafe<{ table: string; column: string }[]>(
    `SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
     WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'`,
  );
  for (const { table, column } of columns) {
    const t = `"${table.replaceAll('"', '""')}"`;
    const c = `"${column.replaceAll('"', '""')}"`;
    await tx.$queryRawUnsafe(`SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX(${c}) FROM ${t}), 0) + 1, false)`, t, column);
  }
}
