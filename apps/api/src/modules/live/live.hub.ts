// The connected live clients of this instance and the fan-out of events to them, in seq order.
//
// Exactly-once delivery: every client has a cursor (the last seq it has been sent) and gets only
// events above it, in order. While a client's snapshot or replay is being read from the
// database, events arriving meanwhile wait in its queue; they are sent after the snapshot or
// replay, minus what that already covered. A snapshot read after commit may already contain the
// effect of an event with a higher seq; the event then arrives again as an update of the same
// resource, which the client applies idempotently (every event carries the whole resource).
//
// The hub also watches every event for what it means to the clients themselves: a user disabled
// or deleted is dropped, a user whose groups or role changed gets a new board, a revoked token or
// an ended login loses its stream.
import type { WebSocket } from "ws";
import type { TDomainEvent, TScope, TUser } from "@postern/contracts";
import type { DbContext } from "../../lib/db-context";
import { presentUser, userInclude, type UserWithGroups } from "../users/users.presenter";
import { classOf, memberView, variantFor, type VisibilityClass } from "./live.audience";
import { firstLogSeq, readLog, lastLogSeq, type LogRecord } from "./live.log";
import type { BoardCache } from "../board/board.cache";
import { snapshotMessage } from "./live.snapshot";
import { sendFrame, textFrame, type TextFrame } from "./live.frame";

export interface LiveSettings {
  /** Heartbeat interval. */
  pingMs: number;
  /** A client whose unsent data exceeds this many bytes is told to resync and dropped. */
  maxBufferedBytes: number;
  /** Longest replay served on resume; further behind gets a snapshot. */
  maxReplay: number;
}

// A replay of 1,000 events is a few milliseconds of reading and parsing; further behind, the
// snapshot from memory is cheaper for the server and the client alike. (5,000 let a member's 20
// streams, reconnecting in a loop, hold SQLite's event loop for 50–100 ms a replay.)
export const defaultLiveSettings: LiveSettings = { pingMs: 20_000, maxBufferedBytes: 4 * 1024 * 1024, maxReplay: 1000 };

/** The close code sent with a `resync`. */
export const RESYNC_CLOSE_CODE = 4000;
const PING = textFrame(Buffer.from('{"type":"ping"}'));
/** Events waiting for one client's snapshot before it is dropped instead. */
const MAX_QUEUE = 10_000;
/** Frames sent in one turn of the event loop before the fan-out yields to other I/O. */
export const FANOUT_SLICE = 256;

interface Queued {
  seq: number;
  data: TextFrame;
}

/** What let a client in: checked again at every heartbeat and after every logout, so an ended
 * login (cookie or Basic-issued bearer) or a revoked token ends the stream on every instance. */
export type LiveCredential = { kind: "login"; id: string } | { kind: "token"; id: string };

/** Who is watching: the user (null for a service token) and the credential's scopes (null for a login). */
export interface Watcher {
  user: UserWithGroups | null;
  scopes: TScope[] | null;
  credential?: LiveCredential;
}

/** Admin rights of a watcher: the role and, for a token, the admin scope (as `isAdmin`). */
function watcherClass(w: Pick<Watcher, "user" | "scopes">): VisibilityClass {
  const scopeAdmin = w.scopes ? w.scopes.includes("admin") : true;
  if (!w.user) return classOf({ admin: scopeAdmin, groupIds: [] });
  return classOf({ admin: w.user.role === "admin" && scopeAdmin, groupIds: w.user.memberships.map((m) => m.groupId) });
}

/** Whom a stream counts against for the per-principal cap: a token by itself, a login by its user. */
function principalKeyOf(watcher: Watcher): string | undefined {
  if (watcher.credential?.kind === "token") return `token:${watcher.credential.id}`;
  return watcher.user ? `user:${watcher.user.id}` : undefined;
}

/** Close code for a stream refused because its principal has too many open (429's cousin). */
export const TOO_MANY_CLOSE_CODE = 4429;

