// A token prefix nobody has is looked up once and then refused from memory (principal-cache.ts),
// but a flood of *different* made-up tokens — a scanner on the public tunnel URL, say — would
// cost a database query each, 30 to 40 times a cached read. No honest client presents many
// unknown tokens: after a few in a minute from one address, the rest of that minute's unknown
// tokens from it are refused with a 429 without asking the database. Tokens already in memory
// (known good, or known to be nobody's) are answered as always; a colleague behind the same
// address whose token is not yet in memory waits out the minute too.
//
// Addresses are counted by their client key: an IPv6 client by its /64, which it may send
// each request from a different address of.
//
// Per instance, in memory: it protects this process's database connections, and needs no
// agreement between instances.
import { AppError } from "../../errors";
import { limitKeyOf } from "../../lib/client-key";

/** Unknown tokens one address may present per window before its lookups stop. */
export const UNKNOWN_TOKENS_PER_WINDOW = 30;
export const UNKNOWN_TOKEN_WINDOW_MS = 60_000;
/** Addresses remembered at once; a flood from many addresses starts the count over. */
const MAX_ADDRESSES = 10_000;

interface Window {
  startedAt: number;
  misses: number;
}

export class UnknownTokenGuard {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit = UNKNOWN_TOKENS_PER_WINDOW,
    private readonly windowMs = UNKNOWN_TOKEN_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The 429 for an address that presented too many unknown tokens this window, or undefined. */
  refusal(ip: string): AppError | undefined {
    const w = this.current(limitKeyOf(ip));
    if (!w || w.misses < this.limit) return undefined;
    const retryAfterSeconds = Math.max(1, Math.ceil((w.startedAt + this.windowMs - this.now()) / 1000));
    return new AppError(
      "rate_limited",
      `too many unknown API tokens from your address; try again in ${retryAfterSeconds} seconds`,
      { retryAfterSeconds },
      { "retry-after": String(retryAfterSeconds) },
    );
  }

  /** Counts a lookup that found no token. */
  noteUnknown(ip: string): void {
    const client = limitKeyOf(ip);
    const w = this.current(client);
    if (w) {
      w.misses += 1;
      return;
    }
    if (this.windows.size >= MAX_ADDRESSES) this.windows.clear();
    this.windows.set(client, { startedAt: this.now(), misses: 1 });
  }

  private current(client: string): Window | undefined {
    const w = this.windows.get(client);
    if (w && this.now() - w.startedAt < this.windowMs) return w;
    if (w) this.windows.delete(client);
    return undefined;
  }
}
