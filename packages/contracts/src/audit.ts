import { z } from "zod";
import { ZId } from "./common";

/** One entry of the hash-chained audit trail. Actions are named `<resource>.<verb>`. */
export const ZAuditEvent = z.object({
  id: ZId,
  /** Position in the chain. */
  seq: z.number().int(),
  at: z.string(),
  actor: z.object({ id: ZId, username: z.string() }).optional(),
  action: z.string(),
  target: z.string().optional(),
  serviceId: z.string().optional(),
  sessionId: z.string().optional(),
  sourceIp: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
  hash: z.string(),
  prevHash: z.string(),
});
export type TAuditEvent = z.infer<typeof ZAuditEvent>;
