import { afterEach, describe, expect, it, vi } from "vitest";
import { QueryClient, QueryObserver } from "@tanstack/react-query";
import { LIVE_SEQ_HEADER, type TMessage, type TService, type TSession, type TToken, type TUser } from "@postern/contracts";
import { queryKeys } from "../api/keys";
import { forgetLiveSeqs, noteStreamSeq } from "../api/live-seq";
import { activeSessionsQuery } from "../api/sessions";
import { applyEvent, applySnapshot } from "./apply-live";

const user = (id: string): TUser => ({ id, username: id, role: "member", disabled: false, groups: [] });
const service = (id: string, name: string, exclusive = true): TService => ({
  id,
  name,
  slug: id,
  kind: "vpn",
  exclusive,
  requiresApproval: false,
  defaultDurationSeconds: 3600,
  maxDurationSeconds: 7200,
  groupIds: [],
  activeSessions: 0,
});
const session = (id: string, serviceId: string, userId: string, status: TSession["status"]): TSession => ({
  id,
  serviceId,
  userId,
  user: user(userId),
  status,
  durationSeconds: 600,
  requestedAt: "2026-11-25T10:00:00.000Z",
  startedAt: status === "active" ? "2026-11-25T10:00:00.000Z" : undefined,
});

describe("applying the live stream to the query cache", () => {
  afterEach(() => {
    forgetLiveSeqs();
    vi.unstubAllGlobals();
  });

  it("replaces the board from a snapshot and keeps holders and counts in step with session events", () => {
    const qc = new QueryClient();
    qc.setQueryData(queryKeys.mySessions, [session("old", "a", "me", "ended")]);
    applySnapshot(qc, { services: [service("a", "Alpha"), service("b", "Beta", false)], sessions: [], me: user("me") });

    applyEvent(qc, { type: "session.started", session: session("s1", "a", "me", "active") }, "me");
    applyEvent(qc, { type: "session.started", session: session("s2", "b", "bob", "active") }, "me");
    // The same event twice (a snapshot/event overlap) changes nothing.
    applyEvent(qc, { type: "session.started", session: session("s2", "b", "bob", "active") }, "me");

    let services = qc.getQueryData<TService[]>(queryKeys.services)!;
    expect(services.map((s) => [s.id, s.activeSessions, s.holder?.id])).toEqual([
      ["a", 1, "me"],
      ["b", 1, undefined],
    ]);
    expect(qc.getQueryData<TSession[]>(queryKeys.activeSessions)!.map((s) => s.id).sort()).toEqual(["s1", "s2"]);
    expect(qc.getQueryData<TSession[]>(queryKeys.mySessions)!.map((s) => s.id)).toEqual(["s1", "old"]);

    applyEvent(qc, { type: "session.ended", session: session("s1", "a", "me", "ended") }, "me");
    applyEvent(qc, { type: "user.disabled", userId: "bob" }, "me");
    services = qc.getQueryData<TService[]>(queryKeys.services)!;
    expect(services.map((s) => [s.id, s.activeSessions, s.holder?.id])).toEqual([
      ["a", 0, undefined],
      ["b", 0, undefined],
    ]);
    expect(qc.getQueryData(queryKeys.activeSessions)).toEqual([]);
    expect(qc.getQueryData<TSession[]>(queryKeys.mySessions)!.map((s) => [s.id, s.status])).toEqual([
      ["s1", "ended"],
      ["old", "ended"],
    ]);
  });

  it("adds, updates and removes services in name order", () => {
    const qc = new QueryClient();
    applySnapshot(qc, { services: [service("b", "Beta")], sessions: [session("s", "b", "x", "pending")] });
    applyEvent(qc, { type: "service.created", service: service("a", "Alpha") }, undefined);
    applyEvent(qc, { type: "service.updated", service: { ...service("b", "Beta"), name: "Aardvark" }, changed: [] }, undefined);
    expect(qc.getQueryData<TService[]>(queryKeys.services)!.map((s) => s.name)).toEqual(["Aardvark", "Alpha"]);
    applyEvent(qc, { type: "service.deleted", id: "b" }, undefined);
    expect(qc.getQueryData<TService[]>(queryKeys.services)!.map((s) => s.id)).toEqual(["a"]);
    expect(qc.getQueryData(queryKeys.activeSessions)).toEqual([]);
  });

  it("puts relay messages into the admin's paged list: new ones on top, changed ones in place", () => {
    const qc = new QueryClient();
    const msg = (id: string, status: TMessage["status"], attempts = 0): TMessage => ({
      id,
      message: `m ${id}`,
      severity: "info",
      status,
      attempts,
      createdAt: "2026-11-25T10:00:00.000Z",
    });
    qc.setQueryData(queryKeys.messages, { pages: [{ items: [msg("b", "queued")], nextCursor: "c1" }, { items: [msg("a", "sent", 1)] }], pageParams: [undefined, "c1"] });
    qc.setQueryData(queryKeys.relayStatus, { enabled: true, queued: 1 });

    applyEvent(qc, { type: "message.queued", message: msg("c", "queued") }, "me");
    applyEvent(qc, { type: "message.sent", message: msg("b", "sent", 1) }, "me");
    applyEvent(qc, { type: "message.failed", message: msg("a", "failed", 8) }, "me");

    const data = qc.getQueryData<{ pages: { items: TMessage[] }[] }>(queryKeys.messages);
    expect(data?.pages.map((p) => p.items.map((m) => `${m.id}:${m.status}`))).toEqual([["c:queued", "b:sent"], ["a:failed"]]);
    // The status entry shares the key prefix and is left for its own refetch.
    expect(qc.getQueryData(queryKeys.relayStatus)).toEqual({ enabled: true, queued: 1 });
    expect(qc.getQueryState(queryKeys.relayStatus)?.isInvalidated).toBe(true);
  });

  it("takes pruned relay messages out of every listed page and has the relay's counts read again", () => {
    const qc = new QueryClient();
    const msg = (id: string, status: TMessage["status"]): TMessage => ({ id, message: `m ${id}`, severity: "info", status, attempts: 1, createdAt: "2026-11-25T10:00:00.000Z" });
    qc.setQueryData(queryKeys.messages, {
      pages: [{ items: [msg("d", "queued"), msg("c", "sent")], nextCursor: "c1" }, { items: [msg("b", "failed"), msg("a", "sent")] }],
      pageParams: [undefined, "c1"],
    });
    qc.setQueryData(queryKeys.relayStatus, { enabled: true, sent: 2, failed: 1 });

    applyEvent(qc, { type: "message.pruned", ids: ["c", "a", "gone-already"], retainDays: 30 }, "me");

    const data = qc.getQueryData<{ pages: { items: TMessage[]; nextCursor?: string }[] }>(queryKeys.messages);
    expect(data?.pages.map((p) => p.items.map((m) => m.id))).toEqual([["d"], ["b"]]);
    // Where the next page starts is the server's cursor, untouched by what left this one.
    expect(data?.pages[0]?.nextCursor).toBe("c1");
    expect(qc.getQueryState(queryKeys.relayStatus)?.isInvalidated).toBe(true);
  });

  it("keeps the admin lists fresh: users, groups, tokens and gateway doors", () => {
    const qc = new QueryClient();
    qc.setQueryData(queryKeys.users, [user("a")]);
    qc.setQueryData(queryKeys.groups, []);
    const token: TToken = { id: "t1", name: "monitor", prefix: "pst_ab", scopes: ["sessions:read"], createdAt: "2026-11-25T10:00:00.000Z" };
    qc.setQueryData(queryKeys.tokens, []);
    qc.setQueryData(queryKeys.services, [{ ...service("g", "Gate"), gateway: { agentId: "ag", publicPort: 2222, lanHost: "10.0.0.2", lanPort: 22, protocol: "tcp" } }]);

    applyEvent(qc, { type: "user.created", user: user("b") }, "me");
    applyEvent(qc, { type: "user.deleted", userId: "a", username: "a" }, "me");
    expect(qc.getQueryData<TUser[]>(queryKeys.users)!.map((u) => u.id)).toEqual(["b"]);
    expect(qc.getQueryState(queryKeys.groups)?.isInvalidated).toBe(true);

    applyEvent(qc, { type: "token.created", token }, "me");
    applyEvent(qc, { type: "token.revoked", token: { ...token, revokedAt: "2026-11-25T11:00:00.000Z" } }, "me");
    expect(qc.getQueryData<TToken[]>(queryKeys.tokens)!.map((t) => [t.id, Boolean(t.revokedAt)])).toEqual([["t1", true]]);

    const agent = { id: "ag", name: "router", online: false, inSync: false, rulesApplied: 0, rulesDesired: 1 };
    applyEvent(qc, { type: "agent.disconnected", agent, serviceIds: ["g"] }, "me");
    expect(qc.getQueryData<TService[]>(queryKeys.services)![0]!.gatewayStatus).toEqual({ online: false, inSync: false, error: undefined });
    // As a member gets it: no service ids; the board's binding says which services it serves.
    applyEvent(qc, { type: "agent.connected", agent: { ...agent, online: true, inSync: true, rulesDesired: 0 }, serviceIds: [] }, "me");
    expect(qc.getQueryData<TService[]>(queryKeys.services)![0]!.gatewayStatus).toEqual({ online: true, inSync: true, error: undefined });
  });

  it("keeps the holder of a service shared with this page just now, and reads the board's sessions again", () => {
    const qc = new QueryClient();
    applySnapshot(qc, { services: [service("a", "Alpha")], sessions: [], me: user("me") });
    const held = { ...service("b", "Beta"), groupIds: ["g2"], activeSessions: 1, holder: user("alice") };
    applyEvent(qc, { type: "service.updated", service: held, changed: ["groupIds"] }, "me");
    expect(qc.getQueryData<TService[]>(queryKeys.services)!.find((s) => s.id === "b")).toMatchObject({ activeSessions: 1, holder: { id: "alice" } });
    expect(qc.getQueryState(queryKeys.activeSessions)?.isInvalidated).toBe(true);
  });

  it("shows the holder of a service shared just now even when other events arrive while the sessions are read again", async () => {
    const qc = new QueryClient();
    applySnapshot(qc, { services: [service("a", "Alpha")], sessions: [session("s-carol", "a", "carol", "active")], me: user("me") });
    noteStreamSeq(10, true);
    // The board is on screen: its sessions query has an observer, as BoardPage gives it.
    const unsubscribe = new QueryObserver(qc, { ...activeSessionsQuery, staleTime: Infinity }).subscribe(() => {});
    let answer: (r: Response) => void = () => {};
    vi.stubGlobal("fetch", () => new Promise<Response>((resolve) => (answer = resolve)));

    // seq 11: b is shared with this page's group; alice has held it for a while.
    applyEvent(qc, { type: "service.created", service: { ...service("b", "Beta"), activeSessions: 1, holder: user("alice") } }, "me");
    noteStreamSeq(11);
    // seq 12 and 13, while that read is on its way: bob starts a session on a, carol's ends.
    applyEvent(qc, { type: "session.started", session: session("s-bob", "a", "bob", "active") }, "me");
    noteStreamSeq(12);
    applyEvent(qc, { type: "session.ended", session: session("s-carol", "a", "carol", "ended") }, "me");
    noteStreamSeq(13);
    // The server answers as of seq 11: b's holder is new to this page, carol's session is stale.
    const asOf11 = [session("s-alice", "b", "alice", "active"), session("s-carol", "a", "carol", "active")];
    answer(new Response(JSON.stringify(asOf11), { headers: { [LIVE_SEQ_HEADER]: "11" } }));
    await vi.waitFor(() => expect(qc.isFetching({ queryKey: queryKeys.activeSessions })).toBe(0));

    const sessions = qc.getQueryData<TSession[]>(queryKeys.activeSessions) ?? [];
    expect(sessions.map((s) => s.id).sort()).toEqual(["s-alice", "s-bob"]);
    unsubscribe();
  });

  it("reads My sessions again when a service with an open session of mine leaves the board", () => {
    const qc = new QueryClient();
    qc.setQueryData(queryKeys.mySessions, [session("s1", "a", "me", "active")]);
    applySnapshot(qc, { services: [service("a", "Alpha")], sessions: [session("s1", "a", "me", "active")], me: user("me") });
    expect(qc.getQueryState(queryKeys.mySessions)?.isInvalidated).toBe(false);
    // Its groups changed and mine is no longer among them: the revocation's event goes to others.
    applyEvent(qc, { type: "service.deleted", id: "a" }, "me");
    expect(qc.getQueryState(queryKeys.mySessions)?.isInvalidated).toBe(true);
  });

  it("reads My sessions and the admin lists again after a snapshot that replaces a stream, not after the first", () => {
    const qc = new QueryClient();
    qc.setQueryData(queryKeys.mySessions, [session("s1", "a", "me", "active")]);
    qc.setQueryData(queryKeys.users, [user("me")]);
    const board = { services: [service("a", "Alpha")], sessions: [], me: user("me") };
    applySnapshot(qc, board);
    expect(qc.getQueryState(queryKeys.users)?.isInvalidated).toBe(false);
    // s1 expired during the gap: the snapshot no longer lists it, and no event will say so.
    applySnapshot(qc, board, true);
    expect(qc.getQueryState(queryKeys.mySessions)?.isInvalidated).toBe(true);
    expect(qc.getQueryState(queryKeys.users)?.isInvalidated).toBe(true);
    expect(qc.getQueryState(queryKeys.services)?.isInvalidated).toBe(false);
    expect(qc.getQueryState(queryKeys.activeSessions)?.isInvalidated).toBe(false);
  });

  it("ignores events the board does not show", () => {
    const qc = new QueryClient();
    qc.setQueryData(queryKeys.services, [service("a", "Alpha")]);
    applyEvent(qc, { type: "user.login", user: { id: "u", username: "u" }, method: "local" }, "me");
    applyEvent(qc, { type: "user.password_changed", user: { id: "u", username: "u" }, by: "self", endedLogins: 1, revokedTokens: 0 }, "me");
    expect(qc.getQueryData<TService[]>(queryKeys.services)!.map((s) => s.id)).toEqual(["a"]);
  });
});
