// What every CLI command shares: configuration, an open (migrated) database, an audit actor,
// and one way to fail: a one-line reason on stderr and a non-zero exit.
import os from "node:os";
import type { z } from "zod";
import type { OpenDatabase } from "@postern/db";
import { loadConfig, type Config } from "../config";
import { AppError } from "../errors";
import type { DbContext } from "../lib/db-context";
import { NO_LISTENERS, type Origin } from "../lib/run-change";
import { openMigratedDatabase } from "../migrations";

export class CliError extends Error {}

export interface CliContext {
  config: Config;
  ctx: DbContext;
  /** The CLI as the audit trail names it: `cli:<os user>`. */
  caller: Origin;
}

let configFile: string | undefined;
export function setConfigFile(file: string | undefined): void {
  configFile = file;
}

/** The file given with --config, if any (for commands that load the configuration themselves). */
export function getConfigFile(): string | undefined {
  return configFile;
}

export function readConfig(): Config {
  return loadConfig(process.env, configFile);
}

/** How long a CLI command waits for a running server's write on SQLite before giving up. */
const SQLITE_BUSY_TIMEOUT_MS = 15_000;

/** Opens the database (applying pending migrations first, if any), runs `fn`, closes it.
 * `databaseUrl` opens another than the configuration's (a copy being checked). */
export async function withDatabase<T>(fn: (cli: CliContext) => Promise<T>, databaseUrl?: string): Promise<T> {
  const config = readConfig();
  let database: OpenDatabase | undefined;
  try {
    database = await openMigratedDatabase(databaseUrl ?? config.databaseUrl);
    if (database.provider === "sqlite") {
      await database.db.$queryRawUnsafe(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    }
    // A running server learns of the CLI's changes from the live log (PostgreSQL NOTIFY, or its
    // poll on SQLite); nothing in this process listens.
    const ctx: DbContext = { db: database.db, provider: database.provider, sql: database.sql, now: () => new Date(), changes: NO_LISTENERS };
    const caller: Origin = { actor: { id: "cli", username: `cli:${os.userInfo().username}`, kind: "cli" } };
    return await fn({ config, ctx, caller });
  } finally {
    await database?.close();
  }
}

/** Validates CLI input with a contract schema; a failure names the option. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, optionOf: (field: string) => string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join(".") ?? "";
  throw new CliError(`${optionOf(field)}: ${issue?.message ?? "invalid"}`);
}

export function errorLine(err: unknown): string {
  if (err instanceof CliError || err instanceof AppError) return err.message;
  if (err instanceof Error) return err.message.split("\n").join(" ");
  return String(err);
}

export function intOption(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new CliError(`${name}: expected a whole number, got "${value}"`);
    return Number(value);
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
