// What `postern doctor` checks: the configuration, then everything it points at (database and
// its migrations, SMTP, each OIDC issuer, the tunnel, the directories Postern writes to). Each
// check answers within a few seconds, so a dead dependency cannot hang the report.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { openDatabase, redactUrl, shippedMigrations, sqliteFileOf, sqliteFilesOf, type OpenDatabase } from "@postern/db";
import { loadConfig, publicUrlOf, readSecretFile, secretFileOf, type Config, type OidcProviderConfig } from "../config";
import { relaySettingsOf } from "../modules/relay/relay.settings";
import { writeProblem } from "../lib/writable-dir";

export type Mark = "ok" | "fail" | "warn" | "skip";

export interface CheckResult {
  mark: Mark;
  /** What was checked, e.g. "database", "OIDC keycloak". */
  name: string;
  detail: string;
}

/** Every network probe gives up after this long. */
export const PROBE_TIMEOUT_MS = 5_000;

/** Where ngrok agents dial their session (the library's default server). */
const NGROK_SERVER = { host: "connect.ngrok-agent.com", port: 443 };

function withTimeout<T>(promise: Promise<T>, what: string, ms = PROBE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function reasonOf(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const text = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  // Prisma wraps the driver's words in several lines: "… Message: `Can't reach database server …`".
  const prisma = /Message: `([^`]+)`/.exec(text);
  if (prisma?.[1]) return prisma[1];
  return text.split("\n").find((line) => line.trim() !== "")?.trim() ?? String(err);
}

export function checkConfig(env: NodeJS.ProcessEnv, configFile?: string): { config?: Config; result: CheckResult } {
  try {
    const config = loadConfig(env, configFile);
    const source = configFile ?? env.POSTERN_CONFIG ?? (fs.existsSync("postern.yaml") ? "postern.yaml" : undefined);
    return { config, result: { mark: "ok", name: "configuration", detail: `valid (${source ? `environment + ${source}` : "environment only"})` } };
  } catch (err) {
    return { result: { mark: "fail", name: "configuration", detail: (err as Error).message } };
  }
}

export async function checkDatabase(config: Config): Promise<CheckResult[]> {
  const shown = redactUrl(config.databaseUrl);
  // Opening a SQLite URL creates the file: a misspelt path would get an empty database.
  const file = config.databaseUrl.startsWith("file:") ? sqliteFileOf(config.databaseUrl) : undefined;
  if (file && !fs.existsSync(file)) {
    // The embedded default before the first start is a new install, not a mistake; a path set by
    // hand that names nothing is most likely a typo.
    const fresh = path.resolve(file) === path.resolve(config.dataDir, "postern.db");
    return [
      fresh
        ? { mark: "warn", name: "database", detail: `none yet at ${file}; \`postern serve\` (or \`postern migrate\`) creates it` }
        : { mark: "fail", name: "database", detail: `no database at ${file}; \`postern migrate\` creates it` },
      { mark: "skip", name: "migrations", detail: "not checked: no database" },
    ];
  }
  let database: OpenDatabase | undefined;
  try {
    database = await withTimeout(openDatabase(config.databaseUrl, { poolSize: 1 }), "connect");
    await withTimeout(database.db.$queryRawUnsafe("SELECT 1"), "SELECT 1");
  } catch (err) {
    await database?.close().catch(() => undefined);
    return [
      { mark: "fail", name: "database", detail: `${shown}: ${reasonOf(err)}` },
      { mark: "skip", name: "migrations", detail: "not checked: no database" },
    ];
  }
  const results: CheckResult[] = [{ mark: "ok", name: "database", detail: `${shown} answers (${database.provider})` }];
  try {
    const shipped = shippedMigrations(database.provider);
    let rows: { migration_name: string; finished_at: unknown; rolled_back_at: unknown }[] = [];
    try {
      rows = await withTimeout(
        database.db.$queryRawUnsafe(`SELECT "migration_name", "finished_at", "rolled_back_at" FROM "_prisma_migrations"`),
        "read migrations",
      );
    } catch {
      rows = []; // no table yet: a database nothing was applied to
    }
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.migration_name);
    const applied = new Set(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => r.migration_name));
    const pending = shipped.filter((m) => !applied.has(m));
    const unknown = [...applied].filter((m) => !shipped.includes(m));
    if (failed.length > 0) {
      results.push({ mark: "fail", name: "migrations", detail: `failed: ${failed.join(", ")}; see prisma migrate resolve` });
    } else if (pending.length > 0) {
      results.push({
        mark: "warn",
        name: "migrations",
        detail: `${pending.length} of ${shipped.length} pending (${pending.join(", ")}); \`postern serve\` applies them at start, or run \`postern migrate\``,
      });
    } else {
      results.push({ mark: "ok", name: "migrations", detail: `all ${shipped.length} applied` });
    }
    if (unknown.length > 0) {
      results.push({ mark: "warn", name: "migrations", detail: `the database has migrations this build does not know (${unknown.join(", ")}): is this build older than the database?` });
    }
  } catch (err) {
    results.push({ mark: "fail", name: "migrations", detail: reasonOf(err) });
  } finally {
    await database.close().catch(() => undefined);
  }
  return results;
}

