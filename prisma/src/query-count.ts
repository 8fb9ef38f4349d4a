// Counts the statements a process sends to its database, through any driver adapter, so the
// benchmarks (and /metrics) can say how many queries a request costs. Wraps the adapter factory:
// plain queries and those inside transactions alike.
type AnyAdapter = {
  queryRaw(query: unknown): Promise<unknown>;
  executeRaw(query: unknown): Promise<unknown>;
  startTransaction?(isolationLevel?: unknown): Promise<AnyAdapter>;
};

let count = 0;

/** Counts one statement sent outside Prisma (sql.ts). */
export function countQuery(): void {
  count += 1;
}

/** Statements sent to the database by this process so far. */
export function queriesSent(): number {
  return count;
}

function countingAdapter<A extends AnyAdapter>(adapter: A): A {
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      if (prop === "queryRaw" || prop === "executeRaw") {
        return (query: unknown) => {
          count += 1;
          return (value as (q: unknown) => Promise<unknown>).call(target, query);
        };
      }
      if (prop === "startTransaction") {
        return async (isolationLevel?: unknown) =>
          countingAdapter(await (value as (i?: unknown) => Promise<AnyAdapter>).call(target, isolationLevel));
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}

/** The factory, with every adapter it connects counting its statements. */
export function countingFactory<F extends { connect(): Promise<unknown> }>(factory: F): F {
  return new Proxy(factory, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === "connect" && typeof value === "function") {
        return async () => countingAdapter((await (value as () => Promise<AnyAdapter>).call(target)) as AnyAdapter);
      }
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
