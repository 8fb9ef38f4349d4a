import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { LIVE_SEQ_HEADER } from "@postern/contracts";
import { queryKeys } from "./keys";
import { boardCursor, noteLiveSeq } from "./live-seq";

const answered = (seq?: number) => new Response("[]", { headers: seq === undefined ? {} : { [LIVE_SEQ_HEADER]: String(seq) } });

/** A query the way the SPA's are: the read notes its seq, then the cache takes its data. */
function read(qc: QueryClient, key: readonly unknown[], path: string, seq: number | undefined, delayMs = 0): Promise<unknown> {
  return qc.fetchQuery({
    queryKey: key,
    queryFn: async () => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      noteLiveSeq(path, answered(seq));
      return [];
    },
  });
}

describe("boardCursor", () => {
  it("takes the least seq of the board's reads, so the replay covers what the oldest missed", async () => {
    const qc = new QueryClient();
    await read(qc, queryKeys.services, "/api/services", 12);
    await read(qc, queryKeys.activeSessions, "/api/sessions?active=true", 9);
    expect(await boardCursor(qc)).toBe(9);
    await read(qc, queryKeys.mySessions, "/api/sessions?mine=true", 7);
    expect(await boardCursor(qc)).toBe(7);
  });

  it("asks for a snapshot when the board was not read, or was read without a seq", async () => {
    const qc = new QueryClient();
    expect(await boardCursor(qc, 10)).toBe(0);
    await read(qc, queryKeys.services, "/api/services", 30);
    expect(await boardCursor(qc, 10)).toBe(0);

    const other = new QueryClient();
    await read(other, queryKeys.services, "/api/services", 31);
    // An older server: no header. The seq an earlier read left behind must not stand in for it.
    await read(other, queryKeys.activeSessions, "/api/sessions?active=true", undefined);
    expect(await boardCursor(other, 10)).toBe(0);
  });

  it("waits for reads in flight, and gives up on them after a while", async () => {
    const qc = new QueryClient();
    await read(qc, queryKeys.services, "/api/services", 40);
    const slow = read(qc, queryKeys.activeSessions, "/api/sessions?active=true", 41, 50);
    expect(await boardCursor(qc)).toBe(40);
    await slow;

    const late = read(qc, queryKeys.activeSessions, "/api/sessions?active=true", 42, 300);
    expect(await boardCursor(qc, 20)).toBe(0);
    await late;
  });
});
