// Weekly audit CSV files (POSTERN_AUDIT_EXPORT_DIR): a background writer tails the audit table
// by seq and appends every committed event to `<dir>/audit-<ISO week>.csv`.
//
// Reading committed rows by seq is what makes this an after-commit hook without touching the
// services: seqs are handed out under the chain lock, so once event n is visible every event
// before it is too, and a rolled-back change never shows up at all.
//
// Exactly once across crashes: the state file remembers the last seq written (and its hash, to
// notice a different database). Before appending, the writer records in the state file how long
// each file it is about to touch was; a crash between the append and the state update is undone
// at the next start by truncating those files back, and the batch is written again.
//
// One writer per directory: a lock file with a heartbeat keeps a second instance sharing the
// directory from writing the same rows; it takes over when the holder stops beating.
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AUDIT_CSV_COLUMNS, isoWeekOf } from "@postern/contracts";
import type { AuditEvent } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { auditCsvHeader, auditCsvRows } from "./audit.csv";
import type { ChainAnchor } from "./audit.service";
import { SerialPoller } from "@postern/runtime";

export const STATE_FILE = ".postern-audit-state.json";
export const LOCK_FILE = ".postern-audit.lock";

interface State {
  lastSeq: number;
  lastHash: string | null;
  /** Set only while a batch is being appended: each file's length before the batch. */
  pending?: { file: string; size: number }[];
}

export interface AuditFileWriterOptions {
  /** How often to look for events written by other instances or the CLI. */
  pollMs?: number;
  batchSize?: number;
  /** A lock whose heartbeat is older than this belongs to a stopped instance. */
  staleLockMs?: number;
}

/** The newest event the files hold, as their state records it: an anchor for `verify`, kept
 * outside the database. Null when no file was written yet (or the state is unreadable). */
export async function auditFilesAnchor(dir: string): Promise<ChainAnchor | null> {
  const file = path.join(dir, STATE_FILE);
  let state: Partial<State>;
  try {
    state = JSON.parse(await fs.readFile(file, "utf8")) as Partial<State>;
  } catch {
    return null;
  }
  if (typeof state.lastSeq !== "number" || state.lastSeq < 1 || typeof state.lastHash !== "string") return null;
  return { seq: state.lastSeq, hash: state.lastHash, source: `the audit files (${file})` };
}

export function auditFileName(at: Date): string {
  return `audit-${isoWeekOf(at)}.csv`;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
}

export class AuditFileWriter {
  private readonly ownerId = randomUUID();
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly staleLockMs: number;
  private state: State | undefined;
  private readonly poller = new SerialPoller(async () => {
    await this.tick();
    return this.pollMs;
  });
  /** Set when the state file belongs to another database: writing stops until an operator acts. */
  private fatal: string | undefined;
  private lastWarning: string | undefined;
  /** Files whose header this process has seen to be the current one. */
  private readonly headers = new Set<string>();

  constructor(
    private readonly ctx: DbContext,
    readonly dir: string,
    private readonly log: { error(msg: string, err?: unknown): void },
    options: AuditFileWriterOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 2000;
    this.batchSize = options.batchSize ?? 500;
    this.staleLockMs = options.staleLockMs ?? 30_000;
  }

  start(): void {
    this.poller.start();
  }

  /** Looks for new events soon; call after a change has committed. */
  poke(): void {
    this.poller.poke();
  }

  /** Resolves once every event committed before the call is in the files. */
  async flush(): Promise<void> {
    this.poller.poke();
    await this.poller.settled();
  }

