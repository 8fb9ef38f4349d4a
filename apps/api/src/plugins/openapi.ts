// The API description: OpenAPI 3.1 generated from the routes' zod contracts (@fastify/swagger
// with fastify-type-provider-zod's transform), served at /api/openapi.json, and a reference
// page at /api/docs (Swagger UI, served from its npm package, no CDN). Route files declare only
// their own request and success schemas; what every route shares is added here, by the route's
// `config.access` and `config.scope` and its shape: the error envelope for each error status it
// can answer, its authentication (login cookie, Bearer token with scopes, `x-access-tokens`),
// and a tag.
import type { FastifyInstance, RouteOptions } from "fastify";
import fp from "fastify-plugin";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZErrorBody } from "@postern/contracts";
import { CSRF_HEADER, SESSION_COOKIE, type Access } from "./auth";
import { POSTERN_VERSION } from "../version";

type JsonSchema = Record<string, unknown>;
type TransformInput = Parameters<typeof jsonSchemaTransform>[0];
type TransformOutput = ReturnType<typeof jsonSchemaTransform>;

/** Paths that default to "user" when a route does not say (as the auth plugin decides). */
const PROTECTED_PREFIXES = ["/api/", "/conn/", "/session/", "/service/"];
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Routes that take HTTP Basic credentials (username and password) for a token. */
const BASIC_ROUTES = new Set(["POST /api/auth/token", "POST /api/loginUser"]);

const errorBody = (() => {
  const { $schema: _draft, ...schema } = z.toJSONSchema(ZErrorBody, { target: "draft-2020-12" }) as JsonSchema;
  return schema;
})();

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Bad input: the message and `details` name the field",
  401: "Not logged in, or the token is unknown, expired or revoked",
  403: "Not allowed: an admin route, a token without the scope, or a cookie change without the CSRF header",
  404: "No such resource (or not visible to the caller)",
  409: "Conflict: names the holder of an exclusive service, or the value already taken",
  413: "The body is larger than the limit",
  429: "Too many requests: wait for `Retry-After` seconds",
  500: "An unexpected failure; the server log has the details",
  503: "A dependency (the database, SMTP) is down, or the server is shutting down",
};

/** Which error statuses a route can answer, from how it is declared. */
export function errorStatusesOf(route: { method: string; url: string; access: Access; hasInput: boolean; rateLimited: boolean }): number[] {
  const statuses = [500, 503];
  const writes = !SAFE_METHODS.has(route.method);
  if (route.hasInput || writes) statuses.push(400);
  if (route.access !== "public" || BASIC_ROUTES.has(`${route.method} ${route.url}`)) statuses.push(401, 403);
  if (route.url.includes(":")) statuses.push(404);
  if (writes && route.access !== "public") statuses.push(409);
  if (writes) statuses.push(413);
  if (route.rateLimited) statuses.push(429);
  return statuses.sort((a, b) => a - b);
}

export function accessOf(route: { url: string; config?: { access?: Access } }): Access {
  return route.config?.access ?? (PROTECTED_PREFIXES.some((p) => route.url.startsWith(p)) ? "user" : "public");
}

