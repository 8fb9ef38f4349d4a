// Local login, login sessions (revocable server-side), Basic-issued bearer tokens (which are login
// sessions too, so logging out everywhere or changing a password ends them), password changes and
// the first-run admin bootstrap. Every outcome, refused or not, is recorded as an event.
import { randomBytes } from "node:crypto";
import type { TChangePasswordBody, TPasswordChanged } from "@postern/contracts";
import { Prisma, type LoginSession } from "@postern/db";
import { badField, unauthorized } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { storableText } from "../../lib/storable-text";
import { runChange, SYSTEM } from "../../lib/run-change";
import { presentUser, userInclude, type UserWithGroups } from "../users/users.presenter";
import { loginOpening } from "./login-prune";
import { heldUser } from "../users/users.held";
import { endLogins, revokeTokensOf } from "../users/users.service";
import { holdAttempt } from "./login-throttle";
import { hashPassword, verifyPassword } from "./password";
import { loadLogin } from "./principal-loads";

export const LOGIN_SESSION_SECONDS = 7 * 24 * 3600;
/** How long a bearer token traded for Basic credentials lives. */
export const ACCESS_TOKEN_SECONDS = 3600;

export interface LoginContext {
  ip?: string;
  userAgent?: string;
  /** The route asked, for the throttle's audit event. */
  route?: string;
}

export type PasswordMethod = "local" | "basic";

const tagOf = (u: { id: string; username: string }) => ({ id: u.id, username: u.username });
const userActor = (u: { id: string; username: string }) => ({ ...tagOf(u), kind: "user" as const });

/**
 * The user a username and password belong to, or a 401 — the same answer for an unknown user, a
 * wrong password and a disabled user, so it does not reveal which usernames exist. The refusal
 * is recorded (`user.login_failed`).
 */
export async function checkPassword(
  ctx: DbContext,
  username: string,
  password: string,
  from: LoginContext,
  method: PasswordMethod,
): Promise<UserWithGroups> {
  const held = await holdAttempt(ctx, { ip: from.ip, username, route: from.route });
  const user = await ctx.db.user.findUnique({ where: { username }, include: userInclude });
  const ok = await verifyPassword(user?.passwordHash, password);
  if (user && ok && !user.disabled) {
    await held.succeeded();
    return user;
  }
  // A disabled user's right password is no guess: it does not count.
  if (user && ok) await held.notAGuess();
  const reason = !user ? "unknown user" : !ok ? "wrong password" : "user disabled";
  await runChange(ctx, { actor: user ? userActor(user) : null, sourceIp: from.ip }, async (tx, record) => {
    if (!ok || !user) await held.failed(ctx.sql.within(tx));
    record({ type: "user.login_failed", username, userId: user?.id, method, reason });
  });
  throw unauthorized(user?.disabled && ok ? "this account is disabled; ask an admin" : "wrong username or password");
}

async function openLoginSession(
  ctx: DbContext,
  user: UserWithGroups,
  from: LoginContext,
  method: PasswordMethod,
  seconds: number,
  event: "login" | "token",
  route?: string,
): Promise<LoginSession> {
  await loginOpening(ctx);
  const opened = await runChange(ctx, { actor: userActor(user), sourceIp: from.ip }, async (tx, record) => {
    const now = ctx.now();
    // The password was checked against the row as it was read before the check; a reset or a
    // disable committed since must not let this login through (its own ending of logins could
    // not see one not yet made).
    const current = await heldUser(ctx, tx, user.id);
    if (!current || current.disabled || current.passwordHash !== user.passwordHash) {
      const reason = !current ? "unknown user" : current.disabled ? "user disabled" : "password changed during the login";
      record({ type: "user.login_failed", username: user.username, userId: user.id, method, reason });
      return reason;
    }
    const created = await tx.loginSession.create({
      data: {
        userId: user.id,
        expiresAt: new Date(now.getTime() + seconds * 1000),
        ip: from.ip,
        userAgent: storableText(from.userAgent?.slice(0, 256)),
        provider: method,
        lastSeenAt: now,
      },
    });
    if (event === "login") record({ type: "user.login", user: tagOf(user), method: "local" });
    else record({ type: "auth.token_issued", user: tagOf(user), route: route ?? "", expiresIn: seconds });
    return created;
  });
  if (typeof opened !== "string") return opened;
  throw unauthorized(opened === "user disabled" ? "this account is disabled; ask an admin" : "wrong username or password");
}

export async function loginLocal(
  ctx: DbContext,
  username: string,
  password: string,
  from: LoginContext,
): Promise<{ user: UserWithGroups; loginSession: LoginSession }> {
  const user = await checkPassword(ctx, username, password, from, "local");
  return { user, loginSession: await openLoginSession(ctx, user, from, "local", LOGIN_SESSION_SECONDS, "login") };
}

