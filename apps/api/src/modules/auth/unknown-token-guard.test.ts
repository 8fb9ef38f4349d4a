import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { queriesSent } from "@postern/db";
import { buildTestApp, createUser, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";
import { UNKNOWN_TOKENS_PER_WINDOW, UnknownTokenGuard } from "./unknown-token-guard";

describe("UnknownTokenGuard", () => {
  it("refuses an address after its limit of unknown tokens, until its window ends", () => {
    let now = 1_000_000;
    const guard = new UnknownTokenGuard(3, 60_000, () => now);
    for (let i = 0; i < 3; i++) {
      expect(guard.refusal("198.51.100.1")).toBeUndefined();
      guard.noteUnknown("198.51.100.1");
    }
    now += 15_000;
    const refusal = guard.refusal("198.51.100.1");
    expect(refusal?.statusCode).toBe(429);
    expect(refusal?.headers).toEqual({ "retry-after": "45" });
    expect(guard.refusal("198.51.100.2")).toBeUndefined();
    now += 45_000;
    expect(guard.refusal("198.51.100.1")).toBeUndefined();
  });
});

describe.each(providers)("a flood of made-up API tokens (%s)", (provider) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp(provider);
  });
  afterEach(async () => t.close());

  const madeUp = (i: number) => ({ authorization: `Bearer pst_${i.toString(16).padStart(12, "0")}_${"x".repeat(43)}` });
  const me = (headers: Record<string, string>, remoteAddress: string) => t.app.inject({ method: "GET", url: "/api/me", headers, remoteAddress });

  it("stops asking the database after a few unknown tokens from one address, and no one else is affected", async () => {
    const owner = await createUser(t.app);
    const created = await t.app.inject({ method: "POST", url: "/api/tokens", headers: owner.headers, payload: { name: "monitor", scopes: ["sessions:read"] } });
    expect(created.statusCode).toBe(201);
    const known = { authorization: `Bearer ${(created.json() as { token: string }).token}` };
    const scanner = "203.0.113.7";
    // The monitor's token, used from the same address before the flood, is in memory.
    expect((await me(known, scanner)).statusCode).toBe(200);

    for (let i = 0; i < UNKNOWN_TOKENS_PER_WINDOW; i++) expect((await me(madeUp(i), scanner)).statusCode).toBe(401);
    const before = queriesSent();
    const refused = await me(madeUp(UNKNOWN_TOKENS_PER_WINDOW), scanner);
    expect(refused.statusCode).toBe(429);
    expect(ZErrorBody.parse(refused.json()).error.code).toBe("rate_limited");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect(queriesSent() - before).toBe(0);

    // A token known to be nobody's is still a 401, and the known one still works, from that address.
    expect((await me(madeUp(0), scanner)).statusCode).toBe(401);
    expect((await me(known, scanner)).statusCode).toBe(200);
    // Another address is not held back.
    expect((await me(madeUp(UNKNOWN_TOKENS_PER_WINDOW + 1), "198.51.100.9")).statusCode).toBe(401);
  });
});
