// What one visibility class (admins, or members of a given set of groups) sees on the board — its
// services and the open sessions on them — read once, presented once and serialised once, then
// served to every request and live snapshot of that class until a change makes it untrue. The
// change pipeline keeps it true: at commit on this process (so a request sees its own change at
// once) and as other processes' changes arrive from the live log. A session event moves each
// board in memory to its next version (board.view.ts), and so does an agent event (its doors);
// any other change that may alter a board drops them all, to be read again.
import { isOpenStatus, type TAgentStatus, type TDomainEvent, type TSession } from "@postern/contracts";
import type { DbContext } from "../../lib/db-context";
import type { VisibilityClass } from "../live/live.audience";
import { presentService } from "../services/services.presenter";
import { presentSession } from "../sessions/sessions.presenter";
import { readBoard } from "./board.read";
import { BoardView } from "./board.view";

export { BoardView };

/** A gateway's status reads offline once its heartbeats stop, with no event: look again this often. */
const MAX_AGE_MS = 5_000;
/** A board older than MAX_AGE_MS keeps answering while it is read again, up to this age; past it
 * (the database down, say) requests wait for a read of their own. */
const MAX_SERVED_AGE_MS = 4 * MAX_AGE_MS;

/** Events that leave every board as it was (logins, tokens, relay, tunnel, group names). */
const IRRELEVANT = /^(user\.(login|login_failed|login_throttled|logout|logout_all|password_changed|identity_linked|created)|auth\.|token\.|message\.|tunnel\.|group\.(created|renamed|member_added))/;

/** How many sessions' latest seq is remembered before the oldest are forgotten (see `latest`). */
const MAX_TRACKED = 10_000;
/** How far behind the newest seq an event would have to arrive for a forgotten one to matter. */
const TRACK_WINDOW = 5_000;
/** How many service ids one class remembers as not on its board before it starts over. */
const MAX_UNSEEN = 1_000;
/** How many closed (or unknown) sessions are remembered before the oldest are forgotten. */
const MAX_CLOSED = 10_000;

/** A session that is no longer open, as far as refusing a change to it needs: it stays so for good. */
export interface ClosedSession {
  status: string;
  userId: string;
  serviceId: string;
}

interface SessionUpdate {
  session: TSession;
  seq: number;
}

interface AgentUpdate {
  agent: TAgentStatus;
  seq: number;
}

class Entry {
  view!: Promise<BoardView>;
  readonly at = Date.now();
  /** The view once read, for `peek`. */
  ready?: BoardView;
  /** Session events noticed while the view is being read, applied to it once read. */
  pending: SessionUpdate[] = [];
  /** The same for agent events. */
  pendingAgents: AgentUpdate[] = [];
  /** The read under way that replaces this board once it has grown old; it answers meanwhile. */
  next?: Entry;
}

/** A board in memory becomes its next version, moved by an event rather than read again. */
function moveTo(entry: Entry, next: BoardView): void {
  if (next === entry.ready) return;
  entry.ready = next;
  entry.view = Promise.resolve(next);
}

/** Only a board that shows gateway statuses grows old by itself. */
function fresh(entry: Entry, maxAgeMs = MAX_AGE_MS): boolean {
  return Date.now() - entry.at < maxAgeMs || (entry.ready !== undefined && !entry.ready.hasGateways);
}

export class BoardCache {
  private readonly views = new Map<string, Entry>();
  /** Counts the changes that drop every board: a read under way during one is read again. */
  private drops = 0;
  /**
   * The seq of the latest event noticed for each session. Events mostly come in log order, but
   * this process's own change is noticed at its commit and another instance's earlier one to the
   * same session may be read from the log after it: that older one is not applied over the newer.
   */
  private readonly latest = new Map<string, number>();
  private newest = 0;
  /** The same for each gateway agent's status (agents are few: kept for the life of the process). */
  private readonly agentLatest = new Map<string, number>();
  /**
   * Per class: service ids that a read of committed state found gone or hidden from it, since the
   * last change that could show them (every such change drops the boards, and these with them).
   * A script retrying a start on a deleted service, or someone trying ids, costs one read per id,
   * not one per request.
   */
  private readonly unseen = new Map<string, Set<string>>();
  /**
   * Sessions that closed (ended, expired, denied) while this process watched, or that a read of
   * committed state found closed; `null` for an id with no session at all. A closed session never
   * opens again and keeps its holder and service, so an end or extend of one (a double click on
   * "End", a script ending what it already ended) is refused from here. Forgotten at every drop:
   * deleting a user or a service deletes their sessions.
   */
  private readonly closed = new Map<string, ClosedSession | null>();

