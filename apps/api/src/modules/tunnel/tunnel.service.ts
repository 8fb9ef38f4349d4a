// Records the tunnel's transitions (opening, opened, closed, failed) as events: audited, and
// shown live on every board.
import type { TTunnel } from "@postern/contracts";
import type { DbContext } from "../../lib/db-context";
import { runChange } from "../../lib/run-change";
import type { TunnelTransition } from "./tunnel.manager";

const types = { opening: "tunnel.opening", open: "tunnel.opened", closed: "tunnel.closed", error: "tunnel.failed" } as const;

export async function recordTunnelTransition(ctx: DbContext, transition: TunnelTransition, tunnel: TTunnel): Promise<void> {
  await runChange(ctx, transition.caller, async (_tx, record) =>
    record({ type: types[transition.snapshot.state], tunnel }, { details: transition.details }),
  );
}
