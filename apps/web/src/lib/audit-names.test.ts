import { describe, expect, it } from "vitest";
import type { TAuditEvent } from "@postern/contracts";
import { detailsText, targetName, type NameBook } from "./audit-names";

const names: NameBook = {
  user: (id) => ({ u1: "mia" })[id],
  group: (id) => ({ g1: "support", g2: "ops" })[id],
  service: (id) => ({ s1: "Customer VPN" })[id],
  token: () => undefined,
  agent: () => undefined,
};
const event = (extra: Partial<TAuditEvent>): TAuditEvent => ({
  id: "e",
  seq: 1,
  at: "2026-11-25T10:00:00.000Z",
  action: "user.updated",
  hash: "h",
  prevHash: "p",
  ...extra,
});

describe("audit rows in names", () => {
  it("names the target instead of its id", () => {
    expect(targetName(event({ target: "user:u1" }), names)).toBe("mia");
    expect(targetName(event({ target: "group:g2" }), names)).toBe("group ops");
    expect(targetName(event({ target: "session:x", serviceId: "s1" }), names)).toBe("session on Customer VPN");
    expect(targetName(event({ target: "group:gone" }), names)).toBe("group gone");
  });

  it("shows group names in the details, and lengths as lengths", () => {
    expect(detailsText(event({ details: { groupIds: ["g1", "g2"], durationSeconds: 5400, reason: "left" } }), names)).toBe(
      "groups: support, ops · duration: 1 h 30 min · reason: left",
    );
  });

  it("reads event-shaped details by the names they carry", () => {
    const details = { user: { id: "u1", username: "mia", groups: [{ id: "g1", name: "support" }] }, changed: ["groupIds"], type: "user.updated" };
    expect(detailsText(event({ details }), names)).toBe("user: mia · changed: groupIds");
    expect(detailsText(event({ details: { groups: [{ id: "g1", name: "support" }] } }), names)).toBe("groups: support");
  });
});
