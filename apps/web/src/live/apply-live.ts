// Applies the live stream to the TanStack Query cache with the same keys the pages read, so the
// board changes in place: no refetch, no second store. Every event carries the whole resource
// (or the id of a removal), so applying one twice changes nothing.
import type { QueryClient } from "@tanstack/react-query";
import {
  isOpenStatus,
  type TAgentStatus,
  type TLiveEvent,
  type TLiveSnapshotData,
  type TMessage,
  type TService,
  type TSession,
  type TToken,
  type TTunnel,
  type TUser,
} from "@postern/contracts";
import { queryKeys } from "../api/keys";
import { aboutAgent, aboutService, aboutUser, noteStreamSpokeOf } from "../api/live-seq";

function upsert<T extends { id: string }>(list: T[] | undefined, item: T): T[] | undefined {
  if (!list) return list;
  const i = list.findIndex((x) => x.id === item.id);
  if (i === -1) return [item, ...list];
  const next = list.slice();
  next[i] = item;
  return next;
}

const without = <T extends { id: string }>(list: T[] | undefined, id: string) => list?.filter((x) => x.id !== id);

/** A service's holder and active count follow from the open sessions on the board. */
function recountServices(qc: QueryClient, serviceIds: Set<string>): void {
  if (serviceIds.size === 0) return;
  const sessions = qc.getQueryData<TSession[]>(queryKeys.activeSessions) ?? [];
  const patch = (s: TService): TService => {
    if (!serviceIds.has(s.id)) return s;
    const active = sessions
      .filter((x) => x.serviceId === s.id && x.status === "active")
      .sort((a, b) => (a.startedAt ?? "").localeCompare(b.startedAt ?? ""));
    return { ...s, activeSessions: active.length, holder: s.exclusive ? active[0]?.user : undefined };
  };
  qc.setQueryData<TService[]>(queryKeys.services, (list) => list?.map(patch));
  for (const id of serviceIds) qc.setQueryData<TService>(queryKeys.service(id), (s) => (s ? patch(s) : s));
}

/** The board a snapshot replaces itself; every other query the stream would have kept fresh. */
const isBoardKey = (key: readonly unknown[]) => key[0] === "services" || (key[0] === "sessions" && key[1] === "active");

/**
 * The whole board. `afterGap`: it replaces a stream this page followed (the server sends one
 * instead of replaying a long gap, a pruned log, a client that fell behind, or changed rights),
 * so the events of the gap never reach the other lists: My sessions (sessions that ended in the
 * gap are not on the board to say so) and the admin lists are read again.
 */
export function applySnapshot(qc: QueryClient, data: TLiveSnapshotData, afterGap = false): void {
  qc.setQueryData(queryKeys.services, data.services);
  for (const s of data.services) {
    if (qc.getQueryData(queryKeys.service(s.id))) qc.setQueryData(queryKeys.service(s.id), s);
  }
  qc.setQueryData(queryKeys.activeSessions, data.sessions);
  const me = data.me?.id;
  if (me) {
    let mine = qc.getQueryData<TSession[]>(queryKeys.mySessions);
    for (const s of data.sessions) if (s.userId === me) mine = upsert(mine, s);
    if (mine) qc.setQueryData(queryKeys.mySessions, mine);
  }
  if (afterGap) void qc.invalidateQueries({ predicate: (q) => !isBoardKey(q.queryKey) });
}

function applySession(qc: QueryClient, session: TSession, me: string | undefined): void {
  noteStreamSpokeOf([aboutService(session.serviceId)]);
  qc.setQueryData<TSession[]>(queryKeys.activeSessions, (list) =>
    isOpenStatus(session.status) ? upsert(list, session) : without(list, session.id),
  );
  if (session.userId === me) qc.setQueryData<TSession[]>(queryKeys.mySessions, (list) => upsert(list, session));
  recountServices(qc, new Set([session.serviceId]));
}

/** Admin lists that embed one another (users hold their groups, groups their members). */
function refreshPeople(qc: QueryClient): void {
  void qc.invalidateQueries({ queryKey: queryKeys.users, exact: true });
  void qc.invalidateQueries({ queryKey: queryKeys.groups, exact: true });
}