function tagOf(url: string): string {
  if (["/healthz", "/readyz", "/metrics"].includes(url)) return "operations";
  if (/^\/(conn|session|service)\//.test(url) || ["/api/loginUser", "/api/test", "/api/placeMessage"].includes(url)) return "compatibility";
  const segment = /^\/api\/([^/]+)/.exec(url)?.[1] ?? "other";
  if (segment === "me") return "auth";
  if (segment === "groups") return "users";
  if (segment === "messages") return "relay";
  if (segment === "agent" || segment === "agents") return "gateway";
  if (segment === "services" && /\/(sessions|waitlist)$/.test(url)) return "sessions";
  return segment;
}

/** The security requirement of a route: who may call it and with which token scope. */
function securityOf(route: RouteOptions, access: Access): Record<string, string[]>[] {
  if (BASIC_ROUTES.has(`${String(route.method)} ${route.url}`)) return [{ basic: [] }];
  if (access === "public") return [];
  if (access === "login") return [{ cookie: [] }, { bearer: [] }];
  const configured = route.config?.scope;
  const method = [route.method].flat()[0] ?? "GET";
  const scope = configured ?? (access === "admin" ? "admin" : SAFE_METHODS.has(method) ? "sessions:read" : "sessions:write");
  const scopes = scope === "any" ? [] : [scope];
  return [{ cookie: [] }, { bearer: scopes }, { accessToken: scopes }];
}

/** fastify-type-provider-zod's transform, then what every route shares. */
function transform(input: TransformInput): TransformOutput {
  const route = input.route;
  const url = input.url;
  // The SPA's files and the reference page's own assets are not the API.
  if (url === "/*" || url.startsWith("/api/docs")) return { schema: { hide: true } as TransformOutput["schema"], url };
  // @fastify/websocket hides its routes; the live board and the agent channel are API too.
  const websocket = Boolean((route as { websocket?: boolean }).websocket);
  const visible = websocket ? { ...input, schema: { ...input.schema, hide: false } } : input;
  const out = jsonSchemaTransform(visible);
  const schema = (out.schema ?? {}) as JsonSchema & { response?: Record<string, JsonSchema> };
  const method = [route.method].flat()[0] ?? "GET";
  const access = accessOf({ url, config: route.config });
  const source = (route.schema ?? {}) as JsonSchema;
  const hasInput = Boolean(source.body ?? source.querystring ?? source.params);
  const config = route.config as { rateLimit?: unknown; rateLimited?: boolean } | undefined;
  const rateLimited = Boolean(config?.rateLimit || config?.rateLimited);
  const response: Record<string, JsonSchema> = { ...(schema.response ?? {}) };
  if (websocket) {
    response["101"] ??= { description: "Switching Protocols: the websocket (JSON messages, see the README's protocol)" };
  } else if (!Object.keys(response).some((code) => /^2/.test(code))) {
    response["2xx"] = { description: "Success (this route declares no body schema: an empty body, a file or a redirect)" };
  }
  for (const status of errorStatusesOf({ method, url, access, hasInput, rateLimited })) {
    response[String(status)] ??= { ...errorBody, description: ERROR_DESCRIPTIONS[status] };
  }
  const security = securityOf(route, access);
  const extra: JsonSchema = {
    tags: (schema.tags as string[] | undefined) ?? [tagOf(url)],
    security,
    response,
  };
  if (access === "admin") extra.description = [schema.description, "Admins only."].filter(Boolean).join(" ");
  if (access === "login") {
    extra.description = [schema.description, "Signed in only: the cookie, or the bearer POST /api/auth/token returns; never an API token."].filter(Boolean).join(" ");
  }
  return { schema: { ...schema, ...extra } as TransformOutput["schema"], url: out.url };
}

export default fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "Postern API",
          version: POSTERN_VERSION,
          description:
            "Postern's API, generated from its zod contracts. Errors are always `{ error: { code, message, details? } }`. " +
            `Browsers use the login cookie; changes made with it need the header \`${CSRF_HEADER}: 1\`. ` +
            "Scripts use an API token as `Authorization: Bearer <token>` or `x-access-tokens: <token>`; a token needs the scope a route names.",
        },
        components: {
          securitySchemes: {
            cookie: { type: "apiKey", in: "cookie", name: SESSION_COOKIE, description: `The login cookie (POST /api/auth/login); changes also need \`${CSRF_HEADER}: 1\`.` },
            bearer: { type: "http", scheme: "bearer", description: "An API token (pst_…, scopes as listed per route), or the one-hour token POST /api/auth/token returns." },
            accessToken: { type: "apiKey", in: "header", name: "x-access-tokens", description: "An API token, as the older tools sent it." },
            basic: { type: "http", scheme: "basic", description: "A local account's username and password." },
          },
        },
      },
      transform,
      transformObject: jsonSchemaTransformObject,
    });

    // The description and its reference page are public, whatever their /api/ prefix says.
    await app.register(async (docs) => {
      docs.addHook("onRoute", (route) => {
        route.config = { ...route.config, access: "public" };
        route.logLevel = "warn";
      });
      docs.get("/api/openapi.json", { schema: { hide: true } }, async () => app.swagger());
      await docs.register(swaggerUi, {
        routePrefix: "/api/docs",
        uiConfig: { url: "/api/openapi.json", docExpansion: "list", deepLinking: true },
      });
    });
  },
  { name: "openapi", dependencies: ["auth"] },
);
