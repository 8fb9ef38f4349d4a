import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { migrateDatabase } from "@postern/db";
import { pgAdmin, pgUrl, runId, sqliteTemplate, templateDb } from "./databases";

/** Whether process `pid` is gone (a run id that is a pid names the run's vitest process). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * What runs that were killed before their teardown left behind (a timeout, a Ctrl-C): their
 * template and test databases and their SQLite template's folder. Only runs whose vitest process
 * is gone, so runs going on beside this one keep theirs.
 */
async function sweepKilledRuns(c: pg.Client): Promise<void> {
  // The names databases.ts gives (`postern_tpl_<run>`, `postern_t_<run>_…`) when the run is a pid.
  const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname ~ '^postern_(tpl_[0-9]+$|t_[0-9]+_)'");
  for (const { datname } of rows) {
    const pid = Number(/^postern_(?:tpl|t)_(\d+)/.exec(datname)?.[1]);
    if (pid !== process.pid && gone(pid)) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
  for (const entry of fs.readdirSync(os.tmpdir())) {
    const pid = Number(/^postern-test-(\d+)$/.exec(entry)?.[1]);
    if (pid && pid !== process.pid && gone(pid)) fs.rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
}

export default async function setup() {
  process.env.POSTERN_TEST_RUN_ID = runId;
  fs.mkdirSync(path.dirname(sqliteTemplate), { recursive: true });
  await pgAdmin(async (c) => {
    await sweepKilledRuns(c);
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
