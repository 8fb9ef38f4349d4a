// A real websocket client of GET /api/live for the tests: records every message in order.
import WebSocket from "ws";
import { ZLiveServerMessage, type TLiveEvent, type TLiveServerMessage } from "@postern/contracts";

export interface LiveTestClient {
  ws: WebSocket;
  messages: TLiveServerMessage[];
  /** Events only, in arrival order. */
  events(): Extract<TLiveServerMessage, { type: "event" }>[];
  lastSeq(): number;
  waitFor(predicate: (messages: TLiveServerMessage[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  closed: Promise<{ code: number }>;
  close(): Promise<void>;
}

/** The snapshots a client got, in order. */
export const snapshots = (c: LiveTestClient) => c.messages.filter((m) => m.type === "snapshot");

/** For `waitFor`: at least `n` events of this type have arrived. */
export const hasEvent = (type: TLiveEvent["type"], n = 1) => (ms: TLiveServerMessage[]) =>
  ms.filter((m) => m.type === "event" && m.event.type === type).length >= n;

export function liveUrl(baseUrl: string, since?: number): string {
  return `${baseUrl.replace(/^http/, "ws")}/api/live${since === undefined ? "" : `?since=${since}`}`;
}

export async function openLive(baseUrl: string, headers: Record<string, string>, since?: number): Promise<LiveTestClient> {
  const ws = new WebSocket(liveUrl(baseUrl, since), { headers });
  const messages: TLiveServerMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on("message", (data) => {
    messages.push(ZLiveServerMessage.parse(JSON.parse(String(data))));
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.on("close", (code) => resolve({ code })));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  const client: LiveTestClient = {
    ws,
    messages,
    closed,
    events: () => messages.filter((m) => m.type === "event"),
    lastSeq: () => {
      let seq = 0;
      for (const m of messages) if (m.type === "event" || m.type === "snapshot") seq = Math.max(seq, m.seq);
      return seq;
    },
    waitFor: (predicate, what, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (predicate(messages)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages.map((m) => (m.type === "event" ? `${m.seq}:${m.event.type}` : m.type)))}`));
        }, timeoutMs);
        const check = () => {
          if (predicate(messages)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
      }),
    close: async () => {
      if (ws.readyState !== WebSocket.CLOSED) {
        ws.close();
        await closed;
      }
    },
  };
  return client;
}

/** Resolves with the HTTP status the upgrade was refused with. */
export function refusedStatus(baseUrl: string, headers: Record<string, string>, since?: string): Promise<number> {
  const url = `${baseUrl.replace(/^http/, "ws")}/api/live${since === undefined ? "" : `?since=${since}`}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => reject(new Error("the upgrade was accepted")));
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("error", () => {});
  });
}
