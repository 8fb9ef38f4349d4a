import fs from "node:fs";
import path from "node:path";
import { migrateDatabase } from "@postern/db";
import { pgAdmin, pgUrl, runId, sqliteTemplate, templateDb } from "./databases";

export default async function setup() {
  process.env.POSTERN_TEST_RUN_ID = runId;
  fs.mkdirSync(path.dirname(sqliteTemplate), { recursive: true });
  await pgAdmin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${templateDb}"`);
    await c.query(`CREATE DATABASE "${templateDb}"`);
  });
  await Promise.all([migrateDatabase(`file:${sqliteTemplate}`), migrateDatabase(pgUrl(templateDb))]);
  return async () => {
    fs.rmSync(path.dirname(sqliteTemplate), { recursive: true, force: true });
    await pgAdmin(async (c) => {
      // Test databases a crashed worker left behind are dropped too.
      const { rows } = await c.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE $1",
        [`postern_t_${runId}_%`],
      );
      for (const r of rows) await c.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`);
      await c.query(`DROP DATABASE IF EXISTS "${templateDb}" WITH (FORCE)`);
    });
  };
}