export class LiveClient {
  cursor = 0;
  /** Non-null while a snapshot or replay is being prepared. */
  queue: Queued[] | null = [];
  refreshAgain = false;
  closed = false;
  /** Bytes of the snapshot or replay, allowed on top of the buffer bound: a client may take a
   * moment to read a large board, and must not be dropped (and loop) for that. */
  allowance = 0;
  cls: VisibilityClass;
  /** Whose streams this one counts among (the per-principal cap); fixed for its life. */
  readonly principalKey: string | undefined;
  constructor(
    readonly socket: WebSocket,
    public watcher: Watcher,
  ) {
    this.cls = watcherClass(watcher);
    this.principalKey = principalKeyOf(watcher);
  }
  get userId(): string | undefined {
    return this.watcher.user?.id;
  }
}

/** One event serialised once per audience variant. */
class Frames {
  private main?: TextFrame;
  private member?: TextFrame;
  private others?: TextFrame;
  private created?: TextFrame;
  constructor(private readonly record: LogRecord) {}
  for(cls: VisibilityClass): TextFrame | null {
    const { record } = this;
    const variant = variantFor(record.audience, cls);
    if (variant === "others") return (this.others ??= frame(record.seq, JSON.stringify(record.audience.others)));
    if (variant === "created" && record.event.type === "service.updated") {
      // Only members get this variant (admins see every service), so it is the member's view.
      return (this.created ??= frame(record.seq, JSON.stringify(memberView({ type: "service.created", service: record.event.service }))));
    }
    if (variant !== "main") return null;
    if (cls.admin) return (this.main ??= frame(record.seq, JSON.stringify(record.event)));
    return (this.member ??= frame(record.seq, JSON.stringify(memberView(record.event))));
  }
}

export class LiveHub {
  /** The highest seq handed to `deliver`. */
  lastSeq = 0;
  settings: LiveSettings;
  private readonly classes = new Map<string, { cls: VisibilityClass; clients: Set<LiveClient> }>();
  private readonly byUser = new Map<string, Set<LiveClient>>();
  /** Streams by principal (principalKeyOf), so the cap is checked without walking every stream. */
  private readonly byPrincipal = new Map<string, Set<LiveClient>>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Events handed to `deliver` and not yet sent to every client, oldest first. */
  private readonly outbox: LogRecord[] = [];
  /** The event being sent: whom it goes to, and how far it got. */
  private sending: { record: LogRecord; targets: [LiveClient, TextFrame][]; next: number } | null = null;
  private pumping = false;
  /** The latest visibility read started per user (refreshUser), while one is under way. */
  private readonly refreshes = new Map<string, number>();
  private refreshCount = 0;
  /** Whether a principal's rights may have changed since it was read (the principal cache
   * knows); a stream set up with such rights reads them again first. */
  principalChanged: (user: UserWithGroups) => boolean = () => false;

  constructor(
    private readonly ctx: DbContext,
    private readonly board: BoardCache,
    settings: Partial<LiveSettings> = {},
    private readonly log: (msg: string, err?: unknown) => void = () => {},
  ) {
    this.settings = { ...defaultLiveSettings, ...settings };
  }

  get clientCount(): number {
    let n = 0;
    for (const c of this.classes.values()) n += c.clients.size;
    return n;
  }

  /** Changes settings at run time (tests shorten the heartbeat and the buffer bound). */
  configure(settings: Partial<LiveSettings>): void {
    this.settings = { ...this.settings, ...settings };
    if (this.heartbeat) this.start();
  }

