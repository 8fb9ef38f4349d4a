import type { TTunnel } from "@postern/contracts";
import type { TunnelSnapshot } from "./tunnel.manager";

export function presentTunnel(
  snapshot: TunnelSnapshot,
  context: { configured: boolean; domain?: string; publicUrl: string },
): TTunnel {
  return {
    provider: "ngrok",
    state: snapshot.state,
    configured: context.configured,
    ...(context.domain ? { domain: context.domain } : {}),
    ...(snapshot.url && snapshot.state === "open" ? { url: snapshot.url } : {}),
    ...(snapshot.reason ? { reason: snapshot.reason } : {}),
    publicUrl: context.publicUrl,
    changedAt: snapshot.changedAt.toISOString(),
  };
}
