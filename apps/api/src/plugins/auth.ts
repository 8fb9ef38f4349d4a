// Authentication: resolves the caller from the login cookie or a bearer token on every request
// and offers `requireUser` / `requireAdmin`. Cookie-authenticated mutations must carry the
// X-Postern-CSRF header, which a cross-site form or a simple cross-origin request cannot set.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import jwt from "@fastify/jwt";
import type { TScope } from "@postern/contracts";
import { AppError, forbidden, unauthorized } from "../errors";
import { checkToken, findTokenByPrefix, prefixOf, type StoredToken } from "../modules/tokens/tokens.service";
import { TOKEN_PREFIX } from "../modules/tokens/tokens.secret";
import { TokenUsage } from "../modules/tokens/token-usage";
import { ACCESS_TOKEN_SECONDS, findLogin, LOGIN_SESSION_SECONDS } from "../modules/auth/auth.service";
import { PrincipalCache, type CachedLogin } from "../modules/auth/principal-cache";
import { UnknownTokenGuard } from "../modules/auth/unknown-token-guard";
import { VerifiedJwts } from "../modules/auth/verified-jwts";
import type { UserWithGroups } from "../modules/users/users.presenter";
import { isApiPath } from "../lib/api-paths";
import { refuse } from "../lib/refuse";
import type { Actor } from "../modules/audit/audit.service";

export const SESSION_COOKIE = "postern_session";
export const CSRF_HEADER = "x-postern-csrf";

export interface Principal {
  /** Null only for a service token, which belongs to no user. */
  user: UserWithGroups | null;
  via: "cookie" | "bearer" | "token";
  /** An API token's scopes; null for a login (cookie or Basic-issued bearer): the user's full rights. */
  scopes: TScope[] | null;
  loginSessionId?: string;
  token?: { id: string; name: string; expiresAt: Date | null };
}

export interface UserPrincipal extends Principal {
  user: UserWithGroups;
}

interface CookieClaims {
  typ: "login";
  sid: string;
  exp?: number;
}
/** A bearer traded for Basic credentials: a login session of its own, revocable like any login. */
interface AccessClaims {
  typ: "access";
  sub: string;
  sid: string;
  exp?: number;
}
/** An OIDC login in progress (a short-lived cookie): provider, nonce, return path, hash of the state. */
interface OidcFlowClaims {
  typ: "oidc";
  p: string;
  n: string;
  r: string;
  s: string;
}

/** Who may call a route: declared in the route's `config.access`. "login": a user signed in (the
 * cookie, or a bearer traded for a password), never an API token: what a token left in a script
 * must not do to its owner's account. */
export type Access = "public" | "user" | "login" | "admin";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
    /** The scope an API token needs here; default sessions:read for reads, sessions:write for
     * changes, admin on admin routes; "any" where any valid token will do (GET /api/test). */
    scope?: TScope | "any";
    /** The route checks a bearer of its own (GET /metrics and POSTERN_METRICS_TOKEN): no login here. */
    ownBearer?: boolean;
    /** Limited by limiters the route runs itself (shared with other routes), not a `rateLimit`
     * config of its own: the API description lists 429 for it all the same. */
    rateLimited?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** Why a presented credential did not log the request in, when that is worth saying. */
    authProblem: string | null;
  }
  interface FastifyInstance {
    /** Sets the login cookie for a new login session. */
    setLoginCookie(reply: FastifyReply, loginSessionId: string): void;
    /** When API tokens were last used, written in batches (see token-usage.ts). */
    tokenUsage: TokenUsage;
    /** Whether a principal's rights may have changed since they were read (PrincipalCache). */
    principalChanged: (user: { id: string }) => boolean;
    /** A short-lived bearer token for scripts (POST /api/auth/token), bound to its login session. */
    issueAccessToken(loginSession: { id: string; userId: string }): string;
  }
}

declare module "@fastify/jwt" {
  interface FastifyJWT {
    payload: CookieClaims | AccessClaims | OidcFlowClaims;
  }
}

