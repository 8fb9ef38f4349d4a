// Every TanStack Query key the SPA uses, in one place, so the live stream (src/live) can update
// exactly the cache entries the pages read instead of refetching everything.
export const queryKeys = {
  me: ["me"] as const,
  providers: ["auth", "providers"] as const,
  /** GET /api/services — the board's services, as the caller may see them. */
  services: ["services"] as const,
  service: (id: string) => ["services", id] as const,
  /** GET /api/sessions?active=true — active, pending and scheduled sessions on the board. */
  activeSessions: ["sessions", "active"] as const,
  /** GET /api/sessions — the caller's sessions (My sessions page). */
  mySessions: ["sessions", "mine"] as const,
  users: ["users"] as const,
  groups: ["groups"] as const,
  tokens: ["tokens"] as const,
  messages: ["messages"] as const,
  /** GET /api/messages/status — the relay's state (admin). */
  relayStatus: ["messages", "status"] as const,
  audit: (filters: Record<string, string | undefined>) => ["audit", filters] as const,
  /** GET /api/audit/verify — the hash chain's state (admin). */
  auditVerify: ["audit-verify"] as const,
  agents: ["agents"] as const,
  tunnel: ["tunnel"] as const,
};
