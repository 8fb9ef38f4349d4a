// The cache's own rules, with loaders that count their calls (the integration tests in
// stale-permissions.test.ts run the same rules against both databases).
import { describe, expect, it } from "vitest";
import type { TDomainEvent } from "@postern/contracts";
import type { StoredToken } from "../tokens/tokens.service";
import { PrincipalCache } from "./principal-cache";

const counting = <T>(value: T) => {
  let calls = 0;
  return { load: async () => (calls++, value), calls: () => calls };
};

const tokenCreated = { type: "token.created", token: { id: "t1", name: "n", prefix: "pst_0123456789ab", scopes: [], createdAt: new Date().toISOString() } } as TDomainEvent;

describe("PrincipalCache refusals", () => {
  it("remembers a login session that stands for no one, as briefly as a login", async () => {
    const cache = new PrincipalCache(50);
    const none = counting(null);
    expect(cache.cachedLogin("s1")).toBeUndefined();
    expect(await cache.login("s1", none.load)).toBeNull();
    expect(cache.cachedLogin("s1")).toBeNull();
    expect(await cache.login("s1", none.load)).toBeNull();
    expect(none.calls()).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(cache.cachedLogin("s1")).toBeUndefined();
  });

  it("does not remember a disabled account's login: each refusal asks, and can say why", async () => {
    const cache = new PrincipalCache();
    const disabled = counting("disabled" as const);
    expect(await cache.login("s2", disabled.load)).toBe("disabled");
    expect(cache.cachedLogin("s2")).toBeUndefined();
    expect(await cache.login("s2", disabled.load)).toBe("disabled");
    expect(disabled.calls()).toBe(2);
  });

  it("forgets a refused token prefix when a token is created: its prefix may be the one refused", async () => {
    const cache = new PrincipalCache();
    expect(await cache.token("0123456789ab", counting(null).load)).toBeNull();
    expect(cache.cachedToken("0123456789ab")).toBeNull();
    cache.notice(tokenCreated);
    expect(cache.cachedToken("0123456789ab")).toBeUndefined();
  });

  it("does not store a refusal loaded before a token was created", async () => {
    const cache = new PrincipalCache();
    let finish: (v: StoredToken | null) => void = () => {};
    const pending = cache.token("0123456789ab", () => new Promise((r) => (finish = r)));
    cache.notice(tokenCreated);
    finish(null);
    expect(await pending).toBeNull();
    expect(cache.cachedToken("0123456789ab")).toBeUndefined();
  });

  it("keeps refusals apart from the credentials it knows: a flood of refusals pushes none out", async () => {
    const cache = new PrincipalCache();
    const login = { user: { id: "u1" }, expiresAt: new Date(Date.now() + 60_000) } as never;
    await cache.login("real", counting(login).load);
    for (let i = 0; i < 20_001; i++) await cache.login(`made-up-${i}`, counting(null).load);
    expect(cache.cachedLogin("real")).toBe(login);
  });
});

describe("PrincipalCache loads in flight", () => {
  const disabled = { type: "user.disabled", userId: "u1" } as TDomainEvent;
  const loginOf = (tag: string) => ({ user: { id: "u1", tag }, expiresAt: new Date(Date.now() + 60_000) }) as never;

  it("shares one load among requests that arrive while it runs", async () => {
    const cache = new PrincipalCache();
    const once = counting(loginOf("a"));
    const [a, b] = await Promise.all([cache.login("s1", once.load), cache.login("s1", once.load)]);
    expect(a).toBe(b);
    expect(once.calls()).toBe(1);
  });

  it("does not hand a load that started before a change to a request that arrives after it", async () => {
    const cache = new PrincipalCache();
    let finishOld: (v: never) => void = () => {};
    const old = cache.login("s1", () => new Promise((r) => (finishOld = r)));
    // The user is disabled while that load reads the row as it was.
    cache.notice(disabled);
    const fresh = counting("disabled" as const);
    const after = cache.login("s1", fresh.load);
    expect(fresh.calls()).toBe(1);
    finishOld(loginOf("before"));
    expect(await after).toBe("disabled");
    expect(await old).toMatchObject({ user: { tag: "before" } });
    // The old load, finishing last, neither stores its answer nor ends the newer one's sharing.
    expect(cache.cachedLogin("s1")).toBeUndefined();
  });

  it("a later load's answer is kept once the earlier one has ended", async () => {
    const cache = new PrincipalCache();
    let finishOld: (v: never) => void = () => {};
    let finishNew: (v: never) => void = () => {};
    const old = cache.login("s1", () => new Promise((r) => (finishOld = r)));
    cache.notice(disabled);
    const newer = cache.login("s1", () => new Promise((r) => (finishNew = r)));
    finishOld(loginOf("before"));
    await old;
    // A third request joins the newer load, not a new one.
    const third = counting(loginOf("third"));
    const joined = cache.login("s1", third.load);
    finishNew(loginOf("after"));
    expect(await joined).toMatchObject({ user: { tag: "after" } });
    expect(await newer).toMatchObject({ user: { tag: "after" } });
    expect(third.calls()).toBe(0);
    expect(cache.cachedLogin("s1")).toMatchObject({ user: { tag: "after" } });
  });

  it("tells a holder of a principal whether its rights changed after they were read", async () => {
    const cache = new PrincipalCache();
    const removed = { type: "group.member_removed", group: { id: "g1", name: "g" }, user: { id: "u1" } } as unknown as TDomainEvent;
    // Read, then a change to the user: changed.
    const first = (await cache.login("s1", counting(loginOf("first")).load)) as { user: { id: string } };
    expect(cache.changedSince(first.user)).toBe(false);
    cache.notice(removed);
    expect(cache.changedSince(first.user)).toBe(true);
    // Read while a change lands (the load read the rows from before it): changed, though new.
    let finish: (v: never) => void = () => {};
    const racing = cache.login("s1", () => new Promise((r) => (finish = r)));
    cache.notice(removed);
    finish(loginOf("racing"));
    expect(cache.changedSince(((await racing) as { user: { id: string } }).user)).toBe(true);
    // Read after it: unchanged; another user's change leaves it so; a group deleted does not.
    const after = (await cache.login("s1", counting(loginOf("after")).load)) as { user: { id: string } };
    expect(cache.changedSince(after.user)).toBe(false);
    cache.notice({ ...removed, user: { id: "u2" } } as TDomainEvent);
    expect(cache.changedSince(after.user)).toBe(false);
    cache.notice({ type: "group.deleted", group: { id: "g1", name: "g" } } as unknown as TDomainEvent);
    expect(cache.changedSince(after.user)).toBe(true);
    // An object this cache never read may have changed.
    expect(cache.changedSince({ id: "u1" })).toBe(true);
  });
});