/** What authentication and authorisation answer: nothing to say, or the refusal to send. */
type Refusal = AppError | undefined;
/** The matched route, as Fastify describes it (`request.routeOptions`). */
type Route = FastifyRequest["routeOptions"];

/** The refusal for a caller who has not authenticated, or (`admin`) is not an admin. The auth
 * hook returns it; routes throw it through `requirePrincipal` / `requireAdmin`. */
function callerRefusal(request: FastifyRequest, admin: boolean): Refusal {
  const principal = request.principal;
  if (!principal) return unauthorized(request.authProblem ?? undefined);
  if (admin && !isAdmin(principal)) return forbidden("this needs an admin");
  return undefined;
}

export function requirePrincipal(request: FastifyRequest): Principal {
  const refusal = callerRefusal(request, false);
  if (refusal) throw refusal;
  return request.principal as Principal;
}

/** A caller that is a user (a login or a personal token), not a service token. */
export function requireUser(request: FastifyRequest): UserPrincipal {
  const principal = requirePrincipal(request);
  if (!principal.user) throw forbidden("this needs a user: log in or use a personal token");
  return principal as UserPrincipal;
}

export function isAdmin(principal: Principal): boolean {
  if (principal.user) return principal.user.role === "admin" && (principal.scopes?.includes("admin") ?? true);
  return principal.scopes?.includes("admin") ?? false;
}

export function requireAdmin(request: FastifyRequest): Principal {
  const refusal = callerRefusal(request, true);
  if (refusal) throw refusal;
  return request.principal as Principal;
}