  constructor(private readonly ctx: DbContext) {}

  /** How many times a board was read from the database (tests). */
  reads = 0;
  /** How many times a session was read to refuse a change to it (tests). */
  sessionReads = 0;

  view(cls: VisibilityClass): Promise<BoardView> {
    const hit = this.views.get(cls.key);
    if (hit && fresh(hit)) return hit.view;
    // Grown old by age alone (its gateways' statuses, which no event moves when an instance dies):
    // it answers while it is read again, rather than every request waiting on that read — on a
    // busy PostgreSQL, every 5 s, for as long as the read takes.
    if (hit?.ready && fresh(hit, MAX_SERVED_AGE_MS)) {
      this.renew(cls, hit);
      return hit.view;
    }
    const entry = new Entry();
    entry.view = this.build(cls, entry);
    this.views.set(cls.key, entry);
    entry.view.catch(() => {
      if (this.views.get(cls.key) === entry) this.views.delete(cls.key);
    });
    return entry.view;
  }

  private renew(cls: VisibilityClass, old: Entry): void {
    if (old.next) return;
    const next = new Entry();
    old.next = next;
    next.view = this.build(cls, next);
    next.view.then(
      () => {
        if (this.views.get(cls.key) === old && next.ready) this.views.set(cls.key, next);
        old.next = undefined;
      },
      () => {
        old.next = undefined;
      },
    );
  }

  /** Every board in memory and every read under way to replace one. */
  private *entries(): Iterable<Entry> {
    for (const entry of this.views.values()) {
      yield entry;
      if (entry.next) yield entry.next;
    }
  }

  /** What `view` would give at once, without a promise: the class's board when it is in memory
   * and fresh. Most reads find it so. */
  current(cls: VisibilityClass): BoardView | undefined {
    const hit = this.views.get(cls.key);
    return hit?.ready && fresh(hit) ? hit.ready : undefined;
  }

  /**
   * The class's board if it is in memory, without reading it: for checks that may skip it. Its age
   * does not matter here: MAX_AGE_MS is for gateway statuses, which change without an event;
   * sessions and services never change without one, and every event moves or drops the board.
   */
  peek(cls: VisibilityClass): BoardView | undefined {
    return this.views.get(cls.key)?.ready;
  }

  /** `seq`: the event's place in the live log, which orders the versions of a session. */
  notice(event: TDomainEvent, seq: number): void {
    if (IRRELEVANT.test(event.type)) return;
    if ("agent" in event) return this.noticeAgent(event.agent, seq);
    if (!("session" in event)) return this.dropAll();
    const { session } = event;
    // Older than a version applied already (this process's own change, heard at its commit, ahead
    // of another instance's earlier one read from the log).
    if ((this.latest.get(session.id) ?? 0) >= seq) return;
    this.track(session.id, seq);
    if (isOpenStatus(session.status)) this.closed.delete(session.id);
    else this.rememberClosed(session.id, { status: session.status, userId: session.userId, serviceId: session.serviceId });
    for (const entry of this.entries()) {
      if (!entry.ready) {
        entry.pending.push({ session, seq });
        continue;
      }
      moveTo(entry, entry.ready.withSession(session));
    }
  }

  private dropAll(): void {
    this.drops += 1;
    this.views.clear();
    this.unseen.clear();
    this.closed.clear();
  }

