import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZAuthProvider, ZLoginBody, ZLogoutResponse, ZMe, type TMe, type TPermission } from "@postern/contracts";
import { requireUser, SESSION_COOKIE, ACCESS_TOKEN_SECONDS } from "../../plugins/auth";
import { unauthorized } from "../../errors";
import { presentUser, type UserWithGroups } from "../users/users.presenter";
import { loginLocal, logout } from "./auth.service";
import { verifyPassword } from "./password";
import { writeAudit } from "../audit/audit.service";
import { inTransaction } from "../../lib/db-context";
import type { FastifyRequest } from "fastify";

export function presentMe(user: UserWithGroups): TMe {
  const permissions: TPermission[] = ["services:read", "sessions:read", "sessions:write"];
  if (user.role === "admin") permissions.push("admin");
  return { user: presentUser(user), permissions };
}

const ZTokenResponse = z.object({ token: z.string(), tokenType: z.literal("Bearer"), expiresIn: z.number() });

/** Limits for password guessing: per client address, on every route that checks a password. */
const loginRateLimit = { max: 20, timeWindow: "1 minute" };

export default async function authRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get("/api/auth/providers", { config: { access: "public" }, schema: { response: { 200: z.array(ZAuthProvider) } } }, async () => [
    { id: "local", name: "Username and password", type: "local" as const },
  ]);

  r.post(
    "/api/auth/login",
    { config: { access: "public", rateLimit: loginRateLimit }, schema: { body: ZLoginBody, response: { 200: ZMe } } },
    async (request, reply) => {
      const { user, loginSession } = await loginLocal(app.ctx, request.body.username, request.body.password, {
        ip: request.ip,
        userAgent: request.headers["user-agent"],
      });
      app.setLoginCookie(reply, loginSession.id);
      return presentMe(user);
    },
  );

  r.post("/api/auth/logout", { config: { access: "public" }, schema: { response: { 200: ZLogoutResponse } } }, async (request, reply) => {
    const principal = request.principal;
    if (principal?.loginSessionId && principal.user) {
      await logout(app.ctx, principal.loginSessionId, principal.user, request.ip);
    }
    void reply.clearCookie(SESSION_COOKIE, { path: "/" });
    return { ok: true as const };
  });

  r.get("/api/me", { schema: { response: { 200: ZMe } } }, async (request) => presentMe(requireUser(request).user));

  /** HTTP Basic credentials → a short-lived bearer token, for scripts. */
  async function tradeBasicForToken(request: FastifyRequest) {
    const header = request.headers.authorization ?? "";
    if (!header.toLowerCase().startsWith("basic ")) {
      throw unauthorized("send HTTP Basic credentials (Authorization: Basic base64(username:password))");
    }
    const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const username = colon >= 0 ? decoded.slice(0, colon) : decoded;
    const password = colon >= 0 ? decoded.slice(colon + 1) : "";
    const user = await app.ctx.db.user.findUnique({ where: { username } });
    const ok = await verifyPassword(user?.passwordHash, password);
    if (!user || !ok || user.disabled) {
      await inTransaction(app.ctx, (tx) =>
        writeAudit(app.ctx, tx, {
          actor: user ? { id: user.id, username: user.username } : null,
          action: "user.login_failed",
          target: `username:${username}`,
          sourceIp: request.ip,
          details: { method: "basic" },
        }),
      );
      throw unauthorized("wrong username or password");
    }
    return { token: app.issueAccessToken(user.id), tokenType: "Bearer" as const, expiresIn: ACCESS_TOKEN_SECONDS };
  }

  r.post(
    "/api/auth/token",
    { config: { access: "public", rateLimit: loginRateLimit }, schema: { response: { 200: ZTokenResponse } } },
    tradeBasicForToken,
  );
  // Compatibility with the older tools' scripts: same exchange, their field name.
  r.post(
    "/api/loginUser",
    { config: { access: "public", rateLimit: loginRateLimit }, schema: { response: { 200: ZTokenResponse.extend({}).passthrough() } } },
    async (request) => tradeBasicForToken(request),
  );
}
