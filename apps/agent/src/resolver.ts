// LAN host names of forwards, resolved off the reconciler's path. A pass never waits for DNS:
// it uses what is known (a stale address too, while a fresh lookup runs) and a finished lookup
// asks for another pass. So a name that does not resolve, or a resolver that hangs, can delay
// only the doors to that host, never the closing of any door.
import { lookup } from "node:dns/promises";
import { isIPv4 } from "node:net";

/** How long an address is used before it is looked up again (still used during the lookup). */
export const RESOLVED_TTL_MS = 5 * 60_000;
/** After a failed lookup, how long before the next try. */
export const FAILED_RETRY_MS = 30_000;
/** A lookup that takes longer counts as failed (getaddrinfo itself has no timeout). */
export const LOOKUP_TIMEOUT_MS = 3_000;

export type LookupFn = (host: string) => Promise<string>;

const lookupIPv4: LookupFn = async (host) => (await lookup(host, { family: 4 })).address;

interface Entry {
  address?: string;
  /** When the entry should be looked up again. */
  staleAt: number;
  pending: boolean;
  error?: string;
}

/** What a pass can know about a host right now. */
export type Resolution = { address: string } | { pending: true } | { error: string };

export class HostResolver {
  private readonly entries = new Map<string, Entry>();

  constructor(
    /** Called when a lookup started by `resolve` has finished, with a changed answer. */
    private readonly onChange: () => void,
    private readonly lookupFn: LookupFn = lookupIPv4,
    private readonly timeoutMs = LOOKUP_TIMEOUT_MS,
  ) {}

  /** The address to use now; starts a lookup (at most one per host) when none is fresh. */
  resolve(host: string, now = Date.now()): Resolution {
    if (isIPv4(host)) return { address: host };
    let entry = this.entries.get(host);
    if (!entry) {
      entry = { staleAt: 0, pending: false };
      this.entries.set(host, entry);
    }
    if (!entry.pending && entry.staleAt <= now) this.start(host, entry);
    if (entry.address) return { address: entry.address };
    if (entry.pending) return { pending: true };
    return { error: entry.error ?? "no IPv4 address" };
  }

  /** Forgets hosts no rule names any more. */
  retain(hosts: Set<string>): void {
    for (const host of this.entries.keys()) if (!hosts.has(host)) this.entries.delete(host);
  }

  private start(host: string, entry: Entry): void {
    entry.pending = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      timer.unref();
    });
    void Promise.race([this.lookupFn(host), timeout])
      .then(
        (address) => {
          const changed = address !== entry.address || entry.error !== undefined;
          entry.address = address;
          entry.error = undefined;
          entry.staleAt = Date.now() + RESOLVED_TTL_MS;
          return changed;
        },
        (err: Error) => {
          // A host that resolved before keeps its last address: a LAN resolver that is down for a
          // while should not close doors that work. One that never did is now an error to report.
          entry.error = err.message;
          entry.staleAt = Date.now() + FAILED_RETRY_MS;
          return entry.address === undefined;
        },
      )
      .then((changed) => {
        clearTimeout(timer);
        entry.pending = false;
        if (changed && this.entries.get(host) === entry) this.onChange();
      });
  }
}
