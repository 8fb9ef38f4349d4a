// API tokens: members manage their own personal tokens (only with scopes they hold), admins see
// and revoke every token and create service tokens that belong to no user. An API token itself
// may manage tokens only with the admin scope, and never mints one beyond its own scopes (and
// those they imply) or life, nor one that survives its revocation.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZCreatedToken, ZCreateTokenBody, ZIdParams, ZToken } from "@postern/contracts";
import { actorOf, isAdmin, requirePrincipal, requireUser, tokenAllows } from "../../plugins/auth";
import { forbidden } from "../../errors";
import { presentToken } from "./tokens.presenter";
import { assertGrantable, createApiToken, expiryForMintedToken, findApiTokens, revokeApiToken } from "./tokens.service";

const tokenRateLimit = { max: 30, timeWindow: "1 minute" };

export default async function tokensRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get("/api/tokens", { config: { access: "user", scope: "admin" }, schema: { response: { 200: z.array(ZToken) } } }, async (request) => {
    const principal = requirePrincipal(request);
    const rows = await findApiTokens(app.ctx, isAdmin(principal) ? null : requireUser(request).user.id);
    return rows.map(presentToken);
  });

  r.post(
    "/api/tokens",
    {
      config: { access: "user", scope: "admin", rateLimit: tokenRateLimit },
      schema: { body: ZCreateTokenBody, response: { 201: ZCreatedToken } },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const body = request.body;
      const maker = principal.token;
      let expiresAt = body.expiresAt ? new Date(body.expiresAt) : undefined;
      if (maker) {
        // A token that could create tokens of any life would outlive its own revocation.
        if (body.service) throw forbidden("an API token cannot create service tokens; an admin signed in creates them");
        expiresAt = expiryForMintedToken(maker, expiresAt);
      }
      let userId: string | null;
      if (body.service) {
        if (!isAdmin(principal)) throw forbidden("only admins can create service tokens");
        userId = null;
      } else {
        const { user } = requireUser(request);
        assertGrantable(user.role, body.scopes);
        userId = user.id;
      }
      const held = principal.scopes;
      if (held) {
        // What the token may do is what it may hand on: the check the auth plugin makes of its requests.
        const beyond = body.scopes.filter((s) => !tokenAllows(held, s));
        if (beyond.length > 0) throw forbidden(`this API token cannot grant the scope ${beyond.join(", ")} it does not hold`);
      }
      const { row, token } = await createApiToken(
        app.ctx,
        { actor: actorOf(principal), sourceIp: request.ip },
        { name: body.name, scopes: body.scopes, expiresAt, userId, mintedById: maker?.id },
      );
      return reply.code(201).send({ ...presentToken(row), token });
    },
  );

  r.delete(
    "/api/tokens/:id",
    { config: { access: "user", scope: "admin", rateLimit: tokenRateLimit }, schema: { params: ZIdParams, response: { 200: ZToken } } },
    async (request) => {
      const principal = requirePrincipal(request);
      const revoked = await revokeApiToken(app.ctx, { actor: actorOf(principal), sourceIp: request.ip }, request.params.id, isAdmin(principal));
      return presentToken(revoked);
    },
  );
}
