// Tells a database that cannot take a query right now (down, restarting, out of connections)
// or cannot store anything more (a full disk) from every other failure, whichever layer the
// error comes through: Prisma (its codes, or the driver adapter's error in `meta`), the plain-SQL
// layer (better-sqlite3's and pg's own errors), or Node's sockets. Both are 503s, not bugs.
import { Prisma } from "@postern/db";

export type DatabaseFault = "storage_full" | "unavailable";

const fullCodes = new Set(["SQLITE_FULL", "53100"]);
const fullMessage = /database or disk is full|no space left on device|disk full/i;

/** Prisma's codes for a database that cannot be reached or dropped the connection. */
const prismaUnavailable = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2037"]);
const adapterUnavailable = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections", "TlsConnectionError"]);
const socketCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH"]);
const unavailableMessage = /Connection terminated|connection error|timeout exceeded when trying to connect|Can't reach database server|server closed the connection/i;

/** PostgreSQL SQLSTATEs: connection exceptions (08), shutdown and crash (57P01–57P03), 53300. */
function pgUnavailable(code: string): boolean {
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";
}

interface Loose {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown; originalCode?: unknown } } };
}

/** Every code and message an error carries, whichever layer it came through (its own, the
 * driver adapter's in Prisma's `meta`, and those of its causes). */
export function codesOf(err: unknown, depth = 0): { codes: string[]; messages: string[] } {
  const out = { codes: [] as string[], messages: [] as string[] };
  if (!err || typeof err !== "object" || depth > 4) return out;
  const e = err as Loose;
  if (typeof e.code === "string") out.codes.push(e.code);
  if (typeof e.message === "string") out.messages.push(e.message);
  const adapter = e.meta?.driverAdapterError?.cause;
  for (const c of [adapter?.code, adapter?.originalCode, adapter?.kind]) if (typeof c === "string") out.codes.push(c);
  const inner = codesOf(e.cause, depth + 1);
  out.codes.push(...inner.codes);
  out.messages.push(...inner.messages);
  return out;
}

export function databaseFault(err: unknown): DatabaseFault | undefined {
  const { codes, messages } = codesOf(err);
  if (codes.some((c) => fullCodes.has(c)) || messages.some((m) => fullMessage.test(m))) return "storage_full";
  if (err instanceof Prisma.PrismaClientInitializationError) return "unavailable";
  if (
    codes.some((c) => prismaUnavailable.has(c) || adapterUnavailable.has(c) || socketCodes.has(c) || pgUnavailable(c)) ||
    messages.some((m) => unavailableMessage.test(m))
  ) {
    return "unavailable";
  }
  return undefined;
}

/** One line for the log: what the database said, without Prisma's invocation preamble. */
export function faultReason(err: unknown): string {
  const { codes, messages } = codesOf(err);
  const message = (messages[0] ?? String(err)).split("\n").filter((l) => l.trim()).at(-1) ?? "";
  // A SQLSTATE, SQLite's or a socket's code; Prisma's own P-codes and adapter kinds say less.
  const code = codes.find((c) => /^([0-9A-Z]{5}|SQLITE_\w+|E[A-Z]+)$/.test(c) && !/^P\d{4}$/.test(c));
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
