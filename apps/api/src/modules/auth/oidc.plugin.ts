// Decorates `app.oidc`: the configured OpenID Providers (lazily discovered clients, ID token
// verification, provider logout URLs).
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { publicUrlOf } from "../../config";
import { OidcProviders } from "./oidc.providers";

declare module "fastify" {
  interface FastifyInstance {
    oidc: OidcProviders;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const config = app.config;
    // The tunnel plugin (when present) knows the URL a request came in at (an ngrok URL for a
    // tunnelled one): the browser must come back there, where its login's cookies are.
    const publicUrl = (request: FastifyRequest) => (app.hasDecorator("publicUrlFor") ? app.publicUrlFor(request) : publicUrlOf(config));
    app.decorate(
      "oidc",
      new OidcProviders(config.oidc, { publicUrl, secureCookies: (config.publicUrl ?? "").startsWith("https://") }),
    );
  },
  { name: "oidc", dependencies: ["database"] },
);
