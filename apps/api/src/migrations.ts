// Opening the database with its migrations applied, cheaply when there is nothing to apply.
import { migrateDatabase, openDatabase, pendingMigrations, type OpenDatabase } from "@postern/db";

/**
 * Opens the database; when migrations are pending, applies them first (`prisma migrate deploy`,
 * which takes PostgreSQL's advisory lock, so instances starting together wait for each other)
 * and opens it again. The check is two reads; `migrate deploy` is a child process costing
 * seconds, and on SQLite it wants the file to itself, so it runs only when needed.
 */
export async function openMigratedDatabase(url: string, onPending?: (pending: string[]) => void): Promise<OpenDatabase> {
  const database = await openDatabase(url);
  let pending: string[];
  try {
    pending = await pendingMigrations(database.db, database.provider);
  } catch (err) {
    await database.close();
    throw err;
  }
  if (pending.length === 0) return database;
  await database.close();
  onPending?.(pending);
  await migrateDatabase(url);
  return openDatabase(url);
}
