// Prisma CLI configuration for the sqlite provider: the JS schema engine plus a driver adapter,
// so no native engine is downloaded. DATABASE_URL names the database to migrate.
import path from "node:path";
import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  return url?.startsWith("file:") ? url : "file::memory:";
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join(import.meta.dirname, "schema.prisma"),
  migrations: { path: path.join(import.meta.dirname, "migrations") },
  adapter: async () => new PrismaBetterSQLite3({ url: databaseUrl() }),
});