  start(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.ping(), this.settings.pingMs);
    this.heartbeat.unref();
  }

  stop(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.outbox.length = 0;
    this.sending = null;
    for (const client of this.allClients()) {
      client.closed = true;
      client.socket.close(1012, "service restart");
    }
    this.classes.clear();
    this.byUser.clear();
    this.byPrincipal.clear();
  }

  /** Adds a connected socket: a replay from `since` when the log still has it, else a snapshot. */
  async connect(socket: WebSocket, watcher: Watcher, since: number | undefined): Promise<LiveClient> {
    const client = new LiveClient(socket, watcher);
    this.add(client);
    socket.on("close", () => this.remove(client));
    socket.on("error", () => this.remove(client));
    try {
      if (watcher.user && this.principalChanged(watcher.user)) {
        // Its rights were read before a change that may have altered them, and that change's
        // own refresh found no stream of this user to refresh yet: read them again before
        // anything is sent. A change from now on finds the stream and refreshes it.
        const user = await this.readUser(watcher.user.id);
        if (client.closed) return client;
        if (!user || user.disabled) {
          this.drop(client, "your account is disabled");
          return client;
        }
        this.reclass(client, user);
      }
      if (since === undefined || !(await this.replay(client, since))) await this.sendSnapshot(client);
      this.flush(client);
      if (client.refreshAgain && client.userId) {
        client.refreshAgain = false;
        void this.refreshUser(client.userId);
      }
    } catch (err) {
      this.log("live client setup failed", err);
      this.drop(client, "the server could not prepare your board");
    }
    return client;
  }

  /**
   * Hands an event to every client that may see it; called with strictly increasing seqs.
   *
   * Sent in slices of FANOUT_SLICE frames, one per turn of the event loop: to 10,000 clients a
   * fan-out takes a hundred milliseconds or more, and in one piece it held up every answer due in
   * that time, the change's own among them when its notification (PostgreSQL) arrived before its
   * COMMIT did. Events go out one after another, each whole before the next: whom an event goes
   * to is decided when its turn comes, after what the one before meant to the clients
   * (`afterEvent`), exactly as when each was sent at once.
   *
   * The first slice goes out on the next turn too, not now: a local change is delivered at its
   * commit, before its request is answered, and the answer (written in this turn) goes first.
   * Sent at once, the first slice of 256 frames, and the list of the event's targets among every
   * client, sat on the request's path.
   */
  deliver(record: LogRecord): void {
    if (record.seq <= this.lastSeq) return;
    this.lastSeq = record.seq;
    this.outbox.push(record);
    if (!this.pumping) this.later();
  }

  private pump(): void {
    this.pumping = true;
    let more: boolean;
    try {
      more = this.sendSlice();
    } catch (err) {
      // As when an event was sent in one piece: the rest of it is given up, the next go out.
      this.sending = null;
      this.pumping = false;
      if (this.outbox.length > 0) this.later();
      throw err;
    }
    if (more) this.later();
    else this.pumping = false;
  }

  private later(): void {
    this.pumping = true;
    setImmediate(() => {
      try {
        this.pump();
      } catch (err) {
        this.log("live: sending an event failed", err);
      }
    });
  }

  /** Sends up to FANOUT_SLICE frames; true when some are left for the next turn. */
  private sendSlice(): boolean {
    let budget = FANOUT_SLICE;
    for (;;) {
      this.sending ??= this.nextToSend();
      const job = this.sending;
      if (!job) return false;
      const end = Math.min(job.targets.length, job.next + budget);
      budget -= end - job.next;
      while (job.next < end) {
        const [client, data] = job.targets[job.next++]!;
        this.push(client, job.record.seq, data);
      }
      if (job.next < job.targets.length) return true;
      this.sending = null;
      this.afterEvent(job.record.event);
      if (budget <= 0) return this.outbox.length > 0;
    }
  }

  private nextToSend(): { record: LogRecord; targets: [LiveClient, TextFrame][]; next: number } | null {
    const record = this.outbox.shift();
    if (!record) return null;
    const frames = new Frames(record);
    const targets: [LiveClient, TextFrame][] = [];
    for (const { cls, clients } of this.classes.values()) {
      if (clients.size === 0) continue;
      const data = frames.for(cls);
      if (!data) continue;
      for (const client of clients) targets.push([client, data]);
    }
    return { record, targets, next: 0 };
  }

  private push(client: LiveClient, seq: number, data: TextFrame): void {
    if (client.closed || seq <= client.cursor) return;
    if (client.queue) {
      if (client.queue.length >= MAX_QUEUE) return this.drop(client, "too many events while preparing your board");
      client.queue.push({ seq, data });
      return;
    }
    client.cursor = seq;
    this.send(client, data);
  }

  /** Sends an event's frame, or a message of this client's own (its snapshot). */
  private send(client: LiveClient, data: TextFrame | string): void {
    if (client.closed) return;
    let length: number;
    if (typeof data === "string") {
      client.socket.send(data, { binary: false });
      length = data.length;
    } else {
      sendFrame(client.socket, data);
      length = data.payload.length;
    }
    if (client.queue) {
      client.allowance += length;
      return;
    }
    if (client.socket.bufferedAmount > this.settings.maxBufferedBytes + client.allowance) {
      this.drop(client, "the connection is too slow");
    }
  }

  /** Open streams of one principal: an API token's own, else its user's (every login and personal token). */
  connectionsOf(watcher: Watcher): number {
    // An index, not a walk of every stream: 10,000 opening at once (a restart, every tab
    // reconnecting) made that quadratic.
    const key = principalKeyOf(watcher);
    return key ? (this.byPrincipal.get(key)?.size ?? 0) : 0;
  }

  private *allClients(): Iterable<LiveClient> {
    for (const { clients } of this.classes.values()) yield* clients;
  }

  /** Heartbeats in slices of FANOUT_SLICE, one per turn, as events go: to 10,000 clients in one
   * piece they held up the event loop (and any fan-out or answer due) for tens of milliseconds. */
  private ping(): void {
    const clients = [...this.allClients()];
    let next = 0;
    const slice = () => {
      const end = Math.min(clients.length, next + FANOUT_SLICE);
      while (next < end) this.send(clients[next++]!, PING);
      if (next < clients.length) setImmediate(slice);
    };
    slice();
    void this.revalidate();
  }

  /** Drops clients whose login ended or whose token was revoked or expired: one query per kind. */
  async revalidate(): Promise<void> {
    const logins = new Map<string, Set<LiveClient>>();
    const tokens = new Map<string, Set<LiveClient>>();
    for (const client of this.allClients()) {
      const cred = client.watcher.credential;
      // Added in place: copying the list for each of 10,000 sockets on one login took 180 ms of
      // CPU on every heartbeat, in one piece.
      if (cred) indexAdd(cred.kind === "login" ? logins : tokens, cred.id, client);
    }
    if (!logins.size && !tokens.size) return;
    const now = this.ctx.now();
    // Asks which are still good, so rows that vanished (a deleted user's logins) count as ended too.
    try {
      for (const ids of chunks([...logins.keys()])) {
        const valid = await this.ctx.db.loginSession.findMany({
          where: { id: { in: ids }, revokedAt: null, expiresAt: { gt: now } },
          select: { id: true },
        });
        const ok = new Set(valid.map((r) => r.id));
        for (const id of ids) if (!ok.has(id)) for (const client of logins.get(id) ?? []) this.drop(client, "your login has ended");
      }
      for (const ids of chunks([...tokens.keys()])) {
        const valid = await this.ctx.db.apiToken.findMany({
          where: { id: { in: ids }, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
          select: { id: true },
        });
        const ok = new Set(valid.map((r) => r.id));
        for (const id of ids) if (!ok.has(id)) for (const client of tokens.get(id) ?? []) this.drop(client, "this token was revoked or has expired");
      }
    } catch (err) {
      this.log("live: checking credentials failed", err);
    }
  }

  /** Tells the client to start over and closes its socket without waiting for its buffer. */
  drop(client: LiveClient, reason: string): void {
    if (client.closed) return;
    client.closed = true;
    this.remove(client);
    const socket = client.socket;
    socket.send(JSON.stringify({ type: "resync", reason }));
    socket.close(RESYNC_CLOSE_CODE, "resync");
    // A slow client may never read its buffer, so the close handshake may never finish.
    setTimeout(() => socket.terminate(), 2000).unref();
  }

  /** `drop` for every client, those still waiting for their snapshot or replay included. */
  dropAll(reason: string): void {
    for (const client of [...this.allClients()]) this.drop(client, reason);
  }

  private add(client: LiveClient): void {
    let entry = this.classes.get(client.cls.key);
    if (!entry) {
      entry = { cls: client.cls, clients: new Set() };
      this.classes.set(client.cls.key, entry);
    }
    entry.clients.add(client);
    indexAdd(this.byUser, client.userId, client);
    indexAdd(this.byPrincipal, client.principalKey, client);
  }

  private remove(client: LiveClient): void {
    client.closed = true;
    const entry = this.classes.get(client.cls.key);
    entry?.clients.delete(client);
    if (entry && entry.clients.size === 0) this.classes.delete(client.cls.key);
    indexDelete(this.byUser, client.userId, client);
    indexDelete(this.byPrincipal, client.principalKey, client);
  }

  /**
   * Replays events after `since` from the log, then a ping that says the client is up to date;
   * false (a snapshot instead) when the log no longer has all of them, or when one of them changed
   * what this client may see: the board it holds was read with the rights it had then.
   */
  private async replay(client: LiveClient, since: number): Promise<boolean> {
    // Resumed from a board read a moment ago, with nothing since (the usual page load): no read.
    if (since > 0 && since === this.lastSeq) {
      client.cursor = since;
      this.send(client, PING);
      return true;
    }
    // Further behind than a replay goes: a snapshot, without reading (and parsing) a log's worth
    // of rows first. Numbers lost to rolled-back appends only make this err towards a snapshot.
    if (this.lastSeq - since > this.settings.maxReplay) return false;
    const rows = await readLog(this.ctx, since, this.settings.maxReplay + 1);
    if (rows.length > this.settings.maxReplay) return false;
    if (rows.some((row) => mayChangeSightOf(row.event, client.userId))) return false;
    if (rows.length === 0) {
      // Nothing newer: fine if the client is not ahead of the log (another database, a reset).
      if (since > (await lastLogSeq(this.ctx))) return false;
    } else if (rows[0]?.seq !== since + 1 && (await firstLogSeq(this.ctx)) > since) {
      // Pruned past `since`: the replay would miss events. A gap while the log still holds rows
      // up to `since` is a number lost to an append that rolled back (PostgreSQL's sequences do
      // not give numbers back), which held no event.
      return false;
    }
    client.cursor = since;
    for (const row of rows) {
      client.cursor = row.seq;
      const data = new Frames(row).for(client.cls);
      if (data) this.send(client, data);
    }
    this.send(client, PING);
    return true;
  }

  private async sendSnapshot(client: LiveClient): Promise<void> {
    const seq = this.lastSeq;
    const me: TUser | undefined = client.watcher.user ? presentUser(client.watcher.user) : undefined;
    const message = await snapshotMessage(this.board, client.cls, seq, me);
    client.cursor = Math.max(client.cursor, seq);
    this.send(client, message);
  }

  /** Sends what queued up while the snapshot or replay was prepared, then goes live. */
  private flush(client: LiveClient): void {
    const queue = client.queue ?? [];
    client.queue = null;
    for (const item of queue) this.push(client, item.seq, item.data);
  }

  /** What an event means to the connected clients themselves (on whichever instance made it). */
  private afterEvent(event: TDomainEvent): void {
    const sight = sightChangedBy(event);
    if (sight && "userId" in sight) return this.refreshIfConnected(sight.userId);
    if (sight) {
      const affected = new Set<string>();
      for (const { cls, clients } of this.classes.values()) {
        if (!cls.groupIds.has(sight.groupId)) continue;
        for (const client of clients) if (client.userId) affected.add(client.userId);
      }
      for (const userId of affected) void this.refreshUser(userId);
      return;
    }
    switch (event.type) {
      case "user.disabled":
      case "user.deleted":
        for (const client of [...(this.byUser.get(event.userId) ?? [])]) {
          this.drop(client, event.type === "user.deleted" ? "your account was deleted" : "your account is disabled");
        }
        return;
      case "token.revoked":
        for (const client of [...this.allClients()]) {
          const cred = client.watcher.credential;
          if (cred?.kind === "token" && cred.id === event.token.id) this.drop(client, "this token was revoked");
        }
        return;
      case "user.logout":
      case "user.logout_all":
      case "user.password_changed":
        if (this.byUser.has(event.user.id)) void this.revalidate();
        return;
      default:
        return;
    }
  }

  private refreshIfConnected(userId: string): void {
    if (this.byUser.get(userId)?.size) void this.refreshUser(userId);
  }

  private readUser(userId: string): Promise<UserWithGroups | null> {
    return this.ctx.db.user.findUnique({ where: { id: userId }, include: userInclude });
  }

  private async refreshUser(userId: string): Promise<void> {
    // Reads may finish out of order: only the latest one started is applied. Numbered from one
    // counter for the hub's life, so a number is never handed out twice.
    const mine = ++this.refreshCount;
    this.refreshes.set(userId, mine);
    try {
      const user = await this.readUser(userId);
      if (this.refreshes.get(userId) !== mine) return;
      this.refreshes.delete(userId);
      for (const client of [...(this.byUser.get(userId) ?? [])]) {
        if (!user || user.disabled) {
          this.drop(client, "your account is disabled");
          continue;
        }
        await this.refreshClient(client, user);
      }
    } catch (err) {
      if (this.refreshes.get(userId) !== mine) return;
      this.refreshes.delete(userId);
      this.log("live: refreshing a user's visibility failed", err);
      for (const client of [...(this.byUser.get(userId) ?? [])]) this.drop(client, "your access changed");
    }
  }

  /** Moves a stream to the class of the user's current rights; what it had queued was framed
   * for the old ones, and the snapshot that follows covers it. */
  private reclass(client: LiveClient, user: UserWithGroups): void {
    this.remove(client);
    client.closed = false;
    client.watcher = { ...client.watcher, user };
    client.cls = watcherClass(client.watcher);
    client.queue = [];
    client.allowance = 0;
    this.add(client);
  }

  private async refreshClient(client: LiveClient, user: UserWithGroups): Promise<void> {
    if (client.closed) return;
    if (client.queue) {
      // A snapshot is already being prepared for the old rights: prepare another one after it.
      client.refreshAgain = true;
      return;
    }
    this.reclass(client, user);
    await this.sendSnapshot(client);
    this.flush(client);
    if (client.refreshAgain) {
      client.refreshAgain = false;
      void this.refreshUser(user.id);
    }
  }
}

