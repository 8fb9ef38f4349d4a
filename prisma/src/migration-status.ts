// Which migrations a database still lacks, read from Prisma's own `_prisma_migrations` table
// and the migration folders: a cheap check, so commands run `migrate deploy` (a child process
// that needs the database to itself on SQLite) only when there is something to apply.
import fs from "node:fs";
import { migrationsDir, type Provider } from "../scripts/providers";
import type { Db } from "./index";

/** The migrations this build ships for the provider, in order. */
export function shippedMigrations(provider: Provider): string[] {
  return fs
    .readdirSync(migrationsDir(provider), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** The names of the migrations that exist in the repository but are not applied (or failed). */
export async function pendingMigrations(db: Db, provider: Provider): Promise<string[]> {
  const wanted = shippedMigrations(provider);
  const tableSql =
    provider === "sqlite"
      ? `SELECT 1 AS "found" FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'`
      : `SELECT 1 AS "found" WHERE to_regclass('"_prisma_migrations"') IS NOT NULL`;
  const table = await db.$queryRawUnsafe<unknown[]>(tableSql);
  if (table.length === 0) return wanted;
  const applied = await db.$queryRawUnsafe<{ migration_name: string }[]>(
    `SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`,
  );
  const done = new Set(applied.map((r) => r.migration_name));
  return wanted.filter((name) => !done.has(name));
}
