// Checkpoints of a busy SQLite WAL off the event loop. In WAL mode with synchronous=NORMAL the one
// fsync SQLite does is at a checkpoint: on the server's connection that ran every 1,000 WAL pages,
// inside some request's COMMIT, and blocked the event loop for the fsync of the WAL and of the
// database file (15–20 ms here, several times a second under load): the change mix's p99.
// A worker thread with a connection of its own copies the WAL into the database (PASSIVE: it never
// waits for, nor blocks, the writer) and syncs, every 25 ms. The server's connection keeps
// SQLite's own checkpoint at 1,000 pages, which is what restarts the WAL from its beginning and so
// keeps it small (a disk that fills must not fill because of it); by then the worker has copied
// and synced nearly everything, so it costs a fraction of what it did. Should the worker fail, the
// server's checkpoint simply does all the work again, as it did before.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

// Failures go back as text: SQLite's error class does not survive the trip between threads.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
let db;
let timer;
const fail = (err) => {
  clearInterval(timer);
  parentPort.postMessage({ failed: [err && err.code, err && err.message].filter(Boolean).join(": ") || String(err) });
  parentPort.close();
};
try {
  const Database = require(workerData.driver);
  db = new Database(workerData.file, { fileMustExist: true });
  db.pragma("busy_timeout = 0");
  db.pragma("synchronous = NORMAL");
  // This connection only ever checkpoints; SQLite's automatic one would never fire here anyway.
  db.pragma("wal_autocheckpoint = 0");
  timer = setInterval(() => {
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch (err) {
      // SQLITE_BUSY: the server's own checkpoint is running; the next pass catches up.
      if (!err || err.code !== "SQLITE_BUSY") fail(err);
    }
  }, workerData.intervalMs);
} catch (err) {
  fail(err);
}
parentPort.on("message", () => {
  clearInterval(timer);
  if (db) db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  stop(): Promise<void>;
}

/** How often the worker checkpoints: the server's own checkpoint then has at most this much of
 * the WAL left to copy and sync. */
const DEFAULT_INTERVAL_MS = 25;

/** Commits of plain-SQL transactions before the worker starts: a server that writes now and then
 * never pays for the worker's thread (about 9 MB); one under write load has it within a second. */
export const COMMITS_BEFORE_WORKER = 256;

/**
 * The checkpointer a SQLite database gets: started on demand, once writes come in earnest, and
 * stopped with the database. A worker that fails is reported to `onError` and not restarted: the
 * server's own checkpoints carry on without it.
 */
export class LazyWalCheckpointer {
  onError: ((err: Error) => void) | undefined;
  private commits = 0;
  private running: WalCheckpointer | undefined;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
  ) {}

  /** Called after each commit. */
  committed(): void {
    if (this.running || this.closed || ++this.commits < COMMITS_BEFORE_WORKER) return;
    try {
      this.running = startWalCheckpointer(this.file, { intervalMs: this.intervalMs, onError: (err) => this.onError?.(err) });
    } catch (err) {
      this.closed = true;
      this.onError?.(err as Error);
    }
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  async stop(): Promise<void> {
    this.closed = true;
    await this.running?.stop();
  }
}

/** Starts checkpointing `file`'s WAL on a worker thread every `intervalMs`. */
export function startWalCheckpointer(file: string, options: { intervalMs?: number; onError?: (err: Error) => void } = {}): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER, { eval: true, workerData: { file, driver, intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS } });
  // A checkpointer never keeps the process alive by itself.
  worker.unref();
  let stopped = false;
  worker.on("error", (err) => {
    if (!stopped) options.onError?.(err);
  });
  worker.on("message", (message: { failed?: string }) => {
    if (!stopped && message.failed) options.onError?.(new Error(`the WAL checkpointer stopped: ${message.failed}`));
  });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    stop: async () => {
      if (stopped) return;
      stopped = true;
      worker.postMessage("stop");
      const timeout = setTimeout(() => void worker.terminate(), 2_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
