// Writes the tunnel's audit events: one transaction per transition that changes what the
// outside world can reach (opened, closed, failed).
import { inTransaction, type DbContext } from "../../lib/db-context";
import { writeAudit } from "../audit/audit.service";
import type { TunnelTransition } from "./tunnel.manager";

export async function recordTunnelTransition(ctx: DbContext, transition: TunnelTransition): Promise<void> {
  const { action } = transition;
  if (!action) return;
  await inTransaction(ctx, (tx) =>
    writeAudit(ctx, tx, {
      actor: transition.caller.actor,
      sourceIp: transition.caller.sourceIp,
      action,
      target: "tunnel:ngrok",
      details: transition.details,
    }),
  );
}
