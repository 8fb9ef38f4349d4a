// The OIDC login: `/start` sends the browser to the provider (state, nonce, PKCE), `/callback`
// takes it back, exchanges the code, verifies the ID token and opens a login session. Any
// failure ends at `/login?error=<code>` (logged and audited), never at an error page with a stack.
import { createHash, randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZText, type TLoginErrorCode } from "@postern/contracts";
import { OidcError, type OidcClient } from "./oidc.providers";
import { auditOidcFailure, loginOidc, OidcLoginRefused } from "./oidc.service";

/** How long a started login may take at the provider. */
const FLOW_SECONDS = 600;
/** Per address (an IPv6 client: its /64, keyed in app.ts); generous, since a whole office may log
 * in from behind one NAT address at nine. */
const oidcRateLimit = { max: 120, timeWindow: "1 minute" };

export const FLOW_COOKIE_PREFIX = "postern-oidc-flow-";

/** A return path on our own origin only (a relative path); anything else becomes "/". */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== "string" || value.length > 2000) return "/";
  // eslint-disable-next-line no-control-regex
  if (!value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\") || /[\u0000-\u001f\\]/.test(value)) return "/";
  const base = "http://postern.invalid";
  try {
    const url = new URL(value, base);
    if (url.origin !== base) return "/";
    // Resolving dot segments can leave two leading slashes ("/.//evil.example" becomes
    // "//evil.example"), which a browser reads as another host.
    if (url.pathname.startsWith("//")) return "/";
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return "/";
  }
}

function hashOf(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}

const ZProviderParams = z.object({ provider: ZText.min(1).max(64) });
/** What an identity provider sends back; generous bounds, but bounded. */
const ZCallbackText = ZText.max(4096).optional();

export default async function oidcRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const secure = (app.config.publicUrl ?? "").startsWith("https://");
  const flowCookie = (id: string) => `${secure ? "__Host-" : ""}${FLOW_COOKIE_PREFIX}${id}`;
  const cookieOptions = { path: "/", httpOnly: true, sameSite: "lax" as const, secure };

  function fail(request: FastifyRequest, reply: FastifyReply, code: TLoginErrorCode, reason: string) {
    request.log.warn({ code, reason }, "OIDC login failed");
    return reply.redirect(`/login?error=${code}`, 302);
  }

  r.get(
    "/api/auth/oidc/:provider/start",
    {
      config: { access: "public", rateLimit: oidcRateLimit },
      schema: { params: ZProviderParams, querystring: z.object({ returnTo: ZText.max(2048).optional() }) },
    },
    async (request, reply) => {
      const id = request.params.provider;
      if (!app.oidc.find(id)) return fail(request, reply, "unknown_provider", `no provider ${id}`);
      let client: OidcClient;
      try {
        client = await app.oidc.client(id);
      } catch (err) {
        const code = err instanceof OidcError ? err.code : "provider_unavailable";
        return fail(request, reply, code, (err as Error).message);
      }
      const authorizeUrl = new URL(await client.oauth.generateAuthorizationUri(request, reply));
      const nonce = randomBytes(16).toString("base64url");
      authorizeUrl.searchParams.set("nonce", nonce);
      const state = authorizeUrl.searchParams.get("state") ?? "";
      // The nonce and the return path travel in a signed cookie bound to this login's state.
      const flow = app.jwt.sign(
        { typ: "oidc", p: id, n: nonce, r: safeReturnTo(request.query.returnTo), s: hashOf(state) },
        { expiresIn: FLOW_SECONDS },
      );
      void reply.setCookie(flowCookie(id), flow, { ...cookieOptions, maxAge: FLOW_SECONDS });
      return reply.redirect(authorizeUrl.toString(), 302);
    },
  );

  r.get(
    "/api/auth/oidc/:provider/callback",
    {
      config: { access: "public", rateLimit: oidcRateLimit },
      schema: {
        params: ZProviderParams,
        querystring: z
          .object({ code: ZCallbackText, state: ZCallbackText, error: ZCallbackText, error_description: ZCallbackText })
          .passthrough(),
      },
    },
    async (request, reply) => {
      const id = request.params.provider;
      const from = { ip: request.ip, userAgent: request.headers["user-agent"] };
      const failed = async (code: TLoginErrorCode, reason: string) => {
        await auditOidcFailure(app.ctx, id, reason, code, from);
        return fail(request, reply, code, reason);
      };
      if (!app.oidc.find(id)) return fail(request, reply, "unknown_provider", `no provider ${id}`);
      const rawFlow = request.cookies[flowCookie(id)];
      void reply.clearCookie(flowCookie(id), cookieOptions);

      const { code, state, error } = request.query;
      if (error) return failed("provider_error", `the provider answered ${error}: ${request.query.error_description ?? ""}`);
      if (!code || !state) return failed("invalid_state", "the callback lacks code or state");

      let flow: { typ?: string; p?: string; n?: string; r?: string; s?: string } | undefined;
      try {
        flow = rawFlow ? app.jwt.verify<{ typ?: string; p?: string; n?: string; r?: string; s?: string }>(rawFlow) : undefined;
      } catch {
        flow = undefined;
      }
      if (flow?.typ !== "oidc" || flow.p !== id || !flow.n || flow.s !== hashOf(state)) {
        return failed("invalid_state", "no login was started in this browser with this state (or it took too long)");
      }

      try {
        const client = await app.oidc.client(id);
        let idToken: string;
        try {
          const token = await client.oauth.getAccessTokenFromAuthorizationCodeFlow(request, reply);
          idToken = String((token.token as { id_token?: unknown }).id_token ?? "");
        } catch (err) {
          throw exchangeError(err);
        }
        if (!idToken) throw new OidcError("invalid_id_token", "the provider sent no ID token (is the openid scope granted?)");
        const claims = await app.oidc.verifyIdToken(client, idToken, flow.n, app.ctx.now());
        const { loginSession } = await loginOidc(
          app.ctx,
          { provider: client.config, issuer: client.metadata.issuer, claims, idToken },
          from,
        );
        app.setLoginCookie(reply, loginSession.id);
        return reply.redirect(safeReturnTo(flow.r), 302);
      } catch (err) {
        if (err instanceof OidcLoginRefused) return fail(request, reply, err.code, err.message);
        if (err instanceof OidcError) return failed(err.code, err.message);
        request.log.error({ err }, "OIDC login failed unexpectedly");
        return failed("provider_error", "unexpected error (see the server log)");
      }
    },
  );
}

/** Sorts a failed code exchange: a bad state, a code the provider refused, or a provider out of reach. */
function exchangeError(err: unknown): OidcError {
  const e = err as Error & { isBoom?: boolean; output?: { statusCode?: number }; data?: { payload?: unknown }; code?: string };
  if (e.message === "Invalid state") return new OidcError("invalid_state", "the state does not match the one this browser started with");
  if (e.isBoom && e.output?.statusCode && e.output.statusCode < 500) {
    const payload = e.data?.payload as { error?: string; error_description?: string } | undefined;
    return new OidcError("code_rejected", `the provider refused the code: ${payload?.error ?? e.message} ${payload?.error_description ?? ""}`.trim());
  }
  return new OidcError("provider_unavailable", `the token endpoint could not be used: ${e.message}`);
}