  /**
   * An agent connected, went away or reported the doors it applied: after every door opened or
   * closed on a busy board. Each board in memory shows the new status; a board still being read
   * may have read the agent before this change, and is shown it once read, as session events are.
   * (Dropping every board instead, under a stream of doors, sent each read round again.)
   */
  private noticeAgent(agent: TAgentStatus, seq: number): void {
    if ((this.agentLatest.get(agent.id) ?? 0) >= seq) return;
    this.agentLatest.set(agent.id, seq);
    for (const entry of this.entries()) {
      if (entry.ready) moveTo(entry, entry.ready.withAgentStatus(agent));
      else entry.pendingAgents.push({ agent, seq });
    }
  }

  /** Whether a read of committed state found `serviceId` gone or hidden from `cls`, and no change since could have shown it. */
  isUnseen(cls: VisibilityClass, serviceId: string): boolean {
    return this.unseen.get(cls.key)?.has(serviceId) ?? false;
  }

  /**
   * Taken just before such a read; called with the id once the read found it gone or hidden. A
   * change that could show it, noticed while the read was under way, may have come after what the
   * read saw: then nothing is remembered.
   */
  unseenRecorder(cls: VisibilityClass): (serviceId: string) => void {
    const drops = this.drops;
    return (serviceId) => {
      if (drops !== this.drops) return;
      let ids = this.unseen.get(cls.key);
      if (!ids) this.unseen.set(cls.key, (ids = new Set()));
      else if (ids.size >= MAX_UNSEEN) ids.clear();
      ids.add(serviceId);
    };
  }

  /** The session as remembered closed; `null`: known not to exist; undefined: not remembered. */
  closedSession(id: string): ClosedSession | null | undefined {
    return this.closed.get(id);
  }

  /**
   * Taken just before a read of committed state; called with what it found of a session that is
   * closed or does not exist. A drop noticed while the read was under way (a user or service
   * deleted) may have come after what the read saw: then nothing is remembered.
   */
  closedRecorder(): (id: string, session: ClosedSession | null) => void {
    this.sessionReads += 1;
    const drops = this.drops;
    return (id, session) => {
      if (drops === this.drops) this.rememberClosed(id, session);
    };
  }

  private rememberClosed(id: string, session: ClosedSession | null): void {
    this.closed.delete(id);
    if (this.closed.size >= MAX_CLOSED) this.closed.delete(this.closed.keys().next().value!);
    this.closed.set(id, session);
  }

  private track(sessionId: string, seq: number): void {
    this.latest.set(sessionId, seq);
    this.newest = Math.max(this.newest, seq);
    if (this.latest.size <= MAX_TRACKED) return;
    for (const [id, s] of this.latest) if (s < this.newest - TRACK_WINDOW) this.latest.delete(id);
  }

  /**
   * A view read while a session changed may or may not hold that change: the session events
   * noticed during the read are applied to it (each is the session's state after its change, and
   * only a session's latest is applied), so the requests waiting on it never answer with the
   * board from before a change whose live event already went out — a client applying both would
   * put the old state back over the new. A read that overlapped a drop is read again.
   */
  private async build(cls: VisibilityClass, entry: Entry): Promise<BoardView> {
    for (let attempt = 0; ; attempt++) {
      const drops = this.drops;
      entry.pending = [];
      entry.pendingAgents = [];
      const read = await this.read(cls);
      if (drops !== this.drops && attempt < 3) continue;
      let view = read;
      for (const { session, seq } of entry.pending) if (this.latest.get(session.id) === seq) view = view.withSession(session);
      for (const { agent, seq } of entry.pendingAgents) if (this.agentLatest.get(agent.id) === seq) view = view.withAgentStatus(agent);
      entry.pending = [];
      entry.pendingAgents = [];
      // Kept in the same turn as the pending events are applied: from here on, events move it.
      if (drops === this.drops) entry.ready = view;
      // Bounded: under a stream of drops a view a few milliseconds old is the best there is for
      // the requests waiting on it, but it is not kept.
      else if (this.views.get(cls.key) === entry) this.views.delete(cls.key);
      return view;
    }
  }

  private async read(cls: VisibilityClass): Promise<BoardView> {
    this.reads += 1;
    const { services, sessions } = await readBoard(this.ctx, cls);
    const view = { detail: cls.admin, now: this.ctx.now() };
    return new BoardView(
      services.map((s) => presentService(s, view)),
      sessions.map(presentSession),
      view.detail,
    );
  }
}
