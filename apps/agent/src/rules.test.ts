import { describe, expect, it } from "vitest";
import type { TGatewayRule } from "@postern/contracts";
import { apiRule } from "../test/rules";
import type { Resolution } from "./resolver";
import { diffRules, EXPIRY_TOLERANCE_MS, MAX_KERNEL_TIMEOUT_MS, nextWake, toDesired, type FwRule } from "./rules";

const NOW = Date.parse("2026-11-25T12:00:00Z");
const rule = (over: Partial<FwRule> = {}): FwRule => ({
  protocol: "tcp",
  sourceIp: "198.51.100.7",
  publicPort: 8443,
  lanHost: "10.0.0.5",
  lanPort: 443,
  expiresAt: NOW + 60_000,
  ...over,
});
const api = (over: Partial<TGatewayRule> = {}) => apiRule(over, NOW);
const same = (h: string): Resolution => ({ address: h });

describe("toDesired", () => {
  it("drops expired rules and keeps live ones", () => {
    const out = toDesired([api(), api({ sessionId: "s2", sourceIp: "198.51.100.8", expiresAt: new Date(NOW - 1).toISOString() })], same, NOW);
    expect(out.rules).toEqual([rule()]);
    expect(out.rejected).toEqual([]);
  });

  it("rejects IPv6 sources and unresolvable LAN hosts, naming the session", () => {
    const out = toDesired(
      [api({ sessionId: "v6", sourceIp: "2001:db8::1" }), api({ sessionId: "dns", lanHost: "nas.lan" })],
      (h) => (h === "nas.lan" ? { error: "ENOTFOUND" } : same(h)),
      NOW,
    );
    expect(out.rules).toEqual([]);
    expect(out.rejected[0]).toContain("session v6");
    expect(out.rejected[1]).toContain("nas.lan");
    expect(out.rejected[1]).toContain("ENOTFOUND");
  });

  it("holds rules whose LAN host is still being looked up, neither rejected nor desired", () => {
    const out = toDesired([api({ lanHost: "nas.lan" }), api({ sessionId: "s2", sourceIp: "198.51.100.8" })], (h) => (h === "nas.lan" ? { pending: true } : same(h)), NOW);
    expect(out.rules).toEqual([rule({ sourceIp: "198.51.100.8" })]);
    expect(out.rejected).toEqual([]);
    expect([...out.pending]).toEqual([["tcp 198.51.100.7 8443", NOW + 60_000]]);
  });

  it("measures expiries on the API's clock: a machine an hour slow still closes on time", () => {
    const hour = 3600_000;
    // The API says 60 s from its now; this machine's clock reads an hour less.
    const out = toDesired([api({ expiresAt: new Date(NOW + hour + 60_000).toISOString() })], same, NOW, hour);
    expect(out.rules).toEqual([rule({ expiresAt: NOW + 60_000 })]);
  });

  it("merges two sessions from one address on one port, keeping the later expiry", () => {
    const later = new Date(NOW + 120_000).toISOString();
    const out = toDesired([api(), api({ sessionId: "s2", expiresAt: later })], same, NOW);
    expect(out.rules).toEqual([rule({ expiresAt: NOW + 120_000 })]);
  });

  it("refuses a second target on the same public port for the same source", () => {
    const out = toDesired([api(), api({ sessionId: "s2", lanHost: "10.0.0.6" })], same, NOW);
    expect(out.rules).toHaveLength(1);
    expect(out.rejected[0]).toContain("already forwards to 10.0.0.5:443");
  });
});

describe("diffRules", () => {
  it("adds missing rules and removes stale ones", () => {
    const stale = rule({ sourceIp: "203.0.113.9" });
    const d = diffRules([rule()], [stale], NOW);
    expect(d.add).toEqual([rule()]);
    expect(d.remove).toEqual([stale]);
    expect(d.keep).toEqual([]);
  });

  it("keeps an equal rule whose read-back expiry is within the tolerance", () => {
    const d = diffRules([rule()], [rule({ expiresAt: NOW + 60_000 - EXPIRY_TOLERANCE_MS + 1 })], NOW);
    expect(d).toEqual({ add: [], remove: [], keep: [rule()] });
  });

  it("replaces a rule when its expiry moved (extension) or its target changed", () => {
    const extended = rule({ expiresAt: NOW + 600_000 });
    expect(diffRules([extended], [rule()], NOW)).toEqual({ add: [extended], remove: [rule()], keep: [] });
    const moved = rule({ lanPort: 8443 });
    expect(diffRules([moved], [rule()], NOW)).toEqual({ add: [moved], remove: [rule()], keep: [] });
  });

  it("never keeps or adds an expired rule", () => {
    const expired = rule({ expiresAt: NOW - 1 });
    expect(diffRules([expired], [expired], NOW)).toEqual({ add: [], remove: [expired], keep: [] });
  });

  it("removes rules without an expiry: they are not Postern's", () => {
    const foreign = rule({ expiresAt: Infinity });
    expect(diffRules([], [foreign], NOW).remove).toEqual([foreign]);
    expect(diffRules(null, [foreign], NOW).remove).toEqual([foreign]);
  });

  it("with no word from the API keeps unexpired rules and removes expired ones", () => {
    const live = rule();
    const dead = rule({ sourceIp: "203.0.113.1", expiresAt: NOW - 5 });
    expect(diffRules(null, [live, dead], NOW)).toEqual({ add: [], remove: [dead], keep: [live] });
  });

  it("accepts a capped kernel timeout for a very long session until it is half used", () => {
    const long = rule({ expiresAt: NOW + 3 * MAX_KERNEL_TIMEOUT_MS });
    const fresh = rule({ expiresAt: NOW + MAX_KERNEL_TIMEOUT_MS });
    expect(diffRules([long], [fresh], NOW).keep).toEqual([long]);
    const old = rule({ expiresAt: NOW + MAX_KERNEL_TIMEOUT_MS / 2 - 1 });
    expect(diffRules([long], [old], NOW).add).toEqual([long]);
  });
});

describe("nextWake", () => {
  it("wakes at the earliest expiry", () => {
    expect(nextWake([rule({ expiresAt: NOW + 5000 }), rule({ expiresAt: NOW + 1000 })], NOW)).toBe(NOW + 1000);
    expect(nextWake([], NOW)).toBeNull();
  });
});
