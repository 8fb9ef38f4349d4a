import { describe, expect, it } from "vitest";
import type { TSession } from "@postern/contracts";
import { personalNotice } from "./personal-notices";

const session = (userId: string, status: TSession["status"], extra: Partial<TSession> = {}): TSession => ({
  id: "s1",
  serviceId: "vpn",
  userId,
  user: { id: userId, username: userId },
  status,
  durationSeconds: 600,
  requestedAt: "2026-11-25T10:00:00.000Z",
  ...extra,
});
const names = (id: string) => (id === "vpn" ? "Customer VPN" : id);

describe("what happened to me", () => {
  it("tells me an admin ended my session, naming them", () => {
    const n = personalNotice({ type: "session.force_ended", session: session("me", "ended", { endedBy: { id: "a", username: "alice" } }) }, "me", names);
    expect(n).toMatchObject({ title: "alice ended your session on Customer VPN", notify: true });
  });

  it("tells me a request whose time passed undecided has lapsed, and an expired session just so", () => {
    const lapsed = personalNotice({ type: "session.expired", session: session("me", "expired", { startsAt: "2026-11-25T11:00:00.000Z" }) }, "me", names);
    expect(lapsed).toMatchObject({ title: "Your request for Customer VPN lapsed", tone: "warning", notify: true });
    const ran = personalNotice({ type: "session.expired", session: session("me", "expired", { startedAt: "2026-11-25T10:00:00.000Z" }) }, "me", names);
    expect(ran).toMatchObject({ title: "Your session on Customer VPN expired", tone: "info" });
    expect(personalNotice({ type: "session.expired", session: session("me", "expired") }, "me", names)).toBeNull();
  });

  it("tells me my request was approved or denied", () => {
    expect(personalNotice({ type: "session.approved", session: session("me", "active") }, "me", names)?.title).toBe(
      "Your request for Customer VPN was approved",
    );
    expect(personalNotice({ type: "session.denied", session: session("me", "denied") }, "me", names)?.tone).toBe("danger");
  });

  it("keeps an offer on screen until dismissed, and says why access was revoked", () => {
    expect(personalNotice({ type: "session.offered", session: session("me", "offered") }, "me", names)).toMatchObject({
      title: "Your turn: Customer VPN is free",
      timeoutMs: 0,
    });
    const revoked = personalNotice(
      { type: "session.revoked", session: session("me", "ended"), reason: "access_revoked", cause: "member_removed" },
      "me",
      names,
    );
    expect(revoked?.body).toContain("removed from a group");
  });

  it("stays quiet about other people's sessions and about what I did myself", () => {
    expect(personalNotice({ type: "session.force_ended", session: session("bob", "ended") }, "me", names)).toBeNull();
    expect(personalNotice({ type: "session.ended", session: session("me", "ended", { endedBy: { id: "me", username: "me" } }) }, "me", names)).toBeNull();
    expect(
      personalNotice({ type: "session.ended", session: session("me", "ended", { endedBy: { id: "a", username: "alice" } }) }, "me", names)?.title,
    ).toBe("alice ended your session on Customer VPN");
    expect(personalNotice({ type: "user.logout", user: { id: "me", username: "me" } }, "me", names)).toBeNull();
  });
});
