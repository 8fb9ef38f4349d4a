// A real OpenID Provider (panva's certified oidc-provider) on 127.0.0.1:<random port> for tests.
// Its login and consent interactions are automatic: they log in as `nextAccount` and grant what
// was asked, so a test drives the whole authorization-code flow over plain HTTP redirects.
// `tamper` re-signs the ID token that the real token endpoint returns (with the provider's own
// key, or a foreign one), to check that Postern refuses a token for another audience, an expired
// one, one with the wrong nonce or a bad signature.
import http from "node:http";
import net from "node:net";
import Provider, { type Configuration } from "oidc-provider";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";

export interface TestAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  /** Extra claims put into the ID token (e.g. a groups claim). */
  extra?: Record<string, unknown>;
}

export type Tamper = "audience" | "expired" | "nonce" | "signature" | null;

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The account the next login interaction signs in as. */
  nextAccount: TestAccount;
  tamper: Tamper;
  /** How many times the token endpoint was called. */
  tokenRequests: number;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** RSA keys are slow to generate on a small machine: one pair per test process is enough. */
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
let keys: Promise<{ privateKey: PrivateKey; foreign: PrivateKey }> | undefined;
function testKeys() {
  keys ??= (async () => ({
    privateKey: (await generateKeyPair("RS256", { extractable: true })).privateKey,
    foreign: (await generateKeyPair("RS256", { extractable: true })).privateKey,
  }))();
  return keys;
}

export async function startOidcProvider(options: {
  /** Postern's public URL: the client's redirect and post-logout URIs derive from it. */
  postern: string;
  /** Postern's id for this provider (the callback path). */
  id: string;
  clientId?: string;
  /** Claim names (beyond the standard ones) the ID token may carry. */
  extraClaims?: string[];
  /** A fixed port (when Postern was configured with the issuer before the provider started). */
  port?: number;
}): Promise<TestOidcProvider> {
  let handler: http.RequestListener = (_req, res) => res.end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  const { privateKey, foreign } = await testKeys();
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: "test-key", alg: "RS256", use: "sig" };

  const fixture: TestOidcProvider = {
    issuer,
    clientId: options.clientId ?? `postern-${options.id}`,
    clientSecret: `secret-${options.id}-0123456789abcdef`,
    nextAccount: { sub: "alice" },
    tamper: null,
    tokenRequests: 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  const extraClaims = options.extraClaims ?? [];
  const configuration: Configuration = {
    clients: [
      {
        client_id: fixture.clientId,
        client_secret: fixture.clientSecret,
        redirect_uris: [`${options.postern}/api/auth/oidc/${options.id}/callback`],
        post_logout_redirect_uris: [`${options.postern}/login`],
        response_types: ["code"],
        grant_types: ["authorization_code"],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ["test-cookie-key-0123456789"] },
    claims: {
      openid: ["sub", ...extraClaims],
      email: ["email", "email_verified"],
      profile: ["name", "preferred_username"],
    },
    // The claims go into the ID token (as Auth0 and Keycloak do), not only to userinfo.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, id) => {
      const account: TestAccount = fixture.nextAccount.sub === id ? fixture.nextAccount : { sub: id };
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: account.email,
          email_verified: account.email_verified,
          name: account.name,
          preferred_username: account.preferred_username,
          ...account.extra,
        }),
      };
    },
  };
  const provider = new Provider(issuer, configuration);

  // The automatic login and consent screens.
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith("/interaction/")) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    let result: Record<string, unknown>;
    if (details.prompt.name === "login") {
      result = { login: { accountId: fixture.nextAccount.sub } };
    } else {
      const accountId = details.session?.accountId ?? fixture.nextAccount.sub;
      const grant = details.grantId
        ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId: String(details.params.client_id) }))
        : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    }
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  // Re-signs the real token endpoint's ID token when a test asks for a bad one.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== "/token") return;
    fixture.tokenRequests += 1;
    const body = ctx.body as { id_token?: string } | undefined;
    if (!fixture.tamper || !body?.id_token) return;
    const claims: JWTPayload = decodeJwt(body.id_token);
    const now = Math.floor(Date.now() / 1000);
    if (fixture.tamper === "audience") claims.aud = "someone-else";
    if (fixture.tamper === "expired") Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
    if (fixture.tamper === "nonce") claims.nonce = "not-the-nonce-postern-sent";
    const key = fixture.tamper === "signature" ? foreign : privateKey;
    ctx.body = { ...body, id_token: await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "test-key" }).sign(key) };
  });

  handler = provider.callback();
  return fixture;
}
