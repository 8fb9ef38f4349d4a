// The configured OpenID Providers. Each one is discovered lazily (on its first login, not at
// start-up) so a provider that is down never keeps Postern from booting; a failed discovery is
// retried on the next login. The code exchange (with PKCE) runs through @fastify/oauth2; the ID
// token is verified here with jose against the provider's JWKS.
import Fastify, { type FastifyRequest } from "fastify";
import type { OAuth2Namespace } from "@fastify/oauth2";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import type { OidcProviderConfig } from "../../config";

/** The parts of the provider's discovery document Postern uses. */
export interface OidcMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  end_session_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
}

export interface OidcClient {
  config: OidcProviderConfig;
  metadata: OidcMetadata;
  oauth: OAuth2Namespace;
  jwks: ReturnType<typeof createRemoteJWKSet>;
}

/** A login that cannot go on; `code` is what `/login?error=<code>` shows. */
export class OidcError extends Error {
  constructor(
    readonly code:
      | "provider_unavailable"
      | "invalid_state"
      | "code_rejected"
      | "invalid_id_token"
      | "provider_error"
      | "unknown_provider",
    message: string,
  ) {
    super(message);
  }
}

const DISCOVERY_TIMEOUT_MS = 5000;
/** How long a failed discovery is remembered before the next login tries again. */
const RETRY_AFTER_FAILURE_MS = 2000;

export interface OidcOptions {
  /** The public base URL a request came in at (the ngrok URL for a tunnelled one). */
  publicUrl: (request: FastifyRequest) => string;
  secureCookies: boolean;
}

