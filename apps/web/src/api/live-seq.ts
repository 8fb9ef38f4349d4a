// The live stream's seq (the API's LIVE_SEQ_HEADER), as the SPA uses it:
// - where the stream stood when each board read began, so that the stream opened after the board's
//   first reads resumes from there instead of sending the same board again as a snapshot: a tenth
//   of its bytes once the reads came compressed;
// - the newest change this page knows of (its own changes' answers, the stream's events), sent
//   with each board read: behind a load balancer the read after a change may reach an instance
//   that has yet to hear of it, which then catches up before answering;
// - whether a board read is older than what the stream has already applied to the cache: such a
//   read would take the board back in time (an instance that could not catch up), and the cache
//   is kept instead, except for the services, users and agents the stream has not spoken of
//   since: the read is still the only word on those (a service shared with this page just now).
import type { QueryClient, QueryKey } from "@tanstack/react-query";
import { LIVE_SEQ_HEADER } from "@postern/contracts";
import { queryKeys } from "./keys";

/** The board's queries and what each reads; the first two must be in the cache to skip a snapshot. */
const BOARD: { key: QueryKey; path: string; needed: boolean }[] = [
  { key: queryKeys.services, path: "/api/services", needed: true },
  { key: queryKeys.activeSessions, path: "/api/sessions?active=true", needed: true },
  { key: queryKeys.mySessions, path: "/api/sessions?mine=true", needed: false },
];

const seqs = new Map<string, number>();
/** The newest change this page knows of. */
let known = 0;
/** The last event the live stream applied to the cache (or its snapshot's seq). */
let applied = 0;
/** The seq of the last event the stream applied about each service, user or agent (aboutService…)
 * since its last snapshot. */
const spoken = new Map<string, number>();
/** What the event being applied spoke of, until noteStreamSeq gives it its seq. */
let speaking: string[] = [];
/** The last snapshot's seq: it replaced the whole board, so no read from before it can add to it. */
let replaced = 0;

const isBoardPath = (path: string) => BOARD.some((b) => b.path === path);

function seqOf(res: Response): number | undefined {
  const seq = Number(res.headers.get(LIVE_SEQ_HEADER) ?? Number.NaN);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

/** The header a read of `path` carries: the board at least as new as the newest change known. */
export function liveSeqHeaders(path: string): Record<string, string> {
  return known > 0 && isBoardPath(path) ? { [LIVE_SEQ_HEADER]: String(known) } : {};
}

/** A change's answer names the seq of what it changed. */
export function noteChangeSeq(res: Response): void {
  const seq = seqOf(res);
  if (seq !== undefined && seq > known) known = seq;
}

/** The live stream applied `seq` to the cache; a snapshot replaces what the cache held, and its
 * seq is where the server stands, even below what was known (a database restored from a backup). */
export function noteStreamSeq(seq: number, snapshot = false): void {
  applied = seq;
  if (snapshot || seq > known) known = seq;
  if (snapshot) {
    spoken.clear();
    replaced = seq;
  } else {
    for (const key of speaking) spoken.set(key, seq);
  }
  speaking = [];
}

/** How noteStreamSpokeOf and spokenSinceRead name a service's, a user's or an agent's part of the
 * board. */
export const aboutService = (id: string) => `service:${id}`;
export const aboutUser = (id: string) => `user:${id}`;
export const aboutAgent = (id: string) => `agent:${id}`;

/** The event being applied changes what the board shows of these services, users or agents. */
export function noteStreamSpokeOf(keys: Iterable<string>): void {
  for (const key of keys) speaking.push(key);
}

/** Whether, since the last read of `path` stood, the stream applied an event about any of `keys`
 * or replaced the board: the cache then knows better than the read. */
export function spokenSinceRead(path: string, keys: string[]): boolean {
  const seq = seqs.get(path);
  if (seq === undefined) return false;
  return replaced > seq || keys.some((key) => (spoken.get(key) ?? 0) > seq);
}

/** Whether the last read of `path` began before events the stream has applied to the cache since. */
export function readBehindStream(path: string): boolean {
  const seq = seqs.get(path);
  return seq !== undefined && seq < applied;
}

/** Forgets every seq, as a fresh page starts (tests). */
export function forgetLiveSeqs(): void {
  seqs.clear();
  known = 0;
  applied = 0;
  spoken.clear();
  speaking = [];
  replaced = 0;
}

/** Remembers the seq a successful read of one of the board's paths answered with; none, if it gave
 * none. Other reads are not the board's and are not kept. */
export function noteLiveSeq(path: string, res: Response): void {
  if (!isBoardPath(path)) return;
  const seq = seqOf(res);
  if (seq === undefined) return void seqs.delete(path);
  seqs.set(path, seq);
  if (seq > known) known = seq;
}

/** How long the stream waits for the board's first reads before taking a snapshot instead. */
const MAX_WAIT_MS = 3_000;

function fetching(qc: QueryClient): boolean {
  return BOARD.some(({ key }) => qc.isFetching({ queryKey: key, exact: true }) > 0);
}

function settled(qc: QueryClient, maxWaitMs: number): Promise<void> {
  if (!fetching(qc)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      unsubscribe();
      clearTimeout(timer);
      resolve();
    };
    const unsubscribe = qc.getQueryCache().subscribe(() => {
      if (!fetching(qc)) done();
    });
    const timer = setTimeout(done, maxWaitMs);
  });
}

/**
 * The seq to open the live stream from: the least any of the board's cached reads began at, so the
 * replay covers what the oldest of them missed (an event the others already show applies again to
 * the same end); 0, for a snapshot, when a needed read is missing or gave no seq.
 */
export async function boardCursor(qc: QueryClient, maxWaitMs = MAX_WAIT_MS): Promise<number> {
  await settled(qc, maxWaitMs);
  let least = Number.POSITIVE_INFINITY;
  for (const { key, path, needed } of BOARD) {
    const state = qc.getQueryState(key);
    if (state?.data === undefined || state.fetchStatus === "fetching") {
      if (needed) return 0;
      continue;
    }
    const seq = seqs.get(path);
    if (seq === undefined) return 0;
    least = Math.min(least, seq);
  }
  return Number.isFinite(least) ? least : 0;
}

