import { z } from "zod";
import { ZId, ZText, ZTimestamp } from "./common";

/** What an API token may do. A token never exceeds its owner's own rights. */
export const ZScope = z.enum(["sessions:read", "sessions:write", "relay:send", "agent", "tunnel:manage", "admin"]);
export type TScope = z.infer<typeof ZScope>;

export const ZToken = z.object({
  id: ZId,
  name: z.string(),
  /** The first characters of the secret, to recognise a token in a list. */
  prefix: z.string(),
  scopes: z.array(ZScope),
  createdAt: z.string(),
  expiresAt: z.string().optional(),
  lastUsedAt: z.string().optional(),
  lastUsedIp: z.string().optional(),
  /** The owner of a personal token; absent for a service token. */
  userId: ZId.optional(),
  revokedAt: z.string().optional(),
});
export type TToken = z.infer<typeof ZToken>;

export const ZCreateTokenBody = z.strictObject({
  name: ZText.trim().min(1, "must not be empty").max(64),
  scopes: z.array(ZScope).min(1, "at least one scope").max(16),
  expiresAt: ZTimestamp.optional(),
  /** Admins only: a service token belongs to no user. */
  service: z.boolean().optional(),
});
export type TCreateTokenBody = z.infer<typeof ZCreateTokenBody>;

/** The answer to a token creation: the only time the secret is shown. */
export const ZCreatedToken = ZToken.extend({ token: z.string() });
export type TCreatedToken = z.infer<typeof ZCreatedToken>;