/** HTTP Basic credentials → a short-lived login session whose id the bearer token carries. */
export async function loginBasic(
  ctx: DbContext,
  username: string,
  password: string,
  from: LoginContext,
): Promise<{ user: UserWithGroups; loginSession: LoginSession }> {
  const user = await checkPassword(ctx, username, password, from, "basic");
  return { user, loginSession: await openLoginSession(ctx, user, from, "basic", ACCESS_TOKEN_SECONDS, "token", from.route) };
}

export async function logout(ctx: DbContext, loginSessionId: string, user: UserWithGroups, ip?: string): Promise<void> {
  await runChange(ctx, { actor: userActor(user), sourceIp: ip }, async (tx, record) => {
    await tx.loginSession.updateMany({ where: { id: loginSessionId, revokedAt: null }, data: { revokedAt: ctx.now() } });
    record({ type: "user.logout", user: tagOf(user) });
  });
}

/** Ends every open login session of a user ("log out everywhere"); returns how many ended. */
export async function logoutEverywhere(ctx: DbContext, user: UserWithGroups, ip?: string): Promise<number> {
  return runChange(ctx, { actor: userActor(user), sourceIp: ip }, async (tx, record) => {
    const ended = await endLogins(ctx, tx, user.id);
    record({ type: "user.logout_all", user: tagOf(user), ended });
    return ended;
  });
}

/** A local user changes their own password: every other login of theirs ends (this one stays). */
export async function changeOwnPassword(
  ctx: DbContext,
  user: UserWithGroups,
  currentLoginId: string | undefined,
  body: TChangePasswordBody,
  from: LoginContext,
): Promise<TPasswordChanged> {
  if (!user.passwordHash) throw badField("body.currentPassword", "this account logs in through an identity provider and has no password here");
  // Someone at an unlocked screen guessing the current password is held back like any guesser.
  const held = await holdAttempt(ctx, { ip: from.ip, username: user.username, route: from.route });
  if (!(await verifyPassword(user.passwordHash, body.currentPassword))) {
    await runChange(ctx, { actor: userActor(user), sourceIp: from.ip }, async (tx, record) => {
      await held.failed(ctx.sql.within(tx));
      record({ type: "user.login_failed", username: user.username, userId: user.id, method: "local", reason: "wrong current password" });
    });
    throw badField("body.currentPassword", "is not your current password");
  }
  await held.succeeded();
  if (body.newPassword === body.currentPassword) throw badField("body.newPassword", "must differ from the current password");
  const passwordHash = await hashPassword(body.newPassword);
  return runChange(ctx, { actor: userActor(user), sourceIp: from.ip }, async (tx, record) => {
    await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
    const endedLogins = await endLogins(ctx, tx, user.id, currentLoginId);
    const revokedTokens = body.revokeTokens ? await revokeTokensOf(ctx, tx, record, user.id, "password changed") : 0;
    record({ type: "user.password_changed", user: tagOf(user), by: "self", endedLogins, revokedTokens });
    return { ok: true as const, endedLogins, revokedTokens };
  });
}

/**
 * The user behind a valid, unrevoked, unexpired login session and when it expires; "disabled"
 * when its user is disabled (so the answer can say so); null otherwise.
 */
export async function findLogin(ctx: DbContext, loginSessionId: string): Promise<{ user: UserWithGroups; expiresAt: Date } | "disabled" | null> {
  const session = await loadLogin(ctx, loginSessionId);
  if (!session) return null;
  if (session.user.disabled) return "disabled";
  if (session.revokedAt || session.expiresAt <= ctx.now()) return null;
  return { user: session.user, expiresAt: session.expiresAt };
}

export function generatePassword(): string {
  return randomBytes(15).toString("base64url");
}

/**
 * On an empty database, creates the first admin with a generated password and returns the
 * credentials to print once. Returns null when any user exists.
 */
export async function bootstrapAdmin(ctx: DbContext): Promise<{ username: string; password: string } | null> {
  if ((await ctx.db.user.count()) > 0) return null;
  const password = generatePassword();
  const passwordHash = await hashPassword(password);
  try {
    return await runChange(ctx, SYSTEM, async (tx, record) => {
      // Re-checked inside the transaction: another instance may have bootstrapped meanwhile.
      if ((await tx.user.count()) > 0) return null;
      const user = await tx.user.create({ data: { username: "admin", passwordHash, role: "admin" }, include: userInclude });
      record({ type: "user.created", user: presentUser(user), cause: "first-run bootstrap" });
      return { username: "admin", password };
    });
  } catch (err) {
    // Two instances starting together on an empty PostgreSQL database (compose starts both
    // replicas at once) both see no user at READ COMMITTED; the second insert then hits the
    // unique username. The other instance bootstrapped: nothing to print here.
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") return null;
    throw err;
  }
}
