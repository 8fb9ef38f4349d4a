import { z } from "zod";
import { ZText } from "./common";
import { ZUser } from "./users";

export const ZLoginBody = z.strictObject({
  username: ZText.min(1, "must not be empty").max(64),
  password: ZText.min(1, "must not be empty").max(256),
});
export type TLoginBody = z.infer<typeof ZLoginBody>;

/** What the caller may do; the SPA shows or hides controls by it. */
export const ZPermission = z.enum([
  "services:read",
  "sessions:read",
  "sessions:write",
  "admin",
]);
export type TPermission = z.infer<typeof ZPermission>;

export const ZMe = z.object({
  user: ZUser,
  permissions: z.array(ZPermission),
  /** Whether the user has a local password (and so may change it with `POST /api/me/password`). */
  hasPassword: z.boolean(),
});
export type TMe = z.infer<typeof ZMe>;

/** `POST /api/me/password`: a local user changes their own password. */
export const ZChangePasswordBody = z.strictObject({
  currentPassword: ZText.min(1, "must not be empty").max(256),
  newPassword: ZText.min(8, "at least 8 characters").max(256),
  /** Also revoke the user's API tokens. */
  revokeTokens: z.boolean().optional(),
});
export type TChangePasswordBody = z.infer<typeof ZChangePasswordBody>;

/** What a password change ended. */
export const ZPasswordChanged = z.object({
  ok: z.literal(true),
  /** Other logins of the user that were ended. */
  endedLogins: z.number().int(),
  revokedTokens: z.number().int(),
});
export type TPasswordChanged = z.infer<typeof ZPasswordChanged>;

/** A login method offered on the login page. */
export const ZAuthProvider = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(["local", "oidc"]),
  /** Where the browser goes to start this login (OIDC only). */
  startUrl: z.string().optional(),
});
export type TAuthProvider = z.infer<typeof ZAuthProvider>;

export const ZLogoutResponse = z.object({
  ok: z.literal(true),
  /** Where the browser goes next to end the login at the identity provider too (OIDC logins whose provider supports it). */
  logoutUrl: z.string().optional(),
});
export type TLogoutResponse = z.infer<typeof ZLogoutResponse>;

/** `POST /api/auth/logout-all`: how many logins of the caller were ended. */
export const ZLogoutAllResponse = z.object({ ok: z.literal(true), ended: z.number().int() });
export type TLogoutAllResponse = z.infer<typeof ZLogoutAllResponse>;

/** `POST /api/auth/token` and `POST /api/loginUser`: HTTP Basic credentials traded for a short-lived bearer token. */
export const ZAccessTokenResponse = z.object({
  token: z.string(),
  tokenType: z.literal("Bearer"),
  /** Seconds until the token expires. */
  expiresIn: z.number(),
});
export type TAccessTokenResponse = z.infer<typeof ZAccessTokenResponse>;

/**
 * The `error` query parameter of `/login?error=<code>` after a failed OIDC login; the SPA shows
 * a message for each.
 */
export const ZLoginErrorCode = z.enum([
  "unknown_provider",
  "provider_unavailable",
  "provider_error",
  "invalid_state",
  "code_rejected",
  "invalid_id_token",
  "signup_disabled",
  "user_disabled",
  "email_conflict",
]);
export type TLoginErrorCode = z.infer<typeof ZLoginErrorCode>;
