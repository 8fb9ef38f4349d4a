// Prisma CLI configuration for the postgres provider: the JS schema engine plus a driver adapter,
// so no native engine is downloaded. DATABASE_URL names the database to migrate.
import path from "node:path";
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

// Schema-to-schema diffs still open a connection through the adapter, so without a
// PostgreSQL DATABASE_URL this falls back to the local server's maintenance database.
function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  return url && /^postgres(ql)?:/.test(url) ? url : "postgresql://postgres@127.0.0.1:5432/postgres";
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join(import.meta.dirname, "schema.prisma"),
  migrations: { path: path.join(import.meta.dirname, "migrations") },
  adapter: async () => new PrismaPg({ connectionString: databaseUrl() }),
});
