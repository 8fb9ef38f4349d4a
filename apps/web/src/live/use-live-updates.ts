// Runs the board's websocket (GET /api/live on the page's own origin) for as long as the
// component that calls it is mounted: applies the snapshot and the events to the query cache,
// resumes with ?since=<last seq> after a drop (and after the board's first reads, from where they
// stood), and backs off exponentially between attempts.
import { useEffect, useRef } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { ZLiveServerMessage, type TLiveEvent, type TMe } from "@postern/contracts";
import { queryKeys } from "../api/keys";
import { boardCursor, noteStreamSeq } from "../api/live-seq";
import { mentionsDisabled, noteLoginEnded } from "../api/login-ended";
import { applyEvent, applySnapshot } from "./apply-live";
import { setLiveStatus, useLiveStatus, type LiveStatus } from "./live-status";

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/** The server pings every 20 s; this long without a word means the connection is dead. */
const SILENCE_MS = 45_000;
/** After this many failed attempts in a row the badge says offline (it keeps trying). */
const OFFLINE_AFTER = 5;

export function liveUrl(since: number): string {
  const { protocol, host } = window.location;
  const scheme = protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${host}/api/live${since > 0 ? `?since=${since}` : ""}`;
}

export interface LiveOptions {
  /** Off while logged out. */
  enabled?: boolean;
  /** Called with each new event after it is applied to the cache (for notices to the user). */
  onEvent?: (event: TLiveEvent, me: string | undefined) => void;
}

export function useLiveUpdates(options: LiveOptions = {}): LiveStatus {
  const qc = useQueryClient();
  const enabled = options.enabled ?? true;
  // The latest callback without reconnecting when it changes.
  const onEvent = useRef(options.onEvent);
  useEffect(() => {
    onEvent.current = options.onEvent;
  });

  useEffect(() => {
    if (!enabled) return;
    let socket: WebSocket | null = null;
    let lastSeq = 0;
    /** A snapshot or event arrived on this page before: a later snapshot replaces a stream. */
    let followed = false;
    let me: string | undefined;
    let failures = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let silence: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    /** Until the board's first reads have said where to resume from. */
    let waiting = true;

    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => socket?.close(), SILENCE_MS);
    };

    const scheduleReconnect = () => {
      if (stopped) return;
      failures += 1;
      setLiveStatus(!navigator.onLine || failures >= OFFLINE_AFTER ? "offline" : "reconnecting");
      // A login that expired makes every attempt fail: let /api/me decide (it sends to login).
      if (failures === 3) void qc.invalidateQueries({ queryKey: queryKeys.me, exact: true });
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
      retry = setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
    };

    function connect() {
      clearTimeout(retry);
      if (stopped) return;
      const ws = new WebSocket(liveUrl(lastSeq));
      socket = ws;
      ws.onopen = heard;
      ws.onmessage = (ev: MessageEvent<string>) => {
        heard();
        let parsed;
        try {
          parsed = ZLiveServerMessage.safeParse(JSON.parse(ev.data));
        } catch {
          parsed = undefined;
        }
        if (!parsed?.success) {
          const seq = (() => {
            try {
              const raw = JSON.parse(ev.data) as { type?: unknown; seq?: unknown };
              return raw.type === "event" && typeof raw.seq === "number" ? raw.seq : undefined;
            } catch {
              return undefined;
            }
          })();
          if (seq !== undefined && seq > lastSeq) {
            // An event this build does not know (a newer server): refetch the board once.
            lastSeq = seq;
            void qc.invalidateQueries({ queryKey: queryKeys.services });
            void qc.invalidateQueries({ queryKey: ["sessions"] });
            return;
          }
          // Anything else unreadable: start over from a snapshot.
          lastSeq = 0;
          ws.close();
          return;
        }
        const msg = parsed.data;
        if (msg.type === "snapshot") {
          me = msg.data.me?.id;
          // A stream followed before (resumed, or any snapshot after the first) had a gap.
          applySnapshot(qc, msg.data, lastSeq > 0 || followed);
          followed = true;
          lastSeq = msg.seq;
          noteStreamSeq(msg.seq, true);
          failures = 0;
          setLiveStatus("connected");
        } else if (msg.type === "event") {
          if (msg.seq <= lastSeq) return;
          applyEvent(qc, msg.event, me);
          lastSeq = msg.seq;
          followed = true;
          noteStreamSeq(msg.seq);
          if (msg.event.type === "user.disabled" && msg.event.userId === me) noteLoginEnded("disabled");
          onEvent.current?.(msg.event, me);
          if (failures > 0) {
            failures = 0;
          }
          setLiveStatus("connected");
        } else if (msg.type === "resync") {
          lastSeq = 0;
          // The server ended this stream because the login is gone: let /api/me confirm it now,
          // rather than after a few failed reconnects.
          if (/login|disabled|deleted/i.test(msg.reason)) {
            if (mentionsDisabled(msg.reason)) noteLoginEnded("disabled");
            void qc.invalidateQueries({ queryKey: queryKeys.me, exact: true });
          }
        } else if (lastSeq > 0) {
          // A ping on a resumed stream with nothing to replay: we are up to date.
          failures = 0;
          setLiveStatus("connected");
        }
      };
      ws.onclose = () => {
        clearTimeout(silence);
        if (socket === ws) socket = null;
        scheduleReconnect();
      };
    }

    const online = () => {
      if (socket || stopped || waiting) return;
      failures = 0;
      connect();
    };
    const offline = () => setLiveStatus("offline");
    window.addEventListener("online", online);
    window.addEventListener("offline", offline);
    setLiveStatus("connecting");
    // The board's first reads (prefetched with /api/me) say where the stream stood when they began:
    // resuming from there replays what they missed instead of sending the same board again.
    void boardCursor(qc).then((since) => {
      waiting = false;
      if (since > 0) {
        lastSeq = since;
        me = qc.getQueryData<TMe | null>(queryKeys.me)?.user.id;
      }
      connect();
    });

    return () => {
      stopped = true;
      clearTimeout(retry);
      clearTimeout(silence);
      window.removeEventListener("online", online);
      window.removeEventListener("offline", offline);
      socket?.close();
      socket = null;
      setLiveStatus("offline");
    };
  }, [qc, enabled]);

  return useLiveStatus();
}
