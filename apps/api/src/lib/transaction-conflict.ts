// PostgreSQL may fail a transaction for no fault of its own: two changes that lock rows in
// opposite orders (a revocation ending several sessions while the clock passes on a waitlist's
// offer) deadlock, and PostgreSQL breaks the cycle by failing one of them; under a stricter
// isolation it may fail one as a serialisation failure. Both mean "run it again", and a change
// runs again whole: its transaction rolled back, nothing of it was committed or announced.
import { codesOf } from "./database-fault";

/** A transaction PostgreSQL failed only to let another one through: its SQLSTATEs (from `pg`
 * itself, or in the driver adapter's error), and what Prisma makes of a serialisation failure. */
const CONFLICT_CODES = new Set(["40P01" /* deadlock_detected */, "40001" /* serialization_failure */, "P2034", "TransactionWriteConflict"]);

/** A foreign key the change wrote points at a row that is gone: on PostgreSQL, deleted by a
 * change that committed after this one checked it (Prisma's code, then pg's and SQLite's own). */
const VANISHED_CODES = new Set(["P2003", "23503", "SQLITE_CONSTRAINT_FOREIGNKEY"]);

export function isVanishedReference(err: unknown): boolean {
  return codesOf(err).codes.some((code) => VANISHED_CODES.has(code));
}

/** How many times a change runs at most when each run ends in a conflict. */
export const CONFLICT_ATTEMPTS = 4;

/** Whether `err` is PostgreSQL failing the transaction to resolve a deadlock or a serialisation
 * conflict: from `pg` itself (the plain-SQL hot paths), or through Prisma and its adapter. */
export function isTransactionConflict(err: unknown): boolean {
  return codesOf(err).codes.some((code) => CONFLICT_CODES.has(code));
}

/**
 * Runs `attempt` again while it fails with a conflict, up to CONFLICT_ATTEMPTS runs in all, after
 * a short random pause that grows with each run (so two changes that met once do not meet again
 * in step). A first run that wrote a reference to a row deleted meanwhile runs once more: its
 * checks then see the deletion and refuse as they would have (an unknown group or agent). Any
 * other failure, and the last conflict, is thrown as it came.
 */
export async function retryOnConflict<T>(attempt: (run: number) => Promise<T>, pauseMs = (run: number) => 5 + Math.random() * 20 * run): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await attempt(run);
    } catch (err) {
      const again = isTransactionConflict(err) ? run < CONFLICT_ATTEMPTS : run === 1 && isVanishedReference(err);
      if (!again) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs(run)));
  }
}
