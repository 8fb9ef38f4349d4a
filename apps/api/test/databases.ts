// Real databases for tests: a migrated SQLite file and a migrated PostgreSQL database are made
// once per run (global setup) and copied for every test app, so each test starts clean.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { Provider } from "@postern/db";

export const PG_ADMIN_URL = process.env.POSTERN_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
export const runId = process.env.POSTERN_TEST_RUN_ID ?? `${process.pid}`;
export const templateDb = `postern_tpl_${runId}`;
export const sqliteTemplate = path.join(os.tmpdir(), `postern-test-${runId}`, "template.db");

export function pgUrl(database: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `fn` on a connection of its own to the database at `url`, closed after it. */
export async function withPgClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export function pgAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withPgClient(PG_ADMIN_URL, fn);
}

let counter = 0;

/** A fresh, migrated database of the provider, and how to throw it away. */
export async function createTestDatabase(provider: Provider): Promise<{ url: string; drop: () => Promise<void> }> {
  counter += 1;
  const name = `postern_t_${runId}_${process.pid}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
  if (provider === "sqlite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-db-"));
    const file = path.join(dir, "postern.db");
    fs.copyFileSync(sqliteTemplate, file);
    return { url: `file:${file}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  await pgAdmin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDb}"`));
  return {
    url: pgUrl(name),
    drop: () => pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

export const providers: Provider[] = ["sqlite", "postgres"];
