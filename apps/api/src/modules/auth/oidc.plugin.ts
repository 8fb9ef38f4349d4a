// Decorates `app.oidc`: the configured OpenID Providers (lazily discovered clients, ID token
// verification, provider logout URLs).
import type { FastifyInstance } from "fastify";
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
    // The tunnel plugin (when present) knows the public URL at request time (an ngrok URL).
    const publicUrl = () =>
      app.hasDecorator("publicUrl") ? (app as unknown as { publicUrl: () => string }).publicUrl() : publicUrlOf(config);
    app.decorate(
      "oidc",
      new OidcProviders(config.oidc, { publicUrl, secureCookies: (config.publicUrl ?? "").startsWith("https://") }),
    );
  },
  { name: "oidc", dependencies: ["database"] },
);
