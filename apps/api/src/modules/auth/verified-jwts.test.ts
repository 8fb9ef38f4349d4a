import Fastify, { type FastifyInstance } from "fastify";
import jwt from "@fastify/jwt";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { VerifiedJwts } from "./verified-jwts";

interface Claims {
  typ: string;
  sid: string;
  exp?: number;
}

// The real signer and verifier the auth plugin uses (@fastify/jwt), counting verifications.
let app: FastifyInstance;
beforeAll(async () => {
  app = Fastify();
  await app.register(jwt, { secret: "a test secret that is long enough to sign with" });
  await app.ready();
});
afterAll(() => app.close());
afterEach(() => vi.useRealTimers());

/** A VerifiedJwts over the real verifier, counting its calls and keeping what it threw. */
function counted(): { jwts: VerifiedJwts<Claims>; calls: () => number; thrown: unknown[] } {
  let calls = 0;
  const thrown: unknown[] = [];
  const jwts = new VerifiedJwts<Claims>((token) => {
    calls++;
    try {
      return app.jwt.verify<Claims>(token);
    } catch (err) {
      thrown.push(err);
      throw err;
    }
  }, 3);
  return { jwts, calls: () => calls, thrown };
}

const codeOf = (err: unknown) => (err as { code?: string }).code;

describe("VerifiedJwts", () => {
  it("verifies a token once and serves its claims from memory until it expires", () => {
    const { jwts, calls, thrown } = counted();
    const token = app.jwt.sign({ typ: "login", sid: "s1" }, { expiresIn: 60 });
    const now = Date.now();
    expect(jwts.claims(token, now)?.sid).toBe("s1");
    expect(jwts.claims(token, now)?.sid).toBe("s1");
    expect(calls()).toBe(1);
    // Past its expiry the library is asked again, and refuses it.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 61_000);
    expect(jwts.claims(token)).toBeUndefined();
    expect(calls()).toBe(2);
    expect(thrown.map(codeOf)).toEqual(["FAST_JWT_EXPIRED"]);
  });

  it("remembers a refusal: an expired or foreign token is refused again without verifying it again", () => {
    const { jwts, calls, thrown } = counted();
    const expired = app.jwt.sign({ typ: "login", sid: "s2" }, { expiresIn: 60, clockTimestamp: Date.now() - 3_600_000 });
    const good = app.jwt.sign({ typ: "login", sid: "s3" }, { expiresIn: 60 });
    const foreign = `${good.slice(0, good.lastIndexOf(".") + 1)}${"A".repeat(43)}`;
    for (const token of [expired, foreign, "not.a.token"]) {
      const before = calls();
      expect(jwts.claims(token)).toBeUndefined();
      expect(jwts.claims(token)).toBeUndefined();
      expect(calls() - before).toBe(1);
    }
    expect(thrown.map(codeOf)).toEqual(["FAST_JWT_EXPIRED", "FAST_JWT_INVALID_SIGNATURE", "FAST_JWT_MALFORMED"]);
    // A good token is unaffected by the refusals around it.
    expect(jwts.claims(good)?.sid).toBe("s3");
  });

  it("captures no stack for a refusal, and leaves Error.stackTraceLimit as it found it", () => {
    const { jwts, thrown } = counted();
    const limit = Error.stackTraceLimit;
    expect(jwts.claims("not.a.token.either")).toBeUndefined();
    expect(Error.stackTraceLimit).toBe(limit);
    expect((thrown[0] as Error).stack ?? "").not.toMatch(/\n\s+at /);
    expect(jwts.claims(app.jwt.sign({ typ: "login", sid: "s4" }))?.sid).toBe("s4");
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it("keeps at most its bound of refusals: a flood of distinct forgeries is verified one by one", () => {
    const { jwts, calls } = counted();
    for (const token of ["a.b.1", "a.b.2", "a.b.3", "a.b.4"]) expect(jwts.claims(token)).toBeUndefined();
    expect(calls()).toBe(4);
    // The bound is 3: the fourth started the memory over, so the first is verified again.
    jwts.claims("a.b.1");
    expect(calls()).toBe(5);
    jwts.claims("a.b.4");
    expect(calls()).toBe(5);
  });
});