export function actorOf(principal: Principal): Actor {
  if (principal.user) return { id: principal.user.id, username: principal.user.username, kind: "user" };
  const token = principal.token ?? { id: "unknown", name: "unknown" };
  return { id: `token:${token.id}`, username: `token:${token.name}`, kind: "token" };
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  // The scheme alone is lower-cased: the header is a token of some 60 characters on every request.
  if (header && header.length > 7 && header.slice(0, 7).toLowerCase() === "bearer ") return header.slice(7).trim();
  const legacy = request.headers["x-access-tokens"];
  return typeof legacy === "string" && legacy ? legacy.trim() : undefined;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Scopes that `admin` includes: an admin token can read and change sessions without listing them. */
const IMPLIED_BY_ADMIN: TScope[] = ["sessions:read", "sessions:write"];

export function tokenAllows(scopes: TScope[], needed: TScope): boolean {
  return scopes.includes(needed) || (scopes.includes("admin") && IMPLIED_BY_ADMIN.includes(needed));
}

/**
 * Whether this request came in over https: directly, through a trusted proxy, or through the
 * ngrok tunnel (ngrok ends TLS and forwards to us with the tunnel's host name), so a login made
 * on the tunnel's URL gets a Secure cookie even when POSTERN_PUBLIC_URL is not set.
 */
function reachedOverHttps(app: FastifyInstance, request: FastifyRequest): boolean {
  if (request.protocol === "https") return true;
  if (!app.hasDecorator("publicUrl")) return false;
  const publicUrl = new URL(app.publicUrl());
  return publicUrl.protocol === "https:" && publicUrl.host === request.headers.host;
}

export default fp(
  async (app: FastifyInstance, opts: { secret: string; secureCookies: boolean }) => {
    await app.register(jwt, { secret: opts.secret });
    app.decorateRequest("principal", null);
    app.decorateRequest("authProblem", null);

    const cache = new PrincipalCache();
    const jwts = new VerifiedJwts((token) => app.jwt.verify<CookieClaims | AccessClaims>(token));
    // At commit on this process (before the change's own request answers), and as other
    // processes' changes arrive from the live log.
    const forget = app.changes.subscribeAtCommit(({ event }) => cache.notice(event));
    const unknownTokens = new UnknownTokenGuard();
    const usage = new TokenUsage(app.ctx, (err) => app.dbHealth.report("could not record when API tokens were last used", err));
    app.addHook("preClose", async () => forget());
    app.decorate("tokenUsage", usage);
    app.decorate("principalChanged", (user: { id: string }) => cache.changedSince(user));
    // preClose, while the database is still open (onClose hooks run last-registered first).
    app.addHook("preClose", async () => usage.flush());

    const unexpired = (login: CachedLogin | null): CachedLogin | null => (login && login.expiresAt > app.ctx.now() ? login : null);

    /** A login session (cookie or Basic-issued bearer), from the cache or the database. */
    const loginOf = async (request: FastifyRequest, sid: string): Promise<CachedLogin | null> => {
      const found = await cache.login(sid, () => findLogin(app.ctx, sid));
      if (found !== "disabled") return unexpired(found);
      request.authProblem = "this account is disabled; ask an admin";
      return null;
    };

    /** The same from memory alone: undefined when it has to be loaded. */
    const cachedLoginOf = (sid: string): CachedLogin | null | undefined => {
      const hit = cache.cachedLogin(sid);
      return hit === undefined ? undefined : unexpired(hit);
    };

    /** Either now, or once loaded: most requests find their login or token in memory and so
     * cost no promise at all. */
    const then = <T>(value: T | undefined, load: () => Promise<T>, use: (value: T) => Refusal): Refusal | Promise<Refusal> =>
      value !== undefined ? use(value) : load().then(use);

    app.decorate("setLoginCookie", (reply: FastifyReply, loginSessionId: string) => {
      const token = app.jwt.sign({ typ: "login", sid: loginSessionId }, { expiresIn: LOGIN_SESSION_SECONDS });
      void reply.setCookie(SESSION_COOKIE, token, {
        path: "/",
        httpOnly: true,
        sameSite: "lax",
        secure: opts.secureCookies || reachedOverHttps(app, reply.request),
        maxAge: LOGIN_SESSION_SECONDS,
      });
    });
    app.decorate("issueAccessToken", (loginSession: { id: string; userId: string }) =>
      app.jwt.sign({ typ: "access", sub: loginSession.userId, sid: loginSession.id }, { expiresIn: ACCESS_TOKEN_SECONDS }),
    );

    const useToken = (request: FastifyRequest, bearer: string, stored: StoredToken | null): Refusal => {
      const now = app.ctx.now();
      const found = stored && checkToken(stored, bearer, now);
      if (!found) return unauthorized("the API token is invalid, expired or revoked");
      usage.note(found.token.id, now, request.ip);
      request.principal = {
        user: found.user,
        via: "token",
        scopes: found.scopes,
        token: { id: found.token.id, name: found.token.name, expiresAt: found.token.expiresAt },
      };
      return undefined;
    };

    /** Who is calling (`request.principal`), or the refusal to answer with. A refusal is
     * returned, not thrown: refusing is everyday work here, and a throw (with the unwinding to
     * its catch) cost about as much as the rest of a refused request's hooks. */
    const authenticate = (request: FastifyRequest, route: Route): Refusal | Promise<Refusal> => {
      if (route.config.ownBearer) return;
      const bearer = bearerOf(request);
      if (bearer?.startsWith(TOKEN_PREFIX)) {
        const prefix = prefixOf(bearer);
        if (!prefix) return useToken(request, bearer, null);
        const cached = cache.cachedToken(prefix);
        if (cached !== undefined) return useToken(request, bearer, cached);
        const flooding = unknownTokens.refusal(request.ip);
        if (flooding) return flooding;
        return cache.token(prefix, () => findTokenByPrefix(app.ctx, prefix)).then((stored) => {
          if (stored === null) unknownTokens.noteUnknown(request.ip);
          return useToken(request, bearer, stored);
        });
      }
      if (bearer) {
        const claims = jwts.claims(bearer);
        const sid = claims?.sid;
        if (claims?.typ !== "access" || !sid) return unauthorized("the bearer token is invalid or expired");
        return then(cachedLoginOf(sid), () => loginOf(request, sid), (login) => {
          if (!login || login.user.id !== claims.sub) {
            return unauthorized(request.authProblem ?? "the bearer token was revoked (logout, password change) or has expired");
          }
          request.principal = { user: login.user, via: "bearer", scopes: null, loginSessionId: sid };
          return undefined;
        });
      }
      const cookie = request.cookies[SESSION_COOKIE];
      if (!cookie) return;
      const claims = jwts.claims(cookie);
      if (claims?.typ !== "login") return;
      const sid = claims.sid;
      return then(cachedLoginOf(sid), () => loginOf(request, sid), (login) => {
        if (!login) return undefined;
        if (!SAFE_METHODS.has(request.method) && request.headers[CSRF_HEADER] === undefined) {
          return new AppError("forbidden", `cookie-authenticated changes need the ${CSRF_HEADER} header`);
        }
        request.principal = { user: login.user, via: "cookie", scopes: null, loginSessionId: sid };
        return undefined;
      });
    };

    // Callback style, with no promise when the caller is found in memory: this runs on every request.
    // A refusal is answered from here (no `done`), not passed on to Fastify's error path.
    const refuseOr = (reply: FastifyReply, err: unknown, done: (err?: Error) => void): void => {
      if (err instanceof AppError) refuse(reply, err);
      else done(err as Error);
    };
    // Authorisation, as soon as the caller is known: before the body is read, parsed or validated,
    // so an anonymous caller learns nothing from a 400, and a refused POST costs no more than a
    // refused GET. The refusal is returned, as authenticate's is.
    /** Who may call the route; no route at all (the SPA's pages, a 404) is public. */
    const accessOf = (route: Route): Access => {
      const url = route.url;
      if (!url) return "public";
      return route.config.access ?? (isApiPath(url) ? "user" : "public");
    };
    const refusalOf = (request: FastifyRequest, route: Route): Refusal => {
      const access = accessOf(route);
      if (access === "public") return undefined;
      const refusal = callerRefusal(request, access === "admin");
      if (refusal) return refusal;
      const principal = request.principal as Principal;
      if (access === "login" && principal.scopes) return forbidden("sign in to do this; an API token cannot");
      if (principal.scopes) {
        const config = route.config;
        const needed = config.scope ?? (access === "admin" ? "admin" : SAFE_METHODS.has(request.method) ? "sessions:read" : "sessions:write");
        if (needed !== "any" && !tokenAllows(principal.scopes, needed)) return forbidden(`this API token lacks the scope ${needed}`);
      }
      return undefined;
    };
    /** Who is calling and whether they may call this route: the refusal, or none. A credential
     * that fails is ignored where anyone may call, as a stale cookie is everywhere: a monitor that
     * sends its old token to /healthz, a script logging out with an expired bearer, a page of the
     * SPA, are answered as anyone's would be. (A cookie's missing CSRF header is still refused.) */
    const admit = (request: FastifyRequest, route: Route, authenticated: Refusal): Refusal => {
      if (!authenticated) return refusalOf(request, route);
      return authenticated.code === "unauthorized" && accessOf(route) === "public" ? undefined : authenticated;
    };
    app.addHook("onRequest", (request, reply, done) => {
      // Fastify builds routeOptions afresh at every read: read once, here.
      const route = request.routeOptions;
      let outcome: Refusal | Promise<Refusal>;
      try {
        outcome = authenticate(request, route);
      } catch (err) {
        return refuseOr(reply, err, done);
      }
      if (!(outcome instanceof Promise)) outcome = admit(request, route, outcome);
      if (outcome === undefined) done();
      else if (outcome instanceof AppError) refuse(reply, outcome);
      else
        outcome.then(
          (authenticated) => {
            const refusal = admit(request, route, authenticated);
            if (refusal) refuse(reply, refusal);
            else done();
          },
          (err: unknown) => refuseOr(reply, err, done),
        );
    });
  },
  { name: "auth", dependencies: ["database", "changes"] },
);
