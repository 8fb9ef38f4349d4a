// Who a login cookie or an API token stands for, kept in memory, so an authenticated request
// costs no database round trip. The change pipeline keeps it true: every event that can change a
// user's rights, groups or credentials drops that user's entries — on this process at commit,
// before the request that made the change answers, and on every other instance as the event
// arrives from the live log. Entries also expire after a short time, as a safety net.
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

export class PrincipalCache {
  private readonly logins = new Map<string, Entry<CachedLogin>>();
  private readonly tokens = new Map<string, Entry<StoredToken>>();
  /** Loads in flight, so a burst of requests with one cookie makes one query. */
  private readonly loading = new Map<string, Promise<unknown>>();
  /** Bumped by every invalidation: a load that started before one must not be stored after it. */
  private generation = 0;

  constructor(private readonly ttlMs = TTL_MS) {}

  /** A fresh entry, without loading: undefined when there is none. */
  cachedLogin(sid: string): CachedLogin | undefined {
    return this.fresh(this.logins, sid);
  }

  cachedToken(prefix: string): StoredToken | undefined {
    return this.fresh(this.tokens, prefix);
  }

  private fresh<T>(map: Map<string, Entry<T>>, key: string): T | undefined {
    const hit = map.get(key);
    return hit && hit.until > Date.now() ? hit.value : undefined;
  }

  async login(sid: string, load: () => Promise<CachedLogin | null>): Promise<CachedLogin | null> {
    return this.get(this.logins, `l:${sid}`, sid, load, (v) => v.user.id);
  }

  async token(prefix: string, load: () => Promise<StoredToken | null>): Promise<StoredToken | null> {
    return this.get(this.tokens, `t:${prefix}`, prefix, load, (v) => v.userId);
  }

  private async get<T>(map: Map<string, Entry<T>>, loadKey: string, key: string, load: () => Promise<T | null>, userOf: (v: T) => string | null) {
    const hit = this.fresh(map, key);
    if (hit !== undefined) return hit;
    const running = this.loading.get(loadKey) as Promise<T | null> | undefined;
    if (running) return running;
    const generation = this.generation;
    const promise = load().finally(() => this.loading.delete(loadKey));
    this.loading.set(loadKey, promise);
    const value = await promise;
    if (value !== null && generation === this.generation) {
      if (map.size >= MAX_ENTRIES) map.clear();
      map.set(key, { value, userId: userOf(value), until: Date.now() + this.ttlMs });
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
      case "token.revoked":
        for (const [key, entry] of this.tokens) if (entry.value.id === event.token.id) this.tokens.delete(key);
        this.generation += 1;
        return;
      default:
        return;
    }
  }

  forgetUser(userId: string): void {
    this.generation += 1;
    for (const map of [this.logins, this.tokens] as Map<string, Entry<unknown>>[]) {
      for (const [key, entry] of map) if (entry.userId === userId) map.delete(key);
    }
  }

  clear(): void {
    this.generation += 1;
    this.logins.clear();
    this.tokens.clear();
  }
}
