import { z } from "zod";
import { ZId, ZText } from "./common";

export const ZRole = z.enum(["admin", "member"]);
export type TRole = z.infer<typeof ZRole>;

/** A group as embedded in a user. */
export const ZGroupRef = z.object({ id: ZId, name: z.string() });

/** A username: letters, digits and `._@-`, as typed at login. */
export const ZUsername = ZText.trim()
  .min(1, "must not be empty")
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/, "letters, digits and . _ @ - only");

/** A local password (argon2id-hashed at rest). */
export const ZPassword = ZText.min(8, "at least 8 characters").max(256);

export const ZUser = z.object({
  id: ZId,
  username: z.string(),
  email: z.string().optional(),
  displayName: z.string().optional(),
  role: ZRole,
  /** A disabled user cannot log in and loses every session at once. */
  disabled: z.boolean(),
  groups: z.array(ZGroupRef),
});
export type TUser = z.infer<typeof ZUser>;

/**
 * A person as the board shows them to everyone (session holders, service holders): who, not
 * their e-mail, role or groups. Admins read those from `GET /api/users`.
 */
export const ZUserRef = z.object({ id: ZId, username: z.string(), displayName: z.string().optional() });
export type TUserRef = z.infer<typeof ZUserRef>;

export const ZCreateUserBody = z.strictObject({
  username: ZUsername,
  /** Omit for users who only log in through OIDC. */
  password: ZPassword.optional(),
  email: ZText.max(254).pipe(z.email()).optional(),
  displayName: ZText.trim().min(1).max(128).optional(),
  role: ZRole.optional(),
  groupIds: z.array(ZId).max(500).optional(),
});
export type TCreateUserBody = z.infer<typeof ZCreateUserBody>;

export const ZUpdateUserBody = z.strictObject({
  email: ZText.max(254).pipe(z.email()).nullable().optional(),
  displayName: ZText.trim().min(1).max(128).nullable().optional(),
  role: ZRole.optional(),
  disabled: z.boolean().optional(),
  /** Sets a new password; every login of the user ends. */
  password: ZPassword.optional(),
  /** With `password`: also revoke the user's API tokens. */
  revokeTokens: z.boolean().optional(),
  /** Replaces the user's group memberships. */
  groupIds: z.array(ZId).max(500).optional(),
  /** Why (kept in the audit trail), e.g. when disabling. */
  reason: ZText.trim().min(1).max(500).optional(),
});
export type TUpdateUserBody = z.infer<typeof ZUpdateUserBody>;

export const ZGroup = z.object({
  id: ZId,
  name: z.string(),
  members: z.array(ZUser).optional(),
});
export type TGroup = z.infer<typeof ZGroup>;

export const ZCreateGroupBody = z.strictObject({
  name: ZText.trim().min(1, "must not be empty").max(64),
});
export type TCreateGroupBody = z.infer<typeof ZCreateGroupBody>;

export const ZUpdateGroupBody = ZCreateGroupBody;
export type TUpdateGroupBody = z.infer<typeof ZUpdateGroupBody>;

/** `DELETE /api/users/:id?reason=…` */
export const ZDeleteUserQuery = z.strictObject({
  /** Why (kept in the audit trail). */
  reason: ZText.trim().min(1).max(500).optional(),
});
export type TDeleteUserQuery = z.infer<typeof ZDeleteUserQuery>;

export const ZGroupMemberParams = z.object({ id: ZId, userId: ZId });
export type TGroupMemberParams = z.infer<typeof ZGroupMemberParams>;
