import { QueryClient } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { LIVE_SEQ_HEADER } from "@postern/contracts";
import { queryKeys } from "./keys";
import { readBoard } from "./board-read";
import { boardCursor, forgetLiveSeqs, liveSeqHeaders, noteChangeSeq, noteLiveSeq, noteStreamSeq, readBehindStream } from "./live-seq";

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

describe("the newest change the page knows of", () => {
  beforeEach(() => forgetLiveSeqs());
  afterEach(() => {
    forgetLiveSeqs();
    vi.unstubAllGlobals();
  });

  it("goes with the board's reads, from a change's answer, the stream and the reads themselves", () => {
    expect(liveSeqHeaders("/api/services")).toEqual({});
    noteChangeSeq(answered(50));
    expect(liveSeqHeaders("/api/services")).toEqual({ [LIVE_SEQ_HEADER]: "50" });
    expect(liveSeqHeaders("/api/sessions?active=true")).toEqual({ [LIVE_SEQ_HEADER]: "50" });
    // Not the board's: nothing to catch up with.
    expect(liveSeqHeaders("/api/users")).toEqual({});
    noteStreamSeq(52);
    noteLiveSeq("/api/services", answered(51));
    expect(liveSeqHeaders("/api/services")).toEqual({ [LIVE_SEQ_HEADER]: "52" });
    noteChangeSeq(answered());
    expect(liveSeqHeaders("/api/services")).toEqual({ [LIVE_SEQ_HEADER]: "52" });
    // A snapshot is where the server stands, even behind (a database restored from a backup).
    noteStreamSeq(7, true);
    expect(liveSeqHeaders("/api/services")).toEqual({ [LIVE_SEQ_HEADER]: "7" });
  });

  it("keeps the cache when a read began before events the stream has applied since", async () => {
    const qc = new QueryClient();
    const path = "/api/sessions?active=true";
    const key = queryKeys.activeSessions;
    qc.setQueryData(key, ["as the stream left it"]);
    noteStreamSeq(20);
    const serve = (seq: number, body: unknown) =>
      vi.stubGlobal("fetch", async () => new Response(JSON.stringify(body), { headers: { [LIVE_SEQ_HEADER]: String(seq) } }));

    serve(19, ["from an instance behind"]);
    expect(await readBoard(qc, key, path, z.array(z.string()))).toEqual(["as the stream left it"]);
    expect(readBehindStream(path)).toBe(true);

    serve(20, ["as new as the stream"]);
    expect(await readBoard(qc, key, path, z.array(z.string()))).toEqual(["as new as the stream"]);

    // Nothing cached to keep: the read is all there is.
    serve(3, ["the first read"]);
    expect(await readBoard(qc, queryKeys.services, "/api/services", z.array(z.string()))).toEqual(["the first read"]);
  });
});
