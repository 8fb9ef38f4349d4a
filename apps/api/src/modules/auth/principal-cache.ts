// Who a login cookie or an API token stands for, kept in memory, so an authenticated request
// costs no database round trip. The change pipeline keeps it true: every event that can change a
// user's rights, groups or credentials drops that user's entries — on this process at commit,
// before the request that made the change answers, and on every other instance as the event
// arrives from the live log. Entries also expire after a short time, as a safety net.
//
// It remembers, as briefly, the credentials that stand for no one: a login session that was
// logged out, revoked or has expired, and a token prefix no token has. A browser tab left open
// after "log out everywhere", or a monitor still using a deleted token, sends one on every request
// until someone notices, and each cost a database query: 32 to 44 times a cached read. Such a
// refusal lasts (no event makes a revoked login valid again); the one that can end, an unknown
// prefix that a new token takes, is dropped by that token's event. A disabled account's login is
// not remembered this way, so that each refusal still says why.
import type { TDomainEvent } from "@postern/contracts";
import type { UserWithGroups } from "../users/users.presenter";
import type { StoredToken } from "../tokens/tokens.service";

export interface CachedLogin {
  user: UserWithGroups;
  expiresAt: Date;
}

interface Entry<T> {
  value: T;
  userId: string | null;
  until: number;
}

const TTL_MS = 30_000;
const MAX_ENTRIES = 20_000;

/** What the login loader may find besides a login: an account that exists but is disabled. */
export type LoginLookup = CachedLogin | "disabled" | null;

/** The user a loaded login or token stands for. */
function userObjectOf(value: unknown): object | null {
  if (typeof value !== "object" || value === null || !("user" in value)) return null;
  const user = (value as { user: unknown }).user;
  return typeof user === "object" ? user : null;
}

export class PrincipalCache {
  private readonly logins = new Map<string, Entry<CachedLogin>>();
  private readonly tokens = new Map<string, Entry<StoredToken>>();
  /** Login session ids and token prefixes found to stand for no one, and until when that is
   * believed. Apart from the entries above, so a flood of made-up credentials cannot push the
   * real ones out. */
  private readonly refusedLogins = new Map<string, number>();
  private readonly refusedTokens = new Map<string, number>();
  /** Loads in flight, so a burst of requests with one cookie makes one query; each with the
   * generation it started in: a request that arrives after an invalidation must not join a load
   * that may have read the rows from before it. */
  private readonly loading = new Map<string, { promise: Promise<unknown>; generation: number }>();
  /** Bumped by every invalidation: a load that started before one must not be stored after it. */
  private generation = 0;
  /** The generation each user object loaded here was read in, and when each user's entries, or
   * everyone's, were last dropped: so a holder of a principal (a live stream, which lasts) can
   * ask whether its rights may have changed since they were read. */
  private readonly readIn = new WeakMap<object, number>();
  private readonly forgottenIn = new Map<string, number>();
  private clearedIn = 0;

  constructor(private readonly ttlMs = TTL_MS) {}

  /** Without loading: the login, null when it is known to stand for no one, undefined when it
   * has to be loaded. */
  cachedLogin(sid: string): CachedLogin | null | undefined {
    return this.fresh(this.logins, this.refusedLogins, sid);
  }

  cachedToken(prefix: string): StoredToken | null | undefined {
    return this.fresh(this.tokens, this.refusedTokens, prefix);
  }

  private fresh<T>(map: Map<string, Entry<T>>, refused: Map<string, number>, key: string): T | null | undefined {
    const hit = map.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const until = refused.get(key);
    return until !== undefined && until > Date.now() ? null : undefined;
  }

  async login(sid: string, load: () => Promise<LoginLookup>): Promise<LoginLookup> {
    return this.get(this.logins, this.refusedLogins, `l:${sid}`, sid, load, (v) => v.user.id);
  }