  async stop(): Promise<void> {
    await this.poller.stop();
    await this.releaseLock().catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.fatal) return;
    try {
      // Owner-only, as the data directory: the files hold usernames, addresses and reasons.
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      if (!(await this.acquireLock())) return;
      if (!this.state) this.state = await this.recover();
      if (this.fatal) return;
      for (;;) {
        const after = this.state.lastSeq;
        const rows = await this.ctx.db.auditEvent.findMany({ where: { seq: { gt: after } }, orderBy: { seq: "asc" }, take: this.batchSize });
        if (rows.length === 0) break;
        await this.append(rows);
        await this.heartbeat();
        if (rows.length < this.batchSize) break;
      }
      this.lastWarning = undefined;
    } catch (err) {
      // The next tick retries from the state file; a half-written batch is rolled back first.
      this.state = undefined;
      this.warnOnce(`audit files: cannot write to ${this.dir}: ${(err as Error).message}`, err);
    }
  }

  private warnOnce(message: string, err?: unknown): void {
    if (this.lastWarning === message) return;
    this.lastWarning = message;
    this.log.error(message, err);
  }

  private async append(rows: AuditEvent[]): Promise<void> {
    const byFile = new Map<string, AuditEvent[]>();
    for (const row of rows) {
      const name = auditFileName(row.at);
      const list = byFile.get(name);
      if (list) list.push(row);
      else byFile.set(name, [row]);
    }
    for (const file of byFile.keys()) await this.headerUpToDate(file);
    const pending = await Promise.all(
      [...byFile.keys()].map(async (file) => ({ file, size: await sizeOf(path.join(this.dir, file)) })),
    );
    await this.writeState({ ...this.state!, pending });
    for (const { file, size } of pending) {
      const text = (size === 0 ? auditCsvHeader() : "") + auditCsvRows(byFile.get(file)!);
      const handle = await fs.open(path.join(this.dir, file), "a", 0o600);
      try {
        await handle.writeFile(text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    const last = rows[rows.length - 1]!;
    this.state = { lastSeq: last.seq, lastHash: last.hash };
    await this.writeState(this.state);
  }

  /**
   * A file begun by an older Postern has fewer columns in its header than the rows now appended:
   * strict readers refuse such a file. Its header is made the current one (the file written again
   * beside it and renamed over, so a crash leaves one or the other); its older rows keep their
   * cells. Once per file and process.
   */
  private async headerUpToDate(file: string): Promise<void> {
    if (this.headers.has(file)) return;
    const full = path.join(this.dir, file);
    const text = await fs.readFile(full, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return "";
      throw err;
    });
    const header = auditCsvHeader();
    const end = text.indexOf("\r\n");
    if (text.startsWith(AUDIT_CSV_COLUMNS[0]) && end > 0 && !text.startsWith(header)) {
      await this.replaceFile(full, header + text.slice(end + 2));
    }
    this.headers.add(file);
  }

  /** Reads the state file, undoes an interrupted batch, and checks it describes this database. */
  private async recover(): Promise<State> {
    let state: State = { lastSeq: 0, lastHash: null };
    try {
      state = JSON.parse(await fs.readFile(path.join(this.dir, STATE_FILE), "utf8")) as State;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (state.pending) {
      for (const { file, size } of state.pending) {
        const full = path.join(this.dir, path.basename(file));
        if ((await sizeOf(full)) > size) await fs.truncate(full, size);
      }
      state = { lastSeq: state.lastSeq, lastHash: state.lastHash };
      await this.writeState(state);
    }
    if (state.lastSeq > 0) {
      const last = await this.ctx.db.auditEvent.findUnique({ where: { seq: state.lastSeq }, select: { hash: true } });
      if (!last || last.hash !== state.lastHash) {
        this.fatal =
          `audit files: ${path.join(this.dir, STATE_FILE)} says event #${state.lastSeq} was written last, ` +
          `but this database's event #${state.lastSeq} ${last ? "has a different hash" : "does not exist"}: ` +
          `the directory belongs to another database. Move its files aside to start over; no files are written until then.`;
        this.log.error(this.fatal);
      }
    }
    return state;
  }

  private async writeState(state: State): Promise<void> {
    await this.replaceFile(path.join(this.dir, STATE_FILE), JSON.stringify(state) + "\n");
  }

  /** Writes `text` beside `file`, synced, and renames it over: a crash leaves one or the other. */
  private async replaceFile(file: string, text: string): Promise<void> {
    const tmp = `${file}.${this.ownerId}.tmp`;
    const handle = await fs.open(tmp, "w", 0o600);
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  }

  private lockPath(): string {
    return path.join(this.dir, LOCK_FILE);
  }

  /** True when this writer holds the directory's lock (taking it when free or stale). */
  private async acquireLock(): Promise<boolean> {
    const file = this.lockPath();
    const mine = JSON.stringify({ owner: this.ownerId, host: os.hostname(), pid: process.pid });
    try {
      await fs.writeFile(file, mine, { flag: "wx", mode: 0o600 });
      // Another instance may have written meanwhile: start again from the state file.
      this.state = undefined;
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const [content, stat] = await Promise.all([fs.readFile(file, "utf8").catch(() => ""), fs.stat(file).catch(() => null)]);
    if (content.includes(this.ownerId)) {
      await this.heartbeat();
      return true;
    }
    if (stat && Date.now() - stat.mtimeMs < this.staleLockMs) {
      this.warnOnce(`audit files: another Postern instance writes ${this.dir} (${content}); this one waits`);
      return false;
    }
    // Stale: take it over, then read back, so of two instances taking over at once one wins.
    await fs.writeFile(file, mine);
    this.state = undefined;
    return (await fs.readFile(file, "utf8")).includes(this.ownerId);
  }

  private async heartbeat(): Promise<void> {
    const now = new Date();
    await fs.utimes(this.lockPath(), now, now);
  }

  private async releaseLock(): Promise<void> {
    const content = await fs.readFile(this.lockPath(), "utf8").catch(() => "");
    if (content.includes(this.ownerId)) await fs.rm(this.lockPath(), { force: true });
  }
}
