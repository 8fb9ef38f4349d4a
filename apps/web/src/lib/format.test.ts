import { describe, expect, it } from "vitest";
import { durationChoices, formatCountdown, formatDuration } from "./format";

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
  });
});

describe("durationChoices", () => {
  it("offers common lengths up to the maximum, with the default and the maximum", () => {
    expect(durationChoices(2700, 7200)).toEqual([900, 1800, 2700, 3600, 7200]);
    expect(durationChoices(600, 600)).toEqual([600]);
  });
});