  async token(prefix: string, load: () => Promise<StoredToken | null>): Promise<StoredToken | null> {
    return this.get(this.tokens, this.refusedTokens, `t:${prefix}`, prefix, load, (v) => v.userId);
  }

  /** From memory, or loaded: an object is remembered as found, null as standing for no one,
   * anything else (a disabled account) not at all. */
  private async get<T extends object, V extends T | null | string>(
    map: Map<string, Entry<T>>,
    refused: Map<string, number>,
    loadKey: string,
    key: string,
    load: () => Promise<V>,
    userOf: (v: T) => string | null,
  ): Promise<V> {
    const hit = this.fresh(map, refused, key);
    if (hit !== undefined) return hit as V;
    const running = this.loading.get(loadKey);
    if (running && running.generation === this.generation) return running.promise as Promise<V>;
    const generation = this.generation;
    const inFlight = {
      generation,
      promise: load().finally(() => {
        // A newer load of the same key may have taken the slot meanwhile: it stays.
        if (this.loading.get(loadKey) === inFlight) this.loading.delete(loadKey);
      }),
    };
    this.loading.set(loadKey, inFlight);
    const value = await inFlight.promise;
    const user = userObjectOf(value);
    if (user && !this.readIn.has(user)) this.readIn.set(user, generation);
    if (generation === this.generation) {
      const until = Date.now() + this.ttlMs;
      if (value === null) {
        if (refused.size >= MAX_ENTRIES) refused.clear();
        refused.set(key, until);
      } else if (typeof value === "object") {
        if (map.size >= MAX_ENTRIES) map.clear();
        map.set(key, { value: value as T, userId: userOf(value as T), until });
      }
    }
    return value;
  }

  /** Drops what an event may have made untrue. */
  notice(event: TDomainEvent): void {
    switch (event.type) {
      case "user.updated":
      case "user.enabled":
      case "user.password_changed":
      case "user.logout":
      case "user.logout_all":
        return this.forgetUser(event.user.id);
      case "user.disabled":
      case "user.deleted":
        return this.forgetUser(event.userId);
      case "user.login":
        // A login through a provider may have changed the user's groups (its groups claim).
        if (event.groups) this.forgetUser(event.user.id);
        return;
      case "group.member_added":
      case "group.member_removed":
        return this.forgetUser(event.user.id);
      case "group.renamed":
      case "group.deleted":
        // Group names and memberships of many users: start over.
        return this.clear();
      case "token.created":
        // Its prefix may have been refused a moment ago (a script that tried it early, or a guess).
        this.refusedTokens.clear();
        this.generation += 1;
        return;
      case "token.revoked":
        for (const [key, entry] of this.tokens) if (entry.value.id === event.token.id) this.tokens.delete(key);
        this.generation += 1;
        return;
      default:
        return;
    }
  }

  /** Whether the rights read into this user object may have changed since: an event dropped the
   * user's entries, or everyone's, after it was read. An object not read here may have. */
  changedSince(user: { id: string }): boolean {
    const readIn = this.readIn.get(user);
    if (readIn === undefined) return true;
    return readIn < this.clearedIn || readIn < (this.forgottenIn.get(user.id) ?? 0);
  }

  forgetUser(userId: string): void {
    this.generation += 1;
    if (this.forgottenIn.size >= MAX_ENTRIES) {
      // Forgetting who was dropped when counts as dropping everyone: never a stale "unchanged".
      this.forgottenIn.clear();
      this.clearedIn = this.generation;
    }
    this.forgottenIn.set(userId, this.generation);
    for (const map of [this.logins, this.tokens] as Map<string, Entry<unknown>>[]) {
      for (const [key, entry] of map) if (entry.userId === userId) map.delete(key);
    }
  }

  clear(): void {
    this.generation += 1;
    this.clearedIn = this.generation;
    this.forgottenIn.clear();
    this.logins.clear();
    this.tokens.clear();
    this.refusedLogins.clear();
    this.refusedTokens.clear();
  }
}
