// A value the database refuses to store or compare (a NUL in PostgreSQL text, a date beyond what
// Prisma converts, a number out of a column's range) is the client's bad input, not a fault of the
// server: the contracts refuse such values first, and this is the net behind them, so the answer
// is a 400 naming the field where the database says which, never a 500.
import { Prisma } from "@postern/db";
import type { TFieldIssue } from "@postern/contracts";

/** Prisma's codes for a value that does not fit its column. */
const prismaValueCodes: Record<string, string> = {
  P2000: "too long for its field",
  P2006: "not a valid value for its field",
  P2007: "not a valid value for its field",
  P2020: "out of range",
  P2023: "not a valid value for its field",
  P2033: "a number too large",
};

/** What a PostgreSQL SQLSTATE of class 22 (data exception) or 54 (a limit) says about the value. */
function sqlStateProblem(code: string): string | null {
  if (code === "22021" || code === "22P05") return "contains a character the database cannot store (NUL or an unpaired surrogate)";
  if (code === "22007" || code === "22008") return "a date or time outside the range the database keeps";
  if (code === "22003") return "a number out of range";
  if (code === "22001") return "too long for its field";
  if (code === "54000") return "too large for the database";
  if (code.startsWith("22")) return "not a value the database accepts";
  return null;
}

interface AdapterCause {
  kind?: string;
  code?: string;
  originalCode?: string;
  column?: string;
}

/** node-postgres's own error (what statements sent in plain SQL, past Prisma, throw). */
interface PgError extends Error {
  code?: unknown;
  severity?: unknown;
  column?: string;
}

/** The driver adapter's error, thrown bare by model queries and wrapped in `meta` by raw ones;
 * or node-postgres's, from the plain-SQL paths. */
function adapterCause(err: unknown): AdapterCause | undefined {
  const pg = err as PgError;
  if (err instanceof Error && typeof pg.code === "string" && typeof pg.severity === "string") return { code: pg.code, column: pg.column };
  if (err instanceof Error && err.name === "DriverAdapterError") return (err as Error & { cause?: AdapterCause }).cause;
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    return (err.meta?.driverAdapterError as { cause?: AdapterCause } | undefined)?.cause;
  }
  return undefined;
}

function issue(column: unknown, problem: string): TFieldIssue {
  return { field: typeof column === "string" && column !== "" ? column.replace(/^"|"$/g, "") : "request", message: problem };
}

/** The field at fault and why, when `err` is the database refusing a value; null otherwise. */
export function databaseInputIssue(err: unknown): TFieldIssue | null {
  const cause = adapterCause(err);
  const sqlState = cause?.originalCode ?? cause?.code;
  if (sqlState) {
    const problem = sqlStateProblem(sqlState);
    if (problem) return issue(cause?.column, problem);
  }
  if (cause?.kind === "LengthMismatch") return issue(cause.column, "too long for its field");
  if (cause?.kind === "ValueOutOfRange") return issue(cause.column, "out of range");
  if (err instanceof Prisma.PrismaClientKnownRequestError && prismaValueCodes[err.code]) {
    return issue(err.meta?.column_name ?? err.meta?.field_name, prismaValueCodes[err.code] ?? "invalid");
  }
  // The query engine's own conversion of arguments: a lone surrogate breaks its JSON, a date past
  // year 9999 its DateTime.
  if (err instanceof Prisma.PrismaClientUnknownRequestError) {
    if (/JSON Error|unexpected end of hex escape|lone leading surrogate/i.test(err.message)) {
      return issue(undefined, "contains a character the database cannot store (NUL or an unpaired surrogate)");
    }
    if (/Could not convert argument value .*DateTime/.test(err.message)) {
      return issue(undefined, "a date or time outside the range the database keeps");
    }
  }
  if (err instanceof Prisma.PrismaClientValidationError && /Provided Date object is invalid/.test(err.message)) {
    return issue(undefined, "not a valid date");
  }
  return null;
}
