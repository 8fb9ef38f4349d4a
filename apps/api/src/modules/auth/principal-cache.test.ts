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
