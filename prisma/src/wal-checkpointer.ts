// Checkpoints of a busy SQLite WAL off the event loop. In WAL mode with synchronous=NORMAL the one
// fsync SQLite does is at a checkpoint: on the server's connection that ran every 1,000 WAL pages,
// inside some request's COMMIT, and blocked the event loop for the fsync of the WAL and of the
// database file (15–20 ms here, several times a second under load): the change mix's p99.
// A worker thread with a connection of its own copies the WAL into the database (PASSIVE: it never
// waits for, nor blocks, the writer) and syncs. The server's connection keeps SQLite's own
// checkpoint at 1,000 pages, which is what restarts the WAL from its beginning and so keeps it
// small (a disk that fills must not fill because of it); by then the worker has copied and synced
// nearly everything, so it costs a fraction of what it did. Should the worker fail, the server's
// checkpoint simply does all the work again, as it did before.
//
// The worker copies only once BATCH_COMMITS commits have come since its last copy. A WAL copied to
// its end is started again from its beginning by the next writer, and SQLite syncs the new WAL
// header there, on the event loop: copying after every commit (as every 25 ms did while changes
// came one at a time, a team's usual pace) put an fsync back into every lone change, about 1 ms of
// a 2–3 ms start here. Commits below the batch are synced where they are instead (an fsync of the
// WAL file, on the worker), so a change is on disk within an interval either way.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

// Failures go back as text: SQLite's error class does not survive the trip between threads.
const WORKER = `
const fs = require("node:fs");
const { parentPort, workerData } = require("node:worker_threads");
let db;
let timer;
let wal;
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
  const commits = new Int32Array(workerData.commits);
  // Commits seen and synced; commits when the WAL was last copied.
  let seen = 0;
  let copied = 0;
  timer = setInterval(() => {
    const now = Atomics.load(commits, 0);
    if (now === seen) return;
    try {
      // In 32-bit arithmetic, as the shared counter wraps (after 2^31 commits).
      if (((now - copied) | 0) >= workerData.batch) {
        db.pragma("wal_checkpoint(PASSIVE)");
        copied = now;
      } else {
        // The WAL exists while the server's connection is open (this one keeps it from being removed).
        wal ??= fs.openSync(workerData.file + "-wal", "r+");
        fs.fsyncSync(wal);
      }
      seen = now;
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
  if (wal !== undefined) fs.closeSync(wal);
  if (db) db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  stop(): Promise<void>;
}

/** How often the worker looks: a commit is synced within this, and under load the server's own
 * checkpoint has at most this much of the WAL left to copy and sync. */
const DEFAULT_INTERVAL_MS = 25;

/** Commits between copies of the WAL (a change writes 4–6 pages: some 100 pages, 400 KB). Under
 * load they come within one interval; at a team's pace, the WAL starts over once per batch. */
export const BATCH_COMMITS = 32;

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
  /** The count of commits (element 0), shared with the worker. */
  private readonly commits = new Int32Array(new SharedArrayBuffer(4));
  private running: WalCheckpointer | undefined;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
    private readonly batch = BATCH_COMMITS,
  ) {}

  /** Called after each commit. */
  committed(): void {
    const commits = Atomics.add(this.commits, 0, 1) + 1;
    if (this.running || this.closed || commits < COMMITS_BEFORE_WORKER) return;
    try {
      this.running = startWalCheckpointer(this.file, { intervalMs: this.intervalMs, batch: this.batch, commits: this.commits, onError: (err) => this.onError?.(err) });
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

/**
 * Starts checkpointing `file`'s WAL on a worker thread, looking every `intervalMs` at `commits`
 * (element 0: the writer's count of commits so far, which it keeps up to date).
 */
export function startWalCheckpointer(
  file: string,
  options: { commits: Int32Array; intervalMs?: number; batch?: number; onError?: (err: Error) => void },
): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const workerData = { file, driver, commits: options.commits.buffer, intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS, batch: options.batch ?? BATCH_COMMITS };
  const worker = new Worker(WORKER, { eval: true, workerData });
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
