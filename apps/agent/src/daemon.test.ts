// The warning an agent gives when its token would cross the network unencrypted.
import { describe, expect, it } from "vitest";
import { sentInClear } from "./daemon";

describe("an API URL the token would cross the network in clear to", () => {
  it("is a plain http:// or ws:// URL to another machine", () => {
    expect(sentInClear("http://postern.lan:8080")).toBe(true);
    expect(sentInClear("ws://192.0.2.10/api/agent")).toBe(true);
    expect(sentInClear("https://postern.example.com")).toBe(false);
    expect(sentInClear("wss://postern.example.com/api/agent")).toBe(false);
    for (const local of ["http://127.0.0.1:8080", "http://localhost:8080", "ws://[::1]:8080"]) expect(sentInClear(local)).toBe(false);
  });
});
