// The public tunnel (ngrok): its state as admins see it in the SPA and through the CLI.
import { z } from "zod";

/** closed → opening → open, or → error (with a reason); close returns to closed from any state. */
export const ZTunnelState = z.enum(["closed", "opening", "open", "error"]);
export type TTunnelState = z.infer<typeof ZTunnelState>;

export const ZTunnel = z.object({
  /** The tunnel provider; only ngrok today. */
  provider: z.literal("ngrok"),
  state: ZTunnelState,
  /** Whether NGROK_AUTHTOKEN is set: without it the tunnel cannot open. */
  configured: z.boolean(),
  /** The reserved ngrok domain requested (POSTERN_NGROK_DOMAIN), if any. */
  domain: z.string().optional(),
  /** The tunnel's public URL while `open`. */
  url: z.string().optional(),
  /** Why the tunnel is in `error` (e.g. ngrok unreachable, authtoken rejected). */
  reason: z.string().optional(),
  /** The URL Postern uses for OIDC redirects and links in mail right now. */
  publicUrl: z.string(),
  /** When the state last changed (ISO 8601). */
  changedAt: z.string(),
});
export type TTunnel = z.infer<typeof ZTunnel>;
