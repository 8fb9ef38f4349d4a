import { z } from "zod";
import { ZId } from "./common";

export const ZRole = z.enum(["admin", "member"]);
export type TRole = z.infer<typeof ZRole>;

/** A group as embedded in a user. */
export const ZGroupRef = z.object({ id: ZId, name: z.string() });

/** A username: letters, digits and `._@-`, as typed at login. */
export const ZUsername = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/, "letters, digits and . _ @ - only");

/** A local password (argon2id-hashed at rest). */
export const ZPassword = z.string().min(8, "at least 8 characters").max(256);

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

export const ZCreateUserBody = z.strictObject({
  username: ZUsername,
  /** Omit for users who only log in through OIDC. */
  password: ZPassword.optional(),
  email: z.email().optional(),
  displayName: z.string().trim().min(1).max(128).optional(),
  role: ZRole.optional(),
  groupIds: z.array(ZId).optional(),
});
export type TCreateUserBody = z.infer<typeof ZCreateUserBody>;

export const ZUpdateUserBody = z.strictObject({
  email: z.email().nullable().optional(),
  displayName: z.string().trim().min(1).max(128).nullable().optional(),
  role: ZRole.optional(),
  disabled: z.boolean().optional(),
  password: ZPassword.optional(),
  /** Replaces the user's group memberships. */
  groupIds: z.array(ZId).optional(),
});
export type TUpdateUserBody = z.infer<typeof ZUpdateUserBody>;

export const ZGroup = z.object({
  id: ZId,
  name: z.string(),
  members: z.array(ZUser).optional(),
});
export type TGroup = z.infer<typeof ZGroup>;

export const ZCreateGroupBody = z.strictObject({
  name: z.string().trim().min(1, "must not be empty").max(64),
});
export type TCreateGroupBody = z.infer<typeof ZCreateGroupBody>;

export const ZGroupMemberParams = z.object({ id: ZId, userId: ZId });
export type TGroupMemberParams = z.infer<typeof ZGroupMemberParams>;