/** Removes a user's open sessions from the board (disabled or deleted: they all ended). */
function dropSessionsOf(qc: QueryClient, userId: string): void {
  const affected = new Set<string>();
  qc.setQueryData<TSession[]>(queryKeys.activeSessions, (list) =>
    list?.filter((s) => {
      if (s.userId !== userId) return true;
      affected.add(s.serviceId);
      return false;
    }),
  );
  recountServices(qc, affected);
  noteStreamSpokeOf([aboutUser(userId), ...[...affected].map(aboutService)]);
}

/** An agent's state decides whether the doors of its services are open. */
function applyAgent(qc: QueryClient, agent: TAgentStatus, serviceIds: string[]): void {
  const ids = new Set(serviceIds);
  const status = { online: agent.online, inSync: agent.inSync, error: agent.error };
  // Members are not told which services an agent serves: their board's bindings say.
  const bound = (s: TService) => ids.has(s.id) || s.gateway?.agentId === agent.id;
  noteStreamSpokeOf([aboutAgent(agent.id), ...[...ids].map(aboutService)]);
  qc.setQueryData<TService[]>(queryKeys.services, (list) => list?.map((s) => (bound(s) ? { ...s, gatewayStatus: status } : s)));
  void qc.invalidateQueries({ queryKey: queryKeys.agents, exact: true });
}

export function applyEvent(qc: QueryClient, event: TLiveEvent, me: string | undefined): void {
  // Whatever happened is in the audit trail now: its pages refetch when next shown.
  void qc.invalidateQueries({ queryKey: ["audit"], refetchType: "none" });
  if ("session" in event) {
    applySession(qc, event.session, me);
    return;
  }
  switch (event.type) {
    case "service.created":
    case "service.updated": {
      noteStreamSpokeOf([aboutService(event.service.id)]);
      const seen = qc.getQueryData<TService[]>(queryKeys.services)?.some((s) => s.id === event.service.id) ?? false;
      qc.setQueryData<TService[]>(queryKeys.services, (list) =>
        upsert(list, event.service)?.sort((a, b) => a.name.localeCompare(b.name)),
      );
      if (qc.getQueryData(queryKeys.service(event.service.id))) qc.setQueryData(queryKeys.service(event.service.id), event.service);
      if (seen) {
        recountServices(qc, new Set([event.service.id]));
      } else {
        // Shown to this page just now (shared with one of its groups): its open sessions never
        // came as events, so the holder and count the event carries stand, and the board's
        // sessions are read again rather than counted from what this page has.
        void qc.invalidateQueries({ queryKey: queryKeys.activeSessions, exact: true });
      }
      return;
    }
    case "service.deleted": {
      noteStreamSpokeOf([aboutService(event.id)]);
      qc.setQueryData<TService[]>(queryKeys.services, (list) => without(list, event.id));
      qc.setQueryData<TSession[]>(queryKeys.activeSessions, (list) => list?.filter((s) => s.serviceId !== event.id));
      qc.removeQueries({ queryKey: queryKeys.service(event.id), exact: true });
      // Deleted, or no longer shown to this page's groups: either way its sessions here ended
      // (revoked), and those events go to who may see the service, which may no longer be us.
      if (qc.getQueryData<TSession[]>(queryKeys.mySessions)?.some((s) => s.serviceId === event.id && isOpenStatus(s.status))) {
        void qc.invalidateQueries({ queryKey: queryKeys.mySessions, exact: true });
      }
      return;
    }
    case "user.created":
    case "user.enabled":
      qc.setQueryData<TUser[]>(queryKeys.users, (list) => upsert(list, event.user));
      void qc.invalidateQueries({ queryKey: queryKeys.groups, exact: true });
      return;
    case "user.disabled": {
      dropSessionsOf(qc, event.userId);
      qc.setQueryData<TUser[]>(queryKeys.users, (list) =>
        list?.map((u) => (u.id === event.userId ? (event.user ?? { ...u, disabled: true }) : u)),
      );
      void qc.invalidateQueries({ queryKey: queryKeys.groups, exact: true });
      return;
    }
    case "user.deleted":
      dropSessionsOf(qc, event.userId);
      qc.setQueryData<TUser[]>(queryKeys.users, (list) => without(list, event.userId));
      void qc.invalidateQueries({ queryKey: queryKeys.groups, exact: true });
      return;
    case "user.updated": {
      qc.setQueryData<TUser[]>(queryKeys.users, (list) => upsert(list, event.user));
      if (event.changed.includes("groupIds") || event.changed.includes("groups")) {
        void qc.invalidateQueries({ queryKey: queryKeys.groups, exact: true });
      }
      // My own rights changed: one refetch of /api/me (the server sends a new snapshot too).
      if (event.user.id === me) void qc.invalidateQueries({ queryKey: queryKeys.me, exact: true });
      return;
    }
    case "group.created":
    case "group.renamed":
    case "group.deleted":
    case "group.member_added":
    case "group.member_removed":
      refreshPeople(qc);
      if (event.type !== "group.created" && "user" in event && event.user.id === me) {
        void qc.invalidateQueries({ queryKey: queryKeys.me, exact: true });
      }
      return;
    case "token.created":
    case "token.revoked":
      qc.setQueryData<TToken[] | null>(queryKeys.tokens, (list) => (list ? (upsert(list, event.token) ?? null) : list));
      return;
    case "message.queued":
    case "message.retrying":
    case "message.sent":
    case "message.failed":
      applyMessage(qc, event.message, event.type === "message.queued");
      return;
    case "message.pruned":
      dropMessages(qc, new Set(event.ids));
      return;
    case "agent.connected":
    case "agent.disconnected":
    case "agent.rules_applied":
      applyAgent(qc, event.agent, event.serviceIds);
      return;
    case "tunnel.opening":
    case "tunnel.opened":
    case "tunnel.closed":
    case "tunnel.failed":
      qc.setQueryData<TTunnel>(queryKeys.tunnel, event.tunnel);
      return;
    default:
      // Logins, logouts, password changes, token trades: nothing on screen shows them but the
      // audit trail (marked stale above).
      return;
  }
}

