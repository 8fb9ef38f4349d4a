// Where the live stream stood when each board read began (the API's LIVE_SEQ_HEADER), so that the
// stream opened after the board's first reads resumes from there instead of sending the same board
// again as a snapshot: a tenth of its bytes once the reads came compressed.
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

/** Remembers the seq a successful read of one of the board's paths answered with; none, if it gave
 * none. Other reads are not the board's and are not kept. */
export function noteLiveSeq(path: string, res: Response): void {
  if (!BOARD.some((b) => b.path === path)) return;
  const seq = Number(res.headers.get(LIVE_SEQ_HEADER) ?? Number.NaN);
  if (Number.isSafeInteger(seq) && seq > 0) seqs.set(path, seq);
  else seqs.delete(path);
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

