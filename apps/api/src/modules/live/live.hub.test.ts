// The hub's fan-out in slices, from the turn after the event's delivery (after the change's own
// answer): a large audience gets an event over several turns of the event loop, each event whole
// before the next, and every client gets every event once, in order.
// Sockets here are stand-ins that record what they were sent: the slicing is the hub's own
// bookkeeping, and live.test.ts covers real websockets end to end.
import { setImmediate as nextTurn } from "node:timers/promises";
import type { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import type { DbContext } from "../../lib/db-context";
import type { BoardCache } from "../board/board.cache";
import { FANOUT_SLICE, LiveClient, LiveHub, type Watcher } from "./live.hub";
import type { LogRecord } from "./live.log";

function recordingSocket(): { socket: WebSocket; seqs: number[] } {
  const seqs: number[] = [];
  const socket = {
    bufferedAmount: 0,
    // A heartbeat has no seq: it is recorded as 0.
    send: (data: Buffer) => seqs.push((JSON.parse(data.toString()) as { seq?: number }).seq ?? 0),
    close: () => {},
    on: () => socket,
  } as unknown as WebSocket;
  return { socket, seqs };
}

const admin = { user: { id: "u-admin", role: "admin", disabled: false, memberships: [] }, scopes: null } as unknown as Watcher;

function hubWith(n: number) {
  const hub = new LiveHub({} as DbContext, {} as BoardCache);
  const sockets = Array.from({ length: n }, () => {
    const { socket, seqs } = recordingSocket();
    const client = new LiveClient(socket, admin);
    client.queue = null;
    (hub as unknown as { add(c: LiveClient): void }).add(client);
    return seqs;
  });
  return { hub, sockets };
}

const event = (seq: number): LogRecord => ({
  seq,
  event: { type: "group.created", group: { id: `g${seq}`, name: `group ${seq}` } },
  audience: { to: "admins" },
});

describe("the live hub's fan-out", () => {
  it("sends a small audience its events on the next turn, after the answer of this one", async () => {
    const { hub, sockets } = hubWith(3);
    hub.deliver(event(1));
    hub.deliver(event(2));
    for (const seqs of sockets) expect(seqs).toEqual([]);
    await nextTurn();
    for (const seqs of sockets) expect(seqs).toEqual([1, 2]);
  });

  it("sends a large audience one slice per turn, each event whole before the next", async () => {
    const n = FANOUT_SLICE * 2 + 10;
    const { hub, sockets } = hubWith(n);
    hub.deliver(event(1));
    hub.deliver(event(2));
    // Nothing this turn; the next: the first slice of the first event, nothing of the second.
    expect(sockets.flat()).toEqual([]);
    await nextTurn();
    expect(sockets.filter((s) => s.length > 0)).toHaveLength(FANOUT_SLICE);
    expect(sockets.flat().every((seq) => seq === 1)).toBe(true);
    let turns = 1;
    while (sockets.some((s) => s.length < 2)) {
      await nextTurn();
      turns += 1;
      expect(turns).toBeLessThan(20);
    }
    expect(turns).toBe(Math.ceil((2 * n) / FANOUT_SLICE));
    for (const seqs of sockets) expect(seqs).toEqual([1, 2]);
    // An event already sent, or an older one, is not sent again.
    hub.deliver(event(2));
    await nextTurn();
    for (const seqs of sockets) expect(seqs).toEqual([1, 2]);
  });

  it("sends heartbeats to a large audience one slice per turn too", async () => {
    const n = FANOUT_SLICE * 2 + 10;
    const { hub, sockets } = hubWith(n);
    (hub as unknown as { ping(): void }).ping();
    expect(sockets.filter((s) => s.length > 0)).toHaveLength(FANOUT_SLICE);
    let turns = 0;
    while (sockets.some((s) => s.length === 0)) {
      await nextTurn();
      turns += 1;
      expect(turns).toBeLessThan(10);
    }
    expect(turns).toBe(Math.ceil(n / FANOUT_SLICE) - 1);
    for (const seqs of sockets) expect(seqs).toEqual([0]);
  });
});

describe("the live hub's refresh of a user's rights", () => {
  it("applies only the latest read started, whatever order the reads finish in", async () => {
    const reads: ((groups: string[]) => void)[] = [];
    const ctx = {
      db: {
        user: {
          findUnique: () =>
            new Promise((resolve) =>
              reads.push((groups) => resolve({ id: "u1", role: "member", disabled: false, memberships: groups.map((groupId) => ({ groupId, group: { id: groupId, name: groupId } })) })),
            ),
        },
      },
    } as unknown as DbContext;
    const board = { view: async () => ({ servicesJson: "[]", sessionsJson: "[]" }) } as unknown as BoardCache;
    const hub = new LiveHub(ctx, board);
    const member = { user: { id: "u1", role: "member", disabled: false, memberships: [] }, scopes: null } as unknown as Watcher;
    const client = new LiveClient(recordingSocket().socket, member);
    client.queue = null;
    (hub as unknown as { add(c: LiveClient): void }).add(client);
    const refresh = () => (hub as unknown as { refreshUser(id: string): Promise<void> }).refreshUser("u1");
    // A starts, then B; B finishes first and applies; C starts; A finishes (older than C), then C.
    const a = refresh();
    const b = refresh();
    reads[1]!(["g-b"]);
    await b;
    expect([...client.cls.groupIds]).toEqual(["g-b"]);
    const c = refresh();
    reads[0]!(["g-a"]);
    await a;
    expect([...client.cls.groupIds]).toEqual(["g-b"]);
    reads[2]!(["g-c"]);
    await c;
    expect([...client.cls.groupIds]).toEqual(["g-c"]);
  });
});
