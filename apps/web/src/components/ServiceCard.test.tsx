import { describe, expect, it } from "vitest";
import { renderToStaticMarkup } from "react-dom/server";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { TService, TSession } from "@postern/contracts";
import { ServiceCard } from "./ServiceCard";

const svc: TService = {
  id: "svc1", name: "Customer VPN", slug: "customer-vpn", kind: "vpn", exclusive: true, requiresApproval: false,
  defaultDurationSeconds: 3600, maxDurationSeconds: 7200, groupIds: [], activeSessions: 1,
};
const sess = (id: string, user: string, status: TSession["status"], requestedAt: string, startsAt?: string): TSession => ({
  id, serviceId: "svc1", userId: user, user: { id: user, username: user }, status, durationSeconds: 600, requestedAt,
  ...(status === "active" ? { startedAt: requestedAt, expiresAt: "2099-01-01T00:00:00.000Z" } : {}),
  ...(startsAt ? { startsAt } : {}),
});

function card(sessions: TSession[]): string {
  return renderToStaticMarkup(
    <QueryClientProvider client={new QueryClient()}>
      <ServiceCard service={svc} sessions={sessions} me={{ id: "zed", username: "zed" }} isAdmin={false} />
    </QueryClientProvider>,
  );
}

describe("the waitlist on a card", () => {
  it("lists the line in queue order: who joined first is next, the same moment by id", () => {
    // GET /api/sessions?active=true and the live upserts give the newest request first.
    const html = card([
      sess("w3", "carol", "waiting", "2026-11-25T10:03:00.000Z"),
      sess("w2b", "dave", "waiting", "2026-11-25T10:02:00.000Z"),
      sess("w2a", "bob", "waiting", "2026-11-25T10:02:00.000Z"),
      sess("o1", "erin", "offered", "2026-11-25T10:01:00.000Z"),
      sess("a1", "alice", "active", "2026-11-25T10:00:00.000Z"),
    ]);
    expect(html).toContain("Waitlist: erin (offered), bob, dave, carol");
  });

  it("lists bookings in the order they start, whenever they were made", () => {
    const html = card([
      sess("b2", "bob", "scheduled", "2026-11-25T10:05:00.000Z", "2026-11-26T09:00:00.000Z"),
      sess("b1", "carol", "scheduled", "2026-11-25T10:04:00.000Z", "2026-11-26T15:00:00.000Z"),
      sess("b3", "dave", "scheduled", "2026-11-25T10:03:00.000Z", "2026-11-26T12:00:00.000Z"),
    ]);
    const booked = [...html.matchAll(/Booked: (\w+)/g)].map((m) => m[1]);
    expect(booked).toEqual(["bob", "dave", "carol"]);
  });
});
