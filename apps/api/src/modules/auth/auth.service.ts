// Local login, login sessions (revocable server-side) and the first-run admin bootstrap.
import { randomBytes } from "node:crypto";
import { Prisma, type LoginSession } from "@postern/db";
import { unauthorized } from "../../errors";
import { writeAudit } from "../audit/audit.service";
import { inTransaction, type DbContext } from "../../lib/db-context";
import { userInclude, type UserWithGroups } from "../users/users.presenter";
import { hashPassword, verifyPassword } from "./password";

export const LOGIN_SESSION_SECONDS = 7 * 24 * 3600;

export interface LoginContext {
  ip?: string;
  userAgent?: string;
}

export async function loginLocal(
  ctx: DbContext,
  username: string,
  password: string,
  from: LoginContext,
): Promise<{ user: UserWithGroups; loginSession: LoginSession }> {
  const user = await ctx.db.user.findUnique({ where: { username }, include: userInclude });
  const ok = await verifyPassword(user?.passwordHash, password);
  if (!user || !ok || user.disabled) {
    const reason = !user ? "unknown user" : !ok ? "wrong password" : "user disabled";
    await inTransaction(ctx, (tx) =>
      writeAudit(ctx, tx, {
        actor: user ? { id: user.id, username: user.username } : null,
        action: "user.login_failed",
        target: `username:${username}`,
        sourceIp: from.ip,
        details: { reason, method: "local" },
      }),
    );
    // One message for every cause, so the answer does not reveal which usernames exist.
    throw unauthorized("wrong username or password");
  }
  const loginSession = await inTransaction(ctx, async (tx) => {
    const now = ctx.now();
    const created = await tx.loginSession.create({
      data: {
        userId: user.id,
        expiresAt: new Date(now.getTime() + LOGIN_SESSION_SECONDS * 1000),
        ip: from.ip,
        userAgent: from.userAgent?.slice(0, 256),
        provider: "local",
        lastSeenAt: now,
      },
    });
    await writeAudit(ctx, tx, {
      actor: { id: user.id, username: user.username },
      action: "user.login",
      target: `user:${user.id}`,
      sourceIp: from.ip,
      details: { method: "local" },
    });
    return created;
  });
  return { user, loginSession };
}

export async function logout(ctx: DbContext, loginSessionId: string, user: UserWithGroups, ip?: string): Promise<void> {
  await inTransaction(ctx, async (tx) => {
    await tx.loginSession.updateMany({ where: { id: loginSessionId, revokedAt: null }, data: { revokedAt: ctx.now() } });
    await writeAudit(ctx, tx, {
      actor: { id: user.id, username: user.username },
      action: "user.logout",
      target: `user:${user.id}`,
      sourceIp: ip,
    });
  });
}

/** Ends every open login session of a user ("log out everywhere"); returns how many ended. */
export async function logoutEverywhere(ctx: DbContext, user: UserWithGroups, ip?: string): Promise<number> {
  return inTransaction(ctx, async (tx) => {
    const { count } = await tx.loginSession.updateMany({ where: { userId: user.id, revokedAt: null }, data: { revokedAt: ctx.now() } });
    await writeAudit(ctx, tx, {
      actor: { id: user.id, username: user.username },
      action: "user.logout_all",
      target: `user:${user.id}`,
      sourceIp: ip,
      details: { ended: count },
    });
    return count;
  });
}

/** The user behind a valid, unrevoked, unexpired login session, or null. */
export async function findLoginSessionUser(ctx: DbContext, loginSessionId: string): Promise<UserWithGroups | null> {
  const session = await ctx.db.loginSession.findUnique({
    where: { id: loginSessionId },
    include: { user: { include: userInclude } },
  });
  if (!session || session.revokedAt || session.expiresAt <= ctx.now() || session.user.disabled) return null;
  return session.user;
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
    return await inTransaction(ctx, async (tx) => {
      // Re-checked inside the transaction: another instance may have bootstrapped meanwhile.
      if ((await tx.user.count()) > 0) return null;
      const user = await tx.user.create({ data: { username: "admin", passwordHash, role: "admin" } });
      await writeAudit(ctx, tx, {
        action: "user.created",
        target: `user:${user.id}`,
        details: { username: "admin", role: "admin", cause: "first-run bootstrap" },
      });
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
