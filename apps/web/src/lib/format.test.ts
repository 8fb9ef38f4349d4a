import { describe, expect, it } from "vitest";
import { admittedBy, durationChoices, extendChoices, extendLimitSeconds, formatCountdown, formatDuration } from "./format";
import { formatExact, formatRelative } from "./time";

describe("formatCountdown", () => {
  it("shows minutes and seconds under an hour, hours beyond", () => {
    expect(formatCountdown(59_000)).toBe("0:59");
    expect(formatCountdown(30 * 60_000)).toBe("30:00");
    expect(formatCountdown(3600_000 + 5 * 60_000 + 9_000)).toBe("1:05:09");
  });
  it("never goes below zero", () => {
    expect(formatCountdown(-5_000)).toBe("0:00");
  });
});

describe("formatDuration", () => {
  it("reads naturally", () => {
    expect(formatDuration(900)).toBe("15 min");
    expect(formatDuration(5400)).toBe("1 h 30 min");
    expect(formatDuration(7200)).toBe("2 h");
    expect(formatDuration(2 * 86400)).toBe("2 d");
    expect(formatDuration(86400 + 3600)).toBe("1 d 1 h");
    expect(formatDuration(21598)).toBe("5 h 59 min");
    expect(formatDuration(30)).toBe("30 s");
  });
});

describe("durationChoices", () => {
  it("offers common lengths up to the maximum, with the default and the maximum", () => {
    expect(durationChoices(2700, 7200)).toEqual([900, 1800, 2700, 3600, 7200]);
    expect(durationChoices(600, 600)).toEqual([600]);
  });
});

describe("extending a running session", () => {
  const now = Date.parse("2026-11-25T10:00:00Z");
  const inMinutes = (m: number) => new Date(now + m * 60_000).toISOString();

  it("allows only what keeps the session within the service's maximum from now", () => {
    // 4 h maximum, 4 h left: nothing fits (the bug offered 4 h here).
    expect(extendLimitSeconds({ expiresAt: inMinutes(240), maxSeconds: 4 * 3600, now })).toBe(0);
    expect(extendChoices(0)).toEqual([]);
    // 4 h maximum, 3 h 20 min left: up to 40 min.
    const limit = extendLimitSeconds({ expiresAt: inMinutes(200), maxSeconds: 4 * 3600, now });
    expect(limit).toBe(40 * 60);
    expect(extendChoices(limit)).toEqual([900, 1800, 2400]);
  });

  it("stops at the next booked window", () => {
    const limit = extendLimitSeconds({ expiresAt: inMinutes(30), maxSeconds: 8 * 3600, now, nextBookingAt: inMinutes(50) });
    expect(limit).toBe(20 * 60);
    expect(extendChoices(limit)).toEqual([900, 1200]);
  });

  it("offers whole minutes, never a value under a minute", () => {
    expect(extendChoices(59)).toEqual([]);
    expect(extendChoices(3599)).toEqual([900, 1800, 3540]);
  });
});

describe("formatRelative", () => {
  const now = Date.parse("2026-11-25T10:00:00Z");
  it("reads as a distance from now", () => {
    expect(formatRelative(new Date(now - 10_000).toISOString(), now)).toBe("just now");
    expect(formatRelative(new Date(now + 5 * 60_000).toISOString(), now)).toBe("in 5 minutes");
    expect(formatRelative(new Date(now - 3 * 3600_000).toISOString(), now)).toBe("3 hours ago");
  });
});

describe("formatExact", () => {
  it("reads as toLocaleString does, from formatters made once", () => {
    for (const iso of ["2026-11-25T10:04:05Z", "2027-01-01T00:00:00.000Z", "2026-03-29T01:30:00+01:00"]) {
      const d = new Date(iso);
      expect(formatExact(iso)).toBe(d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
      expect(formatExact(iso, { seconds: true })).toBe(d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }));
    }
    const far = Date.parse("2026-12-25T10:00:00Z");
    expect(formatRelative(new Date(far).toISOString(), far - 30 * 86_400_000)).toBe(new Date(far).toLocaleDateString(undefined, { dateStyle: "medium" }));
    expect(formatExact(undefined)).toBe("—");
    expect(formatExact("not a date")).toBe("not a date");
  });
});

describe("admittedBy", () => {
  const session = (userId: string, username: string, sourceIp?: string) =>
    ({ id: `s-${userId}`, serviceId: "svc", userId, user: { id: userId, username }, status: "active", sourceIp, durationSeconds: 600, requestedAt: "2026-12-05T05:00:00.000Z" }) as const;
  const holders = [session("me", "alice", "198.51.100.1"), session("u2", "bob", "198.51.100.2"), session("u3", "carol")];
  it("names the holders, the viewer as you", () => {
    expect(admittedBy(holders, { id: "me" }, false)).toBe("you, bob, carol");
  });
  it("gives admins the address each is admitted from, where the session has one", () => {
    expect(admittedBy(holders, { id: "me" }, true)).toBe("you (198.51.100.1), bob (198.51.100.2), carol");
  });
});
