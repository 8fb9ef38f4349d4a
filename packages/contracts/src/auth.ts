import { z } from "zod";
import { ZUser } from "./users";

export const ZLoginBody = z.strictObject({
  username: z.string().min(1, "must not be empty").max(64),
  password: z.string().min(1, "must not be empty").max(256),
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

export const ZMe = z.object({ user: ZUser, permissions: z.array(ZPermission) });
export type TMe = z.infer<typeof ZMe>;

/** A login method offered on the login page. */
export const ZAuthProvider = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(["local", "oidc"]),
  /** Where the browser goes to start this login (OIDC only). */
  startUrl: z.string().optional(),
});
export type TAuthProvider = z.infer<typeof ZAuthProvider>;

export const ZLogoutResponse = z.object({ ok: z.literal(true) });