type MessagePage = { items: TMessage[]; nextCursor?: string };
type MessagePages = { pages: MessagePage[]; pageParams: unknown[] };

/** Relay messages: patch the listed pages in place; a new one goes on top of the first page. */
function applyMessage(qc: QueryClient, message: TMessage, isNew: boolean): void {
  const patch = (page: MessagePage, first: boolean): MessagePage => {
    if (page.items.some((m) => m.id === message.id)) {
      return { ...page, items: page.items.map((m) => (m.id === message.id ? message : m)) };
    }
    return isNew && first ? { ...page, items: [message, ...page.items] } : page;
  };
  updateMessageLists(qc, (pages) => {
    const known = pages.some((p) => p.items.some((m) => m.id === message.id));
    return pages.map((p, i) => patch(p, i === 0 && !known));
  });
}

/** Pruned relay messages leave every listed page. Each page keeps its own `nextCursor`: the
 * server's cursor names where the next page starts, whatever has left this one since. */
function dropMessages(qc: QueryClient, ids: Set<string>): void {
  const drop = (page: MessagePage): MessagePage =>
    page.items.some((m) => ids.has(m.id)) ? { ...page, items: page.items.filter((m) => !ids.has(m.id)) } : page;
  updateMessageLists(qc, (pages) => pages.map(drop));
}

/** Rewrites the pages of every cached list of relay messages. The admin list is an infinite query
 * (`{ pages }`); a plain page is handled as a list of one. */
function updateMessageLists(qc: QueryClient, update: (pages: MessagePage[]) => MessagePage[]): void {
  qc.setQueriesData<MessagePage | MessagePages>({ queryKey: queryKeys.messages }, (data) => {
    if (!data || typeof data !== "object") return data;
    if ("pages" in data && Array.isArray(data.pages)) return { ...data, pages: update(data.pages) };
    if ("items" in data && Array.isArray(data.items)) return update([data])[0];
    return data;
  });
  // The relay's counts (queued, sent, failed) changed too: one small refetch, not a list reload.
  void qc.invalidateQueries({ queryKey: queryKeys.relayStatus, exact: true });
}