export async function checkSmtp(config: Config): Promise<CheckResult[]> {
  const relay = relaySettingsOf(config);
  if (!config.smtpUrl) return [{ mark: "skip", name: "SMTP", detail: "not configured (SMTP_URL): the relay is off" }];
  const shown = redactUrl(config.smtpUrl);
  const results: CheckResult[] = [];
  const { default: nodemailer } = await import("nodemailer");
  const transport = nodemailer.createTransport({
    url: config.smtpUrl,
    connectionTimeout: PROBE_TIMEOUT_MS,
    greetingTimeout: PROBE_TIMEOUT_MS,
    socketTimeout: PROBE_TIMEOUT_MS,
  });
  try {
    await withTimeout(transport.verify(), "SMTP", PROBE_TIMEOUT_MS * 2);
    results.push({ mark: "ok", name: "SMTP", detail: `${shown} accepts a session (connect, EHLO${/@/.test(config.smtpUrl) ? ", login" : ""})` });
  } catch (err) {
    results.push({ mark: "fail", name: "SMTP", detail: `${shown}: ${reasonOf(err)}` });
  } finally {
    transport.close();
  }
  if (!relay.enabled) results.push({ mark: "warn", name: "relay", detail: relay.reason });
  return results;
}

/** The environment prefix of a provider's settings, for messages that say what to change. */
function oidcSetting(id: string, key: string): string {
  return `POSTERN_OIDC_${id.toUpperCase().replace(/-/g, "_")}_${key}`;
}

/** What discovery documents look like at the providers people use, for a wrong issuer. */
const ISSUER_EXAMPLES =
  "Keycloak https://<host>/realms/<realm>, Entra ID https://login.microsoftonline.com/<tenant id>/v2.0, " +
  "Authentik https://<host>/application/o/<slug>/, Auth0 https://<tenant>.auth0.com/, Google https://accounts.google.com";

/** What an error page (JSON or HTML) says about the request: its OAuth error, else the sentence about it. */
function pageReason(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    if (typeof json.error === "string") return typeof json.error_description === "string" ? `${json.error}: ${json.error_description}` : json.error;
  } catch {
    // an HTML page
  }
  const text = body
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&")
    .replace(/&[a-z]+;|&#\d+;/gi, " ")
    .replace(/\s+/g, " ")
    .trim();
  // Pages that list the OAuth error as "error: … error_description: …" (oidc-provider, Keycloak's logs).
  const field = (key: string) => new RegExp(`\\b${key}\\s*:\\s*(.+?)(?=\\s+[a-z_]+\\s*:|$)`, "i").exec(text)?.[1]?.trim();
  const error = field("error");
  const description = field("error_description");
  const about = error
    ? `${error}${description ? `: ${description}` : ""}`
    : (/[^.]*\b(redirect|callback|client|invalid|mismatch|AADSTS\d+)\b[^.]*\.?/i.exec(text)?.[0]?.trim() ?? text);
  return about.length > 200 ? `${about.slice(0, 197)}…` : about;
}

/** An error page served with 200 (Entra ID does) that refuses the redirect URI or the client. */
const REFUSAL = /AADSTS\d+|redirect_uri_mismatch|invalid_redirect_uri|invalid parameter: redirect_uri|callback url mismatch|redirect uri error|invalid_client|unauthorized_client|client not found/i;