export function stateCookieName(id: string, secure: boolean) {
  return `${secure ? "__Host-" : ""}postern-oidc-${id}-state`;
}
export function verifierCookieName(id: string, secure: boolean) {
  return `${secure ? "__Host-" : ""}postern-oidc-${id}-verifier`;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

export class OidcProviders {
  private readonly clients = new Map<string, Promise<OidcClient>>();
  private readonly failedAt = new Map<string, number>();

  constructor(
    readonly configs: OidcProviderConfig[],
    private readonly options: OidcOptions,
  ) {}

  find(id: string): OidcProviderConfig | undefined {
    return this.configs.find((p) => p.id === id);
  }

  /** Where the provider sends the browser back: the address the login started at. */
  callbackUri(id: string, request: FastifyRequest): string {
    return `${trimSlash(this.options.publicUrl(request))}/api/auth/oidc/${id}/callback`;
  }

  /** The discovered client of a provider; throws OidcError("provider_unavailable") when it cannot be reached. */
  async client(id: string): Promise<OidcClient> {
    const config = this.find(id);
    if (!config) throw new OidcError("unknown_provider", `no OIDC provider "${id}" is configured`);
    const cached = this.clients.get(id);
    if (cached) return cached;
    const failed = this.failedAt.get(id);
    if (failed && Date.now() - failed < RETRY_AFTER_FAILURE_MS) {
      throw new OidcError("provider_unavailable", `the identity provider ${config.name} could not be reached`);
    }
    const pending = this.discover(config);
    this.clients.set(id, pending);
    pending.catch(() => {
      this.clients.delete(id);
      this.failedAt.set(id, Date.now());
    });
    return pending;
  }

  /** The client when discovery already succeeded, without waiting on the network. */
  async loadedClient(id: string): Promise<OidcClient | undefined> {
    const cached = this.clients.get(id);
    return cached ? cached.catch(() => undefined) : undefined;
  }

  private async discover(config: OidcProviderConfig): Promise<OidcClient> {
    const url = `${trimSlash(config.issuer)}/.well-known/openid-configuration`;
    let metadata: OidcMetadata;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS), headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      metadata = (await res.json()) as OidcMetadata;
    } catch (err) {
      throw new OidcError("provider_unavailable", `discovery at ${url} failed: ${(err as Error).message}`);
    }
    for (const field of ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
      if (typeof metadata[field] !== "string") {
        throw new OidcError("provider_unavailable", `discovery at ${url} lacks ${field}`);
      }
    }
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for (a trailing
    // slash aside, which Auth0 adds and people leave out of their configuration).
    if (trimSlash(metadata.issuer) !== trimSlash(config.issuer)) {
      throw new OidcError("provider_unavailable", `discovery at ${url} names issuer ${metadata.issuer}, not ${config.issuer}`);
    }

    const authorize = new URL(metadata.authorization_endpoint);
    const token = new URL(metadata.token_endpoint);
    // A private Fastify instance only holds the plugin's decoration: providers are discovered
    // after the app is ready, when the app itself can no longer register plugins.
    const holder = Fastify({ logger: false });
    // Loaded at the first discovery, not at start-up: it pulls in simple-oauth2 and joi, a tenth
    // of a second that a server without OIDC providers need not spend.
    const { default: oauth2 } = await import("@fastify/oauth2");
    await holder.register(oauth2, {
      name: "oidc",
      credentials: {
        client: { id: config.clientId, secret: config.clientSecret ?? "" },
        auth: {
          authorizeHost: authorize.origin,
          authorizePath: authorize.pathname,
          tokenHost: token.origin,
          tokenPath: token.pathname,
        },
        options: { authorizationMethod: config.clientSecret ? "header" : "body" },
        http: { timeout: DISCOVERY_TIMEOUT_MS },
      },
      scope: config.scopes.split(/\s+/).filter(Boolean),
      callbackUri: (request: FastifyRequest) => this.callbackUri(config.id, request),
      pkce: "S256",
      redirectStateCookieName: stateCookieName(config.id, this.options.secureCookies),
      verifierCookieName: verifierCookieName(config.id, this.options.secureCookies),
      cookie: { path: "/", sameSite: "lax", httpOnly: true, secure: this.options.secureCookies },
      userAgent: "postern",
    });
    await holder.ready();
    const oauth = (holder as unknown as { oidc: OAuth2Namespace }).oidc;
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: DISCOVERY_TIMEOUT_MS });
    return { config, metadata, oauth, jwks };
  }

  /**
   * Verifies an ID token: signature against the provider's JWKS, issuer, audience, expiry and
   * the nonce sent with this login.
   */
  async verifyIdToken(client: OidcClient, idToken: string, nonce: string, now: Date): Promise<JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, client.jwks, {
        issuer: client.metadata.issuer,
        audience: client.config.clientId,
        currentDate: now,
        clockTolerance: 30,
        requiredClaims: ["sub", "exp", "iat"],
      }));
    } catch (err) {
      throw new OidcError("invalid_id_token", `the ID token was refused: ${(err as Error).message}`);
    }
    if (payload.nonce !== nonce) throw new OidcError("invalid_id_token", "the ID token's nonce does not match this login");
    // With several audiences the token must have been issued to us (OIDC Core §3.1.3.7).
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== client.config.clientId) {
      throw new OidcError("invalid_id_token", "the ID token was issued to another party (azp)");
    }
    return payload;
  }

  /**
   * Where the browser goes to end the login at the provider too: the discovered
   * end_session_endpoint, or Auth0's /v2/logout when it does not advertise one.
   */
  async logoutUrl(id: string, idToken: string | null, request: FastifyRequest): Promise<string | undefined> {
    const config = this.find(id);
    if (!config) return undefined;
    let client: OidcClient | undefined;
    try {
      client = await this.client(id);
    } catch {
      return undefined;
    }
    const after = `${trimSlash(this.options.publicUrl(request))}/login`;
    if (client.metadata.end_session_endpoint) {
      const url = new URL(client.metadata.end_session_endpoint);
      url.searchParams.set("client_id", config.clientId);
      url.searchParams.set("post_logout_redirect_uri", after);
      if (idToken) url.searchParams.set("id_token_hint", idToken);
      return url.toString();
    }
    const issuer = new URL(client.metadata.issuer);
    if (issuer.hostname.endsWith(".auth0.com")) {
      const url = new URL("/v2/logout", issuer.origin);
      url.searchParams.set("client_id", config.clientId);
      url.searchParams.set("returnTo", after);
      return url.toString();
    }
    return undefined;
  }
}
