// SQLite through better-sqlite3 is one connection. Prisma's adapter takes a mutex only around
// interactive transactions, so a plain query sent while a transaction is open runs inside it:
// it reads the transaction's uncommitted rows and, if it writes, is rolled back with it. This
// wraps the adapter so every plain query waits for the open transaction, as another
// transaction would. Queries made through the client inside a transaction's own callback (in
// `inTransactionScope`) still pass straight through, as before, instead of waiting for
// themselves.
import { AsyncLocalStorage } from "node:async_hooks";
import type { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import type { Database as BetterSqliteDatabase } from "better-sqlite3";

type Adapter = Awaited<ReturnType<PrismaBetterSQLite3["connect"]>>;
type Query = Parameters<Adapter["queryRaw"]>[0];

/** A FIFO lock: `acquire` resolves with a release function once every earlier holder let go. */
export class Lock {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const ready = this.tail.then(() => once(release));
    this.tail = this.tail.then(() => held);
    return ready;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}

/**
 * Whose turn on a connection the running code is in. On Node 20 an enabled AsyncLocalStorage puts
 * a hook on every promise the process makes, and that cost about a quarter of a cached read's CPU
 * (bench/api); so the storage is enabled only while some callback holds a turn, and disabled again
 * when the last one ends. Code outside every turn asks nothing of it and pays nothing.
 */
class TurnScope {
  private readonly storage = new AsyncLocalStorage<Lock>();
  private open = 0;

  /** The lock whose turn the running code holds, if any. */
  holder(): Lock | undefined {
    return this.open > 0 ? this.storage.getStore() : undefined;
  }

  async run<T>(lock: Lock, fn: () => Promise<T>): Promise<T> {
    this.open++;
    try {
      return await this.storage.run(lock, fn);
    } finally {
      if (--this.open === 0) this.storage.disable();
    }
  }
}

const scope = new TurnScope();
const locks = new WeakMap<object, Lock>();

/** Runs `fn`, the callback of an interactive transaction on `client`, so that plain queries
 * it makes through `client` join the transaction instead of waiting for it. */
export function inTransactionScope<T>(client: object, fn: () => Promise<T>): Promise<T> {
  const lock = locks.get(client);
  return lock ? scope.run(lock, fn) : fn();
}

/** Ties a client to the lock of its serialised adapter, for `inTransactionScope`. */
export function registerSerialClient(client: object, factory: SerialSqliteFactory): void {
  locks.set(client, factory.lock);
}

export class SerialSqliteFactory {
  readonly provider = "sqlite" as const;
  readonly adapterName: string;
  readonly lock = new Lock();
  private connected: BetterSqliteDatabase | undefined;

  constructor(private readonly inner: PrismaBetterSQLite3) {
    this.adapterName = inner.adapterName;
  }

  async connect(): Promise<Adapter> {
    const adapter = await this.inner.connect();
    // The adapter keeps its better-sqlite3 handle in `client`; sql.ts runs plain statements on it.
    this.connected = (adapter as unknown as { client: BetterSqliteDatabase }).client;
    return serialise(adapter, this.lock);
  }

  /** The connection Prisma uses (after its first query). */
  client(): BetterSqliteDatabase {
    if (!this.connected) throw new Error("the SQLite connection is not open yet");
    return this.connected;
  }

  /** Runs `fn` holding this connection's turn, so Prisma queries it makes join instead of waiting. */
  inScope<T>(fn: () => Promise<T>): Promise<T> {
    return scope.run(this.lock, fn);
  }

  async connectToShadowDb(): Promise<Adapter> {
    return serialise(await this.inner.connectToShadowDb(), new Lock());
  }
}

function serialise(adapter: Adapter, lock: Lock): Adapter {
  const plain = <T>(fn: () => Promise<T>): Promise<T> => (scope.holder() === lock ? fn() : lock.run(fn));
  return {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw: (query: Query) => plain(() => adapter.queryRaw(query)),
    executeRaw: (query: Query) => plain(() => adapter.executeRaw(query)),
    executeScript: (script: string) => plain(() => adapter.executeScript(script)),
    getConnectionInfo: adapter.getConnectionInfo?.bind(adapter),
    dispose: () => adapter.dispose(),
    startTransaction: async (isolationLevel) => {
      if (scope.holder() === lock) {
        // The connection is this caller's own open transaction: waiting would never end.
        throw new Error("a nested write through the client inside a SQLite transaction; use the transaction's client");
      }
      if (isolationLevel && isolationLevel !== "SERIALIZABLE") {
        throw new Error(`SQLite transactions are always SERIALIZABLE, not ${isolationLevel}`);
      }
      const release = await lock.acquire();
      try {
        // IMMEDIATE takes the write lock up front (waiting out busy_timeout for another process,
        // e.g. the CLI beside the server). A deferred BEGIN that reads first fails at once with
        // SQLITE_BUSY when another process wrote in between, and no wait helps it.
        await adapter.executeScript("BEGIN IMMEDIATE");
      } catch (err) {
        release();
        throw err;
      }
      // Prisma sends COMMIT or ROLLBACK through `executeRaw`, then calls commit() or rollback().
      return {
        provider: adapter.provider,
        adapterName: adapter.adapterName,
        options: { usePhantomQuery: false },
        queryRaw: (query: Query) => adapter.queryRaw(query),
        executeRaw: async (query: Query) => {
          try {
            return await adapter.executeRaw(query);
          } catch (err) {
            // A failed COMMIT is never followed by commit(): end the transaction and free the turn.
            if (/^\s*(COMMIT|ROLLBACK)\b/i.test(query.sql)) {
              // SQLite may already have rolled back on its own (SQLITE_FULL, SQLITE_IOERR), so
              // this ROLLBACK may fail too. The adapter throws synchronously rather than
              // rejecting, so a `.catch` would not catch it: the turn is released whatever happens,
              // or the one connection stays locked for good.
              try {
                await adapter.executeScript("ROLLBACK");
              } catch {
                // Nothing left to roll back; the caller hears of the first error.
              } finally {
                release();
              }
            }
            throw err;
          }
        },
        commit: async () => release(),
        rollback: async () => release(),
      };
    },
  };
}