/**
 * Asks the provider's authorization endpoint what Postern would ask at a login (code flow,
 * PKCE, this redirect URI) without following it: providers check the client and the redirect
 * URI before they show their login page, and say so when they refuse.
 */
async function probeRedirect(provider: OidcProviderConfig, doc: Record<string, unknown>, redirectUri: string): Promise<CheckResult> {
  const name = `OIDC ${provider.id}`;
  const register = `register ${redirectUri} as an allowed redirect (callback) URI of client ${provider.clientId} at the provider, or set POSTERN_PUBLIC_URL to the URL registered there`;
  const url = new URL(String(doc.authorization_endpoint));
  const verifier = randomBytes(32).toString("base64url");
  const params = {
    response_type: "code",
    client_id: provider.clientId,
    redirect_uri: redirectUri,
    scope: provider.scopes,
    state: randomBytes(16).toString("base64url"),
    nonce: randomBytes(16).toString("base64url"),
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  try {
    const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), headers: { accept: "text/html" } });
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url);
      const error = next.searchParams.get("error");
      if (error) {
        const description = next.searchParams.get("error_description");
        return { mark: "fail", name, detail: `redirect ${redirectUri} refused: ${error}${description ? ` (${description})` : ""}; ${register}` };
      }
      return { mark: "ok", name, detail: `redirect ${redirectUri} accepted (the provider went on to its login)` };
    }
    const body = await res.text();
    if (res.status >= 400 || REFUSAL.test(pageReason(body))) {
      return { mark: "fail", name, detail: `redirect ${redirectUri} refused (HTTP ${res.status}: ${pageReason(body) || "no reason given"}); ${register}` };
    }
    return { mark: "ok", name, detail: `redirect ${redirectUri} accepted (the provider showed its login page)` };
  } catch (err) {
    return { mark: "fail", name, detail: `redirect ${redirectUri} not checked: the authorization endpoint ${url.origin}${url.pathname} did not answer (${reasonOf(err)})` };
  }
}

