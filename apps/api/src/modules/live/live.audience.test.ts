// What members get of the events a frame is made once for.
import { describe, expect, it } from "vitest";
import type { TDomainEvent } from "@postern/contracts";
import { memberView } from "./live.audience";

describe("memberView", () => {
  it("tells members whether a gateway is in sync, not which services it serves, how many doors it holds, or its error", () => {
    const agent = { id: "ag1", name: "router", online: true, inSync: false, error: "session s9: cannot open 10.0.0.9", rulesApplied: 3, rulesDesired: 4 };
    const applied: TDomainEvent = { type: "agent.rules_applied", agent, serviceIds: ["svc-of-group-a", "svc-of-group-b"], added: 1, removed: 0 };
    expect(memberView(applied)).toEqual({
      type: "agent.rules_applied",
      agent: { id: "ag1", name: "router", online: true, inSync: false, error: undefined, rulesApplied: 0, rulesDesired: 0 },
      serviceIds: [],
      added: 0,
      removed: 0,
    });
    const connected: TDomainEvent = { type: "agent.connected", agent, serviceIds: ["svc-of-group-b"] };
    expect(memberView(connected)).toMatchObject({ serviceIds: [], agent: { rulesApplied: 0, rulesDesired: 0 } });
    expect(memberView(connected)).not.toHaveProperty("added");
  });
});
