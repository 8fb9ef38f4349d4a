// PostgreSQL may fail a transaction for no fault of its own: two changes that lock rows in
// opposite orders (a revocation ending several sessions while the clock passes on a waitlist's
// offer) deadlock, and PostgreSQL breaks the cycle by failing one of them; under a stricter
// isolation it may fail one as a serialisation failure. Both mean "run it again", and a change
// runs again whole: its transaction rolled back, nothing of it was committed or announced.
import { Prisma } from "@postern/db";

/** SQLSTATEs for a transaction PostgreSQL failed only to let another one through. */
const CONFLICT_STATES = new Set(["40P01" /* deadlock_detected */, "40001" /* serialization_failure */]);

/** How many times a change runs at most when each run ends in a conflict. */
export const CONFLICT_ATTEMPTS = 4;

export interface AdapterCause {
  kind?: string;
  code?: string;
  originalCode?: string;
  column?: string;
}

/** The driver adapter's error, thrown bare by model queries and wrapped in `meta` by raw ones. */
export function adapterCause(err: unknown): AdapterCause | undefined {
  if (err instanceof Error && err.name === "DriverAdapterError") return (err as Error & { cause?: AdapterCause }).cause;
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    return (err.meta?.driverAdapterError as { cause?: AdapterCause } | undefined)?.cause;
  }
  return undefined;
}

/** Whether `err` is PostgreSQL failing the transaction to resolve a deadlock or a serialisation
 * conflict: from `pg` itself (the plain-SQL hot paths), or through Prisma and its adapter. */
export function isTransactionConflict(err: unknown): boolean {
  if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2034") return true;
  const cause = adapterCause(err);
  if (cause) return CONFLICT_STATES.has(cause.originalCode ?? cause.code ?? "");
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && CONFLICT_STATES.has(code);
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