/** Each provider: its discovery document (and what to fix when it is wrong), then its redirect URI. */
async function checkOidcProvider(config: Config, provider: OidcProviderConfig): Promise<CheckResult[]> {
  const name = `OIDC ${provider.id}`;
  const issuerSetting = oidcSetting(provider.id, "ISSUER");
  const url = `${provider.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  let doc: Record<string, unknown>;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), headers: { accept: "application/json" } });
    if (!res.ok) {
      return [
        {
          mark: "fail",
          name,
          detail: `${url} answered ${res.status}: no discovery document there; ${issuerSetting} must be the issuer URL itself (e.g. ${ISSUER_EXAMPLES})`,
        },
      ];
    }
    try {
      doc = (await res.json()) as Record<string, unknown>;
    } catch {
      return [{ mark: "fail", name, detail: `${url} is not a JSON discovery document; ${issuerSetting} must be the issuer URL (e.g. ${ISSUER_EXAMPLES})` }];
    }
  } catch (err) {
    return [{ mark: "fail", name, detail: `${url}: ${reasonOf(err)}; check ${issuerSetting} and that this machine can reach that host (DNS, firewall, proxy)` }];
  }
  const missing = ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"].filter((k) => typeof doc[k] !== "string");
  if (missing.length > 0) return [{ mark: "fail", name, detail: `${url} lacks ${missing.join(", ")}: is ${issuerSetting} an OpenID Connect issuer?` }];
  if (String(doc.issuer).replace(/\/+$/, "") !== provider.issuer.replace(/\/+$/, "")) {
    return [{ mark: "fail", name, detail: `the discovery document names issuer ${String(doc.issuer)}, not ${provider.issuer}: set ${issuerSetting}=${String(doc.issuer)}` }];
  }
  const logout = typeof doc.end_session_endpoint === "string" ? "logout at the provider too" : "no end_session_endpoint: logout ends the Postern login only";
  const results: CheckResult[] = [{ mark: "ok", name, detail: `${provider.issuer}: discovery ok (${logout})` }];

  const list = (key: string) => (Array.isArray(doc[key]) ? (doc[key] as unknown[]).map(String) : undefined);
  const authMethods = list("token_endpoint_auth_methods_supported");
  const wanted = provider.clientSecret ? "client_secret_basic" : "none";
  if (authMethods && !authMethods.includes(wanted)) {
    results.push({
      mark: "warn",
      name,
      detail: provider.clientSecret
        ? `the token endpoint does not list client_secret_basic (it lists ${authMethods.join(", ")}), which Postern uses with a client secret`
        : `no ${oidcSetting(provider.id, "CLIENT_SECRET")}: the provider must accept a public client (it lists ${authMethods.join(", ")})`,
    });
  }
  const pkce = list("code_challenge_methods_supported");
  if (pkce && !pkce.includes("S256")) results.push({ mark: "warn", name, detail: `the provider does not list PKCE S256 (${pkce.join(", ")}), which Postern sends` });
  const scopes = list("scopes_supported");
  const unknownScopes = scopes ? provider.scopes.split(/\s+/).filter((s) => s && !scopes.includes(s)) : [];
  if (unknownScopes.length > 0) {
    results.push({ mark: "warn", name, detail: `scope${unknownScopes.length > 1 ? "s" : ""} ${unknownScopes.join(", ")} not listed by the provider (${oidcSetting(provider.id, "SCOPES")})` });
  }
  // A namespaced claim (Auth0's https://…) is never listed; a plain name that is missing may be a typo.
  const claims = list("claims_supported");
  if (provider.groupsClaim && claims && !/^https?:\/\//.test(provider.groupsClaim) && !claims.includes(provider.groupsClaim)) {
    results.push({
      mark: "warn",
      name,
      detail: `the groups claim "${provider.groupsClaim}" is not among the claims the provider lists; without it in the ID token memberships stay as they are (${oidcSetting(provider.id, "GROUPS_CLAIM")})`,
    });
  }

  const publicUrl = config.publicUrl ?? (config.tunnel === "ngrok" ? undefined : publicUrlOf(config));
  if (!publicUrl) {
    results.push({ mark: "skip", name, detail: "redirect not checked: it depends on the ngrok URL (set POSTERN_PUBLIC_URL or POSTERN_NGROK_DOMAIN for a fixed one)" });
    return results;
  }
  const redirectUri = `${publicUrl.replace(/\/+$/, "")}/api/auth/oidc/${provider.id}/callback`;
  results.push(await probeRedirect(provider, doc, redirectUri));
  const host = new URL(redirectUri).hostname;
  if (redirectUri.startsWith("http://") && !["localhost", "127.0.0.1", "[::1]"].includes(host)) {
    results.push({ mark: "warn", name, detail: `the redirect URI is plain http: most providers accept only https (or localhost); set POSTERN_PUBLIC_URL to the https URL users reach` });
  }
  return results;
}

export async function checkOidc(config: Config): Promise<CheckResult[]> {
  if (config.oidc.length === 0) return [{ mark: "skip", name: "OIDC", detail: "no providers configured (local accounts only)" }];
  return (await Promise.all(config.oidc.map((provider) => checkOidcProvider(config, provider)))).flat();
}

function tcpProbe(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)));
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

export async function checkTunnel(config: Config): Promise<CheckResult[]> {
  if (config.tunnel !== "ngrok" && !config.ngrokAuthtoken) {
    return [{ mark: "skip", name: "tunnel", detail: "off (POSTERN_TUNNEL=ngrok and NGROK_AUTHTOKEN open one at start)" }];
  }
  const setup = `ngrok, ${config.tunnel === "ngrok" ? "opened at start" : "opened on demand"}, authtoken set${config.ngrokDomain ? `, domain ${config.ngrokDomain}` : ""}`;
  const results: CheckResult[] = [{ mark: "ok", name: "tunnel", detail: setup }];
  // Reachability only: opening a real tunnel here could collide with the running server's.
  const [host, port] = config.ngrokServerAddr ? config.ngrokServerAddr.split(":") : [NGROK_SERVER.host, String(NGROK_SERVER.port)];
  const server = { host: host!, port: Number(port) };
  try {
    await tcpProbe(server.host, server.port);
    results.push({ mark: "ok", name: "tunnel", detail: `${server.host}:${server.port} reachable (the authtoken is checked when the tunnel opens)` });
  } catch (err) {
    results.push({
      mark: config.tunnel === "ngrok" ? "fail" : "warn",
      name: "tunnel",
      detail: `cannot reach ngrok (${server.host}:${server.port}: ${reasonOf(err)}); Postern would serve locally only`,
    });
  }
  return results;
}

/** Other users of the machine must not read the database (password hashes, ID tokens), the secret
 * or the audit files. */
export function checkFileModes(config: Config): CheckResult[] {
  const paths: { file: string; wanted: number }[] = [];
  if (fs.existsSync(config.dataDir)) paths.push({ file: config.dataDir, wanted: 0o700 });
  if (config.databaseUrl.startsWith("file:")) {
    const db = sqliteFileOf(config.databaseUrl);
    if (path.dirname(db) !== path.resolve(config.dataDir) && fs.existsSync(path.dirname(db))) paths.push({ file: path.dirname(db), wanted: 0o700 });
    for (const file of sqliteFilesOf(db)) if (fs.existsSync(file)) paths.push({ file, wanted: 0o600 });
  }
  const secretFile = path.join(config.dataDir, "secret");
  if (fs.existsSync(secretFile)) paths.push({ file: secretFile, wanted: 0o600 });
  // The weekly audit files: every username, address and reason of the trail.
  if (config.auditExportDir && fs.existsSync(config.auditExportDir)) paths.push({ file: config.auditExportDir, wanted: 0o700 });
  const wide = paths.flatMap(({ file, wanted }) => {
    const mode = fs.statSync(file).mode & 0o777;
    return (mode & 0o077) !== 0 ? [`${file} is ${mode.toString(8).padStart(4, "0")} (chmod ${wanted.toString(8)})`] : [];
  });
  if (paths.length === 0) return [];
  return wide.length > 0
    ? [{ mark: "warn", name: "file modes", detail: `others on this machine can read Postern's data: ${wide.join("; ")}` }]
    : [{ mark: "ok", name: "file modes", detail: "the data directory, database and audit files are owner-only" }];
}

