// PostgreSQL may fail a transaction for no fault of its own: two changes that lock rows in
// opposite orders (a revocation ending several sessions while the clock passes on a waitlist's
// offer) deadlock, and PostgreSQL breaks the cycle by failing one of them; under a stricter
// isolation it may fail one as a serialisation failure. Both mean "run it again", and a change
// runs again whole: its transaction rolled back, nothing of it was committed or announced.
import { codesOf } from "./database-fault";

/** A transaction PostgreSQL failed only to let another one through: its SQLSTATEs (from `pg`
 * itself, or in the driver adapter's error), and what Prisma makes of a serialisation failure. */
const CONFLICT_CODES = new Set(["40P01" /* deadlock_detected */, "40001" /* serialization_failure */, "P2034", "TransactionWriteConflict"]);

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
 * in step). Any other failure, and the last conflict, is thrown as it came.
 */
export async function retryOnConflict<T>(attempt: (run: number) => Promise<T>, pauseMs = (run: number) => 5 + Math.random() * 20 * run): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await attempt(run);
    } catch (err) {
      if (run >= CONFLICT_ATTEMPTS || !isTransactionConflict(err)) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs(run)));
  }
}
