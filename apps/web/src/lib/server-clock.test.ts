import { afterEach, describe, expect, it } from "vitest";
import { noteServerDate, resetServerClock, serverNow, serverOffsetMs } from "./server-clock";

const header = (ms: number) => new Date(ms).toUTCString();

describe("the server's clock", () => {
  afterEach(() => resetServerClock());

  it("follows a server ten minutes ahead from the Date headers of its answers", () => {
    const local = Date.now();
    for (let i = 0; i < 3; i++) noteServerDate(header(local + 600_000), local - 20, local + 20);
    expect(Math.abs(serverOffsetMs() - 600_000)).toBeLessThan(1000);
    expect(Math.abs(serverNow() - (Date.now() + 600_000))).toBeLessThan(1000);
  });

  it("takes clocks that agree to the second as agreeing, and one slow answer does not move it", () => {
    const local = Date.now();
    noteServerDate(header(local), local - 10, local + 10);
    expect(serverOffsetMs()).toBe(0);
    for (let i = 0; i < 3; i++) noteServerDate(header(local - 300_000), local - 10, local + 10);
    expect(Math.abs(serverOffsetMs() + 300_000)).toBeLessThan(1000);
    // An answer that sat in a queue for a minute is one sample among five.
    noteServerDate(header(local - 240_000), local - 60_000, local);
    expect(Math.abs(serverOffsetMs() + 300_000)).toBeLessThan(1000);
  });

  it("ignores answers without a readable Date header", () => {
    noteServerDate(null, 0, 1);
    noteServerDate("yesterday-ish", 0, 1);
    expect(serverOffsetMs()).toBe(0);
  });
});
