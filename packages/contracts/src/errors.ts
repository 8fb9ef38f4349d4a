import { z } from "zod";

/** Every error code Postern answers with, and the HTTP status it travels with. */
export const errorStatus = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  service_unavailable: 503,
  // The database cannot store more (a full disk): reads still work, writes again once space returns.
  storage_full: 503,
} as const;

export type TErrorCode = keyof typeof errorStatus;
export const ZErrorCode = z.enum(Object.keys(errorStatus) as [TErrorCode, ...TErrorCode[]]);

/** One problem with one field of a request. */
export const ZFieldIssue = z.object({
  /** Where the problem is, e.g. `body.durationSeconds`. */
  field: z.string(),
  /** What was expected there. */
  message: z.string(),
});
export type TFieldIssue = z.infer<typeof ZFieldIssue>;

/** The one error envelope of every non-2xx JSON answer. */
export const ZErrorBody = z.object({
  error: z.object({
    code: ZErrorCode,
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type TErrorBody = z.infer<typeof ZErrorBody>;

/** The details of a 409 on an exclusive service: who holds it and until when. */
export const ZConflictDetails = z.object({
  holder: z.object({ id: z.string(), username: z.string(), displayName: z.string().optional() }),
  sessionId: z.string(),
  expiresAt: z.string().optional(),
});
export type TConflictDetails = z.infer<typeof ZConflictDetails>;