/** A directory Postern writes to, checked without creating it (doctor changes nothing). */
function checkWritable(name: string, dir: string): CheckResult {
  const existed = fs.existsSync(dir);
  const problem = writeProblem(dir, { create: false });
  if (problem) return { mark: "fail", name, detail: problem };
  return { mark: "ok", name, detail: existed ? `${dir} is writable` : `${dir} does not exist yet; \`postern serve\` creates it` };
}

/** The generated secret `serve` would sign with, when POSTERN_SECRET is not set. */
export function checkSecret(config: Config): CheckResult[] {
  if (config.secret) return [];
  const file = secretFileOf(config);
  if (!fs.existsSync(file)) return [{ mark: "ok", name: "secret", detail: `none yet; \`postern serve\` generates one into ${file}` }];
  try {
    readSecretFile(file);
    return [{ mark: "ok", name: "secret", detail: `generated, in ${file}` }];
  } catch (err) {
    return [{ mark: "fail", name: "secret", detail: (err as Error).message }];
  }
}

export function checkDirectories(config: Config): CheckResult[] {
  const results: CheckResult[] = [];
  if (config.databaseUrl.startsWith("file:") || !config.secret) results.push(checkWritable("data directory", config.dataDir));
  results.push(...checkSecret(config), ...checkFileModes(config));
  if (config.auditExportDir) results.push(checkWritable("audit export", config.auditExportDir));
  return results;
}

export function describeUrls(config: Config): CheckResult[] {
  const publicUrl = config.publicUrl ?? (config.tunnel === "ngrok" ? "the ngrok URL once the tunnel is open" : publicUrlOf(config));
  return [
    { mark: "ok", name: "listen", detail: `${config.host}:${config.port}` },
    {
      mark: config.publicUrl || config.tunnel === "ngrok" ? "ok" : "warn",
      name: "public URL",
      detail: config.publicUrl || config.tunnel === "ngrok" ? publicUrl : `${publicUrl} (set POSTERN_PUBLIC_URL when users reach Postern elsewhere)`,
    },
  ];
}

/** Runs every check; the configuration first, because the rest need it. */
export async function runDoctor(env: NodeJS.ProcessEnv, configFile?: string): Promise<CheckResult[]> {
  const { config, result } = checkConfig(env, configFile);
  if (!config) return [result];
  const [database, smtp, oidc, tunnel] = await Promise.all([checkDatabase(config), checkSmtp(config), checkOidc(config), checkTunnel(config)]);
  return [result, ...describeUrls(config), ...checkDirectories(config), ...database, ...smtp, ...oidc, ...tunnel];
}