/**
 * Whose view of the board an event changes, so that their clients take a fresh snapshot: one
 * user's (their account or their groups), or that of everyone in a deleted group.
 */
function sightChangedBy(event: TDomainEvent): { userId: string } | { groupId: string } | undefined {
  switch (event.type) {
    case "user.updated":
    case "user.enabled":
    case "group.member_added":
    case "group.member_removed":
      return { userId: event.user.id };
    case "user.login":
      return event.groups ? { userId: event.user.id } : undefined;
    case "group.deleted":
      return { groupId: event.group.id };
    default:
      return undefined;
  }
}

/** For a replay: whether `event` may have changed what this user sees (a deleted group counts for
 * every user, since the groups a client had when it read the board are not known). */
function mayChangeSightOf(event: TDomainEvent, userId: string | undefined): boolean {
  const sight = sightChangedBy(event);
  if (!sight || userId === undefined) return false;
  return "userId" in sight ? sight.userId === userId : true;
}

/** Adds `value` to the set `map` keeps under `key` (none when there is no key). */
function indexAdd<T>(map: Map<string, Set<T>>, key: string | undefined, value: T): void {
  if (!key) return;
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

/** Removes `value` from the set under `key`, and the key once its set is empty. */
function indexDelete<T>(map: Map<string, Set<T>>, key: string | undefined, value: T): void {
  const set = key ? map.get(key) : undefined;
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key!);
}

/** Keeps `IN (…)` lists well under SQLite's and PostgreSQL's parameter limits. */
function chunks<T>(items: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function frame(seq: number, eventJson: string): TextFrame {
  return textFrame(Buffer.from(`{"type":"event","seq":${seq},"event":${eventJson}}`));
}
