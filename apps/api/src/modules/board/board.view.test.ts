// An agent event moves the boards in memory instead of dropping them (board.cache.ts): each
// service bound to the agent must then show what a read of the database would present.
import { describe, expect, it } from "vitest";
import type { TAgentStatus, TService } from "@postern/contracts";
import { BoardView } from "./board.view";

const service = (id: string, agentId?: string): TService => ({
  id,
  name: id,
  slug: id,
  kind: "tcp",
  exclusive: false,
  requiresApproval: false,
  defaultDurationSeconds: 3600,
  maxDurationSeconds: 7200,
  groupIds: [],
  activeSessions: 0,
  ...(agentId
    ? {
        gateway: { agentId, publicPort: 2222, lanHost: "10.0.0.5", lanPort: 22, protocol: "tcp" as const },
        gatewayStatus: { online: true, inSync: true },
      }
    : {}),
});

const status = (id: string, over: Partial<TAgentStatus> = {}): TAgentStatus => ({
  id,
  name: id,
  online: true,
  inSync: true,
  rulesApplied: 1,
  rulesDesired: 1,
  ...over,
});

describe("BoardView.withAgentStatus", () => {
  const services = [service("door-a", "agent-a"), service("door-b", "agent-b"), service("plain")];

  it("shows the agent's new status on its own services only, as the members' read presents it", () => {
    const board = new BoardView(services, []);
    const next = board.withAgentStatus(status("agent-a", { inSync: false, error: "nft lacks privileges", rulesApplied: 0 }));
    expect(next).not.toBe(board);
    expect(next.byId.get("door-a")?.gatewayStatus).toEqual({ online: true, inSync: false });
    expect(next.byId.get("door-b")).toBe(board.byId.get("door-b"));
    expect(next.byId.get("plain")).toBe(board.byId.get("plain"));
    // The bytes sent are made from the new version, and the old one is left as it was.
    expect((JSON.parse(next.servicesJson) as TService[])[0]?.gatewayStatus).toEqual({ online: true, inSync: false });
    expect(board.byId.get("door-a")?.gatewayStatus).toEqual({ online: true, inSync: true });
  });

  it("shows admins the agent's error, and keeps the flag in later versions", () => {
    const board = new BoardView(services, [], true);
    const next = board.withAgentStatus(status("agent-b", { online: true, inSync: false, error: "nft lacks privileges" }));
    expect(next.byId.get("door-b")?.gatewayStatus).toEqual({ online: true, inSync: false, error: "nft lacks privileges" });
    expect(next.detail).toBe(true);
    const offline = next.withAgentStatus(status("agent-b", { online: false, inSync: false }));
    expect(offline.byId.get("door-b")?.gatewayStatus).toEqual({ online: false, inSync: false });
  });

  it("is the same board when nothing it shows changes", () => {
    const board = new BoardView(services, []);
    expect(board.withAgentStatus(status("agent-a"))).toBe(board);
    // Counts the board does not show change nothing here, nor does an agent bound to none of its services.
    expect(board.withAgentStatus(status("agent-a", { rulesApplied: 7, rulesDesired: 7 }))).toBe(board);
    expect(board.withAgentStatus(status("agent-z", { online: false }))).toBe(board);
  });
});
