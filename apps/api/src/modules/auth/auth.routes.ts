import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  ZAccessTokenResponse,
  ZAuthProvider,
  ZLoginBody,
  ZLogoutAllResponse,
  ZLogoutResponse,
  ZChangePasswordBody,
  ZMe,
  ZPasswordChanged,
  type TMe,
  type TPermission,
} from "@postern/contracts";
import { isAdmin, requireUser, SESSION_COOKIE } from "../../plugins/auth";
import { badField, unauthorized } from "../../errors";
import { presentUser, type UserWithGroups } from "../users/users.presenter";
import { ACCESS_TOKEN_SECONDS, changeOwnPassword, loginBasic, loginLocal, logout, logoutEverywhere } from "./auth.service";
import type { FastifyRequest } from "fastify";
import { sendJson } from "../../lib/send-json";

/** The caller and what they may do; `admin` is the credential's rights (isAdmin), not just the role. */
export function presentMe(user: UserWithGroups, admin = user.role === "admin"): TMe {
  const permissions: TPermission[] = ["services:read", "sessions:read", "sessions:write"];
  if (admin) permissions.push("admin");
  return { user: presentUser(user), permissions, hasPassword: user.passwordHash !== null };
}

/**
 * `GET /api/me` as JSON, made once per cached user and kind of caller: the principal cache hands
 * out the same user object until a change to that user replaces it. Parsed through the contract
 * first, as the response serialiser would, so nothing the schema leaves out gets through.
 */
const meJson = new WeakMap<UserWithGroups, { admin?: Buffer; member?: Buffer }>();
function meJsonOf(user: UserWithGroups, admin: boolean): Buffer {
  let entry = meJson.get(user);
  if (!entry) meJson.set(user, (entry = {}));
  const kind = admin ? "admin" : "member";
  return (entry[kind] ??= Buffer.from(JSON.stringify(ZMe.parse(presentMe(user, admin)))));
}

const ZTokenResponse = ZAccessTokenResponse;

/** Limits for password guessing: per client address (an IPv6 client: its /64, keyed in app.ts), on
 * every route that checks a password. */
const loginRateLimit = { max: 20, timeWindow: "1 minute" };

export default async function authRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get("/api/auth/providers", { config: { access: "public" }, schema: { response: { 200: z.array(ZAuthProvider) } } }, async () => [
    ...app.oidc.configs.map((p) => ({ id: p.id, name: p.name, type: "oidc" as const, startUrl: `/api/auth/oidc/${p.id}/start` })),
    { id: "local", name: "Username and password", type: "local" as const },
  ]);

  r.post(
    "/api/auth/login",
    { config: { access: "public", rateLimit: loginRateLimit }, schema: { body: ZLoginBody, response: { 200: ZMe } } },
    async (request, reply) => {
      const { user, loginSession } = await loginLocal(app.ctx, request.body.username, request.body.password, {
        ip: request.ip,
        userAgent: request.headers["user-agent"],
        route: "/api/auth/login",
      });
      app.setLoginCookie(reply, loginSession.id);
      return presentMe(user);
    },
  );

  r.post("/api/auth/logout", { config: { access: "public" }, schema: { response: { 200: ZLogoutResponse } } }, async (request, reply) => {
    const principal = request.principal;
    let logoutUrl: string | undefined;
    if (principal?.loginSessionId && principal.user) {
      const session = await app.ctx.db.loginSession.findUnique({ where: { id: principal.loginSessionId } });
      await logout(app.ctx, principal.loginSessionId, principal.user, request.ip);
      // An OIDC login also ends at the provider, when it offers a way (the SPA follows the URL).
      if (session?.provider && session.provider !== "local") logoutUrl = await app.oidc.logoutUrl(session.provider, session.idToken, request);
    }
    void reply.clearCookie(SESSION_COOKIE, { path: "/" });
    return { ok: true as const, logoutUrl };
  });

  /** Ends every login session of the caller, on every device. */
  r.post("/api/auth/logout-all", { config: { access: "login" }, schema: { response: { 200: ZLogoutAllResponse } } }, async (request, reply) => {
    const { user } = requireUser(request);
    const ended = await logoutEverywhere(app.ctx, user, request.ip);
    void reply.clearCookie(SESSION_COOKIE, { path: "/" });
    return { ok: true as const, ended };
  });

  // Not async: answered from memory, with no promise for Fastify to wait on.
  r.get("/api/me", { schema: { response: { 200: ZMe } } }, (request, reply) => {
    const principal = requireUser(request);
    sendJson(reply, meJsonOf(principal.user, isAdmin(principal)));
  });

  /** A local user changes their password; their other logins end (this one stays). */
  r.post(
    "/api/me/password",
    { config: { access: "login", rateLimit: loginRateLimit }, schema: { body: ZChangePasswordBody, response: { 200: ZPasswordChanged } } },
    async (request) => {
      const principal = requireUser(request);
      return changeOwnPassword(app.ctx, principal.user, principal.loginSessionId, request.body, {
        ip: request.ip,
        userAgent: request.headers["user-agent"],
        route: "/api/me/password",
      });
    },
  );

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
    // The same rules as the login body's fields, so a header cannot carry what a body may not.
    const checked = ZLoginBody.safeParse({ username: username || "-", password: password || "-" });
    if (!checked.success) {
      throw badField("headers.authorization", `the Basic credentials' ${checked.error.issues[0]?.path.join(".")}: ${checked.error.issues[0]?.message}`);
    }
    const { loginSession } = await loginBasic(app.ctx, username, password, {
      ip: request.ip,
      userAgent: request.headers["user-agent"],
      route: request.routeOptions.url ?? "",
    });
    return { token: app.issueAccessToken(loginSession), tokenType: "Bearer" as const, expiresIn: ACCESS_TOKEN_SECONDS };
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
