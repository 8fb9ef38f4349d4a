// The monitoring relay: messages posted by monitors and scripts, e-mailed to the configured
// recipients from a durable queue.
import { z } from "zod";
import { ZId, ZPage, ZText } from "./common";

export const ZMessageSeverity = z.enum(["info", "warning", "critical"]);
export type TMessageSeverity = z.infer<typeof ZMessageSeverity>;

export const ZMessageStatus = z.enum(["queued", "sent", "failed"]);
export type TMessageStatus = z.infer<typeof ZMessageStatus>;

/** The longest message text accepted, in characters (the request body is also capped at 16 KiB). */
export const MESSAGE_MAX_LENGTH = 8000;
/** The request body limit of the relay routes, in bytes. */
export const MESSAGE_BODY_LIMIT = 16 * 1024;

/** A relay message and its delivery state. */
export const ZMessage = z.object({
  id: ZId,
  subject: z.string().optional(),
  message: z.string(),
  severity: ZMessageSeverity,
  /** queued until every recipient has it (`sent`) or it was given up on (`failed`, with
   * `lastError`: a recipient refused it for good, or the attempts ran out). */
  status: ZMessageStatus,
  /** Delivery attempts started so far. */
  attempts: z.number().int(),
  /** Why the last attempt failed; while some recipients lack the message, it names them. */
  lastError: z.string().optional(),
  /** The recipients who have the message (so far, while it is queued). */
  deliveredTo: z.array(z.string()).optional(),
  createdAt: z.string(),
  /** When the next attempt is due (queued messages only). */
  nextAttemptAt: z.string().optional(),
  sentAt: z.string().optional(),
});
export type TMessage = z.infer<typeof ZMessage>;

const messageFields = {
  /** The text of the alert; it becomes the mail body. */
  message: ZText.trim()
    .min(1, "must not be empty")
    .max(MESSAGE_MAX_LENGTH, `at most ${MESSAGE_MAX_LENGTH} characters`),
  /** One line; defaults to the message's first line. */
  subject: ZText.trim()
    .min(1, "must not be empty")
    .max(200, "at most 200 characters")
    .regex(/^[^\r\n]*$/, "must be a single line")
    .optional(),
  /** Defaults to info. */
  severity: ZMessageSeverity.optional(),
};

/** `POST /api/messages`. */
export const ZSendMessageBody = z.strictObject(messageFields);
export type TSendMessageBody = z.infer<typeof ZSendMessageBody>;

/** `POST /api/placeMessage` (older scripts): the same fields; unknown extra fields are ignored. */
export const ZPlaceMessageBody = z.object(messageFields);

/** The 202 answer: stored, to be delivered by the queue. */
export const ZMessageQueued = z.object({ id: ZId, status: z.literal("queued") });
export type TMessageQueued = z.infer<typeof ZMessageQueued>;

/** `GET /api/messages`: newest first. */
export const ZListMessagesQuery = z.strictObject({
  status: ZMessageStatus.optional(),
  /** Page size, 1–500 (default 50). */
  limit: z.coerce.number().int().min(1).max(500).optional(),
  /** The `nextCursor` of the previous page. */
  cursor: ZText.min(1).max(128).optional(),
});
export type TListMessagesQuery = z.infer<typeof ZListMessagesQuery>;

export const ZMessagePage = ZPage(ZMessage);
export type TMessagePage = z.infer<typeof ZMessagePage>;

/** `GET /api/messages/status`: whether the relay is on, and its queue at a glance. */
export const ZRelayStatus = z.object({
  enabled: z.boolean(),
  /** Why the relay is off, naming the settings to set. */
  reason: z.string().optional(),
  /** How many recipients each message goes to. */
  recipients: z.number().int(),
  queued: z.number().int(),
  failed: z.number().int(),
  sent: z.number().int(),
  lastSentAt: z.string().optional(),
  /** The error of the most recent failed attempt among queued messages (SMTP down, …). */
  lastError: z.string().optional(),
});
export type TRelayStatus = z.infer<typeof ZRelayStatus>;
