// The data directory is created owner-only (0700) and the SQLite database, its -wal and -shm and
// its backups are 0600; `postern doctor` warns when they are wider.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backupSqlite, openDatabase } from "@postern/db";
import { loadConfig, resolveSecret } from "../config";
import { checkFileModes } from "./doctor-checks";

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

describe("file modes of the embedded database", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "postern-modes-"));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("creates the data dir 0700 and the database, its WAL and backups 0600; doctor warns about wider", async () => {
    const dataDir = path.join(root, "data");
    const file = path.join(dataDir, "postern.db");
    const config = loadConfig({ POSTERN_DATA_DIR: dataDir, DATABASE_URL: `file:${file}` }, "/dev/null");
    resolveSecret(config, () => "s".repeat(48));
    const opened = await openDatabase(`file:${file}`);
    await opened.db.$executeRawUnsafe(`CREATE TABLE "t" ("x" INTEGER)`);
    await opened.db.$executeRawUnsafe(`INSERT INTO "t" VALUES (1)`);
    expect(modeOf(dataDir)).toBe(0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`, path.join(dataDir, "secret")]) expect([f, modeOf(f)]).toEqual([f, 0o600]);
    expect(checkFileModes(config)).toEqual([expect.objectContaining({ mark: "ok", name: "file modes" })]);

    const backup = path.join(root, "backup.db");
    await backupSqlite("sqlite", file, backup);
    expect(modeOf(backup)).toBe(0o600);
    await opened.close();

    // An install from before: everything world-readable. Doctor names each file and the fix.
    fs.chmodSync(dataDir, 0o755);
    fs.chmodSync(file, 0o644);
    const [warning] = checkFileModes(config);
    expect(warning).toMatchObject({ mark: "warn", name: "file modes" });
    expect(warning?.detail).toContain(`${dataDir} is 0755 (chmod 700)`);
    expect(warning?.detail).toContain(`${file} is 0644 (chmod 600)`);
    // Opening it again narrows the database files (not the directory: an operator may share it on purpose).
    const again = await openDatabase(`file:${file}`);
    await again.close();
    expect(modeOf(file)).toBe(0o600);
  });
});
