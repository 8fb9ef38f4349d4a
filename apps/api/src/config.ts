// Postern's configuration: environment variables first, then postern.yaml (same keys in lower
// case), then defaults. Parsed once at start-up; nothing else reads process.env.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { z } from "zod";
import { ConfigError, oidcVarsOf, readConfigFile, type OidcSetting, type Source } from "./config-file";

export { ConfigError } from "./config-file";

const ZBool = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"])])
  .transform((v) => v === true || v === "true" || v === "1" || v === "yes");

/** A whole number: from YAML as a number, from the environment as digits only (`Number(" ")` is 0
 * and `Number("0x1F90")` is 8080, which a coercion would have taken silently). */
const whole = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.union([z.number(), z.string().trim().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().min(min).max(max));

const ZPort = whole(0, 65535);

/** What `POSTERN_TRUST_PROXY` accepts: true/false, a hop count, or addresses, CIDRs and proxy-addr's names. */
function isTrustProxy(value: string): boolean {
  if (/^(true|false|\d+)$/.test(value)) return true;
  return value.split(",").every((part) => {
    const entry = part.trim();
    if (["loopback", "linklocal", "uniquelocal"].includes(entry)) return true;
    const [address, bits, extra] = entry.split("/");
    if (extra !== undefined || !address || net.isIP(address) === 0) return false;
    if (bits === undefined) return true;
    return /^\d+$/.test(bits) && Number(bits) <= (net.isIPv4(address) ? 32 : 128);
  });
}

const ZOidcProvider = z.object({
  id: z.string().regex(/^[a-z0-9_-]+$/),
  issuer: z.url(),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional(),
  name: z.string().min(1),
  groupsClaim: z.string().min(1).optional(),
  allowSignup: z.boolean(),
  /** Link a first login to an existing user with the same e-mail, when the provider says it is verified. */
  linkByEmail: z.boolean().default(false),
  /** The scopes asked for at the provider. */
  scopes: z.string().regex(/(^|\s)openid(\s|$)/, "a space-separated list that includes openid").default("openid profile email"),
});
export type OidcProviderConfig = z.infer<typeof ZOidcProvider>;

const ZConfig = z.object({
  port: ZPort.default(8080),
  host: z.string().min(1).default("0.0.0.0"),
  dataDir: z.string().min(1).default("./data"),
  databaseUrl: z
    .string()
    .regex(/^(file:|postgres(ql)?:\/\/)/, "a file: URL (SQLite) or a postgres:// URL")
    .optional(),
  secret: z.string().min(32, "at least 32 characters").optional(),
  publicUrl: z
    .url()
    .refine((u) => /^https?:\/\//.test(u))
    // Without the trailing slash, `${publicUrl}/api/…` never doubles it.
    .transform((u) => u.replace(/\/+$/, ""))
    .optional(),
  // YAML reads `true` and `1` as a boolean and a number.
  trustProxy: z.union([z.string(), z.boolean(), z.number()]).transform(String).refine(isTrustProxy).optional(),
  /** A day at most: a longer minimum would refuse every start on most services. */
  minSessionSeconds: whole(1, 86_400).default(60),
  /** How far ahead a session may be booked (its startsAt). */
  maxBookingDays: whole(1, 3650).default(30),
  /** Open sessions (booked, pending, active…) one user may have on one service at once. */
  maxBookingsPerService: whole(1, 1000).default(3),
  /** Open live streams (/api/live) per user or API token; the next is refused. */
  maxLiveConnections: whole(1, 10000).default(20),
  /** When set, GET /metrics needs `Authorization: Bearer <it>`. */
  metricsToken: z.string().min(16, "at least 16 characters").optional(),
  /** How long the first in line on a waitlist has to accept a freed service. */
  waitlistOfferSeconds: whole(1).default(120),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** SQLite: `full` syncs the disk at every commit (power-cut safe, slower); `normal` at checkpoints. */
  sqliteSync: z.enum(["full", "normal"]).default("normal"),
  /** pretty (one coloured line per event) or json; unset: pretty on a terminal, JSON otherwise. */
  logFormat: z.enum(["pretty", "json"]).optional(),
  webDir: z.string().optional(),
  oidc: z.array(ZOidcProvider).default([]),
  smtpUrl: z.string().regex(/^smtps?:\/\/[^\s]+$/, "an smtp:// or smtps:// URL, e.g. smtp://user:pass@mail.example.com:587").optional(),
  mailFrom: z.string().regex(/^([^<>\r\n]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/, "an address, e.g. postern@example.com or Postern <postern@example.com>").optional(),
  /** Sent and failed relay messages are deleted this many days after they were queued; 0 keeps them. */
  relayRetainDays: whole(0, 36_500).default(30),
  relayTo: z.string().regex(/^\s*[^,@\s]+@[^,@\s]+(\s*,\s*[^,@\s]+@[^,@\s]+)*\s*,?\s*$/, "comma-separated e-mail addresses").optional(),
  auditExportDir: z.string().optional(),
  ngrokAuthtoken: z.string().optional(),
  ngrokDomain: z
    .string()
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$/i)
    .optional(),
  /** Where ngrok sessions dial (host:port): a custom ngrok ingress; tests point it at loopback. */
  ngrokServerAddr: z.string().regex(/^[^\s:/]+:\d{1,5}$/).optional(),
  tunnel: z.enum(["off", "ngrok"]).default("off"),
  /** For CLI commands that talk to a running server (`postern tunnel …`): its URL and an API token. */
  cliUrl: z.url().refine((u) => /^https?:\/\//.test(u)).optional(),
  cliToken: z.string().min(1).optional(),
});
export type RawConfig = z.infer<typeof ZConfig>;

export interface Config extends Omit<RawConfig, "databaseUrl" | "secret"> {
  databaseUrl: string;
  /** Absent until `resolveSecret` has read or generated it. */
  secret?: string;
}

/** Environment names and their config keys (the YAML file uses the same names in lower case). */
const envKeys = {
  PORT: "port",
  HOST: "host",
  POSTERN_DATA_DIR: "dataDir",
  DATABASE_URL: "databaseUrl",
  POSTERN_SECRET: "secret",
  POSTERN_PUBLIC_URL: "publicUrl",
  POSTERN_TRUST_PROXY: "trustProxy",
  POSTERN_MIN_SESSION_SECONDS: "minSessionSeconds",
  POSTERN_WAITLIST_OFFER_SECONDS: "waitlistOfferSeconds",
  POSTERN_MAX_BOOKING_DAYS: "maxBookingDays",
  POSTERN_MAX_BOOKINGS_PER_SERVICE: "maxBookingsPerService",
  POSTERN_MAX_LIVE_CONNECTIONS: "maxLiveConnections",
  POSTERN_METRICS_TOKEN: "metricsToken",
  POSTERN_LOG_LEVEL: "logLevel",
  POSTERN_LOG_FORMAT: "logFormat",
  POSTERN_SQLITE_SYNC: "sqliteSync",
  POSTERN_WEB_DIR: "webDir",
  SMTP_URL: "smtpUrl",
  POSTERN_MAIL_FROM: "mailFrom",
  POSTERN_RELAY_TO: "relayTo",
  POSTERN_RELAY_RETAIN_DAYS: "relayRetainDays",
  POSTERN_AUDIT_EXPORT_DIR: "auditExportDir",
  NGROK_AUTHTOKEN: "ngrokAuthtoken",
  POSTERN_NGROK_DOMAIN: "ngrokDomain",
  POSTERN_NGROK_SERVER_ADDR: "ngrokServerAddr",
  POSTERN_TUNNEL: "tunnel",
  POSTERN_URL: "cliUrl",
  POSTERN_TOKEN: "cliToken",
} as const satisfies Record<string, keyof RawConfig>;

/** What each setting expects, said the way a person would set it (shown after a bad value). */
const expectations: Partial<Record<keyof RawConfig, string>> = {
  port: "a port number from 0 to 65535",
  host: "an address to listen on, e.g. 0.0.0.0 or 127.0.0.1",
  dataDir: "a directory path",
  databaseUrl: "a file: URL (SQLite) or a postgres:// URL",
  secret: "at least 32 characters",
  publicUrl: "an http:// or https:// URL, e.g. https://access.example.com",
  trustProxy: "true, false, a hop count, or a comma-separated list of addresses/CIDRs (e.g. 10.0.0.0/8,127.0.0.1)",
  minSessionSeconds: "a whole number of seconds from 1 to 86400",
  maxBookingDays: "a whole number of days from 1 to 3650",
  maxBookingsPerService: "a whole number from 1 to 1000",
  relayRetainDays: "a whole number of days from 0 (keep relay messages forever) to 36500",
  maxLiveConnections: "a whole number from 1 to 10000",
  metricsToken: "a secret of at least 16 characters",
  logLevel: "one of fatal, error, warn, info, debug, trace, silent",
  logFormat: "pretty or json",
  sqliteSync: "full or normal",
  ngrokDomain: "a host name without scheme, e.g. postern.ngrok.app",
  tunnel: "off or ngrok",
  ngrokServerAddr: "host:port of an ngrok ingress, e.g. connect.ngrok-agent.com:443",
  cliUrl: "the running server's http:// or https:// URL, e.g. http://127.0.0.1:8080",
};

/** A provider's button label when none is set, from the environment or the file: its id, capitalised. */
const defaultLabel = (id: string) => id.charAt(0).toUpperCase() + id.slice(1);

/** Providers from POSTERN_OIDC_<ID>_* (`vars`: the environment's over the file's), then the file's `oidc:` list. */
function oidcProviders(vars: Source, file: Source): Source[] {
  const ids = new Set<string>();
  for (const name of Object.keys(vars)) {
    const m = /^POSTERN_OIDC_([A-Z0-9_]+?)_ISSUER$/.exec(name);
    if (m?.[1]) ids.add(m[1]);
  }
  const named = [...ids].map((ID) => {
    const get = (k: OidcSetting) => vars[`POSTERN_OIDC_${ID}_${k}`];
    return {
      id: ID.toLowerCase(),
      issuer: get("ISSUER"),
      clientId: get("CLIENT_ID"),
      clientSecret: get("CLIENT_SECRET"),
      name: get("NAME") ?? defaultLabel(ID.toLowerCase()),
      groupsClaim: get("GROUPS_CLAIM"),
      allowSignup: get("ALLOW_SIGNUP") ?? "true",
      linkByEmail: get("LINK_BY_EMAIL") ?? "false",
      scopes: get("SCOPES"),
      envPrefix: `POSTERN_OIDC_${ID}_`,
    };
  });
  const fromFile = Array.isArray(file.oidc) ? (file.oidc as Source[]) : [];
  return [...named, ...fromFile.filter((p) => !ids.has(String(p.id ?? "").toUpperCase()))];
}

/** The name a user would set for a config path, for error messages. */
function nameOf(pathParts: PropertyKey[], oidc: Source[]): string {
  const [key, index, field] = pathParts;
  if (key === "oidc" && typeof index === "number") {
    const prefix = oidc[index]?.envPrefix;
    const f = String(field ?? "");
    const envField = f.replace(/([A-Z])/g, "_$1").toUpperCase();
    return typeof prefix === "string" ? `${prefix}${envField}` : `oidc[${index}].${envField.toLowerCase()}`;
  }
  const env = Object.entries(envKeys).find(([, k]) => k === key)?.[0];
  return env ?? String(key);
}

/** A URL's password is not printed, even in a value that is wrong otherwise (a DATABASE_URL of the
 * wrong scheme, quotes kept by an env file): the error goes to logs and terminals. */
function withoutUrlPassword(value: unknown): unknown {
  return typeof value === "string" ? value.replace(/(:\/\/[^:@/]*):.*@/, "$1:***@") : value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, configFile?: string): Config {
  const filePath = configFile ?? env.POSTERN_CONFIG ?? (fs.existsSync("postern.yaml") ? "postern.yaml" : undefined);
  const file = filePath ? readConfigFile(filePath, Object.keys(envKeys)) : {};
  /** Where each key's value came from, so an error says which file or variable to fix. */
  const fromFileKeys = new Set<string>();
  const raw: Source = {};
  for (const [envName, key] of Object.entries(envKeys)) {
    const fromFile = file[envName.toLowerCase()];
    const inEnv = env[envName] !== undefined && env[envName] !== "";
    const value = inEnv ? env[envName] : fromFile;
    if (value !== undefined && value !== null) raw[key] = value;
    if (!inEnv && fromFile !== undefined && fromFile !== null) fromFileKeys.add(key);
  }
  const fileOidc = oidcVarsOf(file);
  const oidcVars: Source = { ...fileOidc };
  const oidcFromEnv = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    // An empty variable gives way to the file, as it does for the other keys.
    if (!name.startsWith("POSTERN_OIDC_") || value === undefined || (value === "" && name in fileOidc)) continue;
    oidcVars[name] = value;
    oidcFromEnv.add(name);
  }
  const oidc = oidcProviders(oidcVars, file);
  const bool = (v: unknown, fallback: boolean) => ZBool.safeParse(v ?? fallback).data ?? v;
  raw.oidc = oidc.map((p) => ({
    ...p,
    allowSignup: bool(p.allowSignup ?? p.allow_signup, true),
    linkByEmail: bool(p.linkByEmail ?? p.link_by_email, false),
    // Config files use snake_case like the environment names.
    groupsClaim: p.groupsClaim ?? p.groups_claim,
    clientId: p.clientId ?? p.client_id,
    clientSecret: p.clientSecret ?? p.client_secret,
    name: p.name ?? (typeof p.id === "string" && p.id ? defaultLabel(p.id) : undefined),
  }));

  const result = ZConfig.superRefine((c, check) => {
    if (c.tunnel === "ngrok" && !c.ngrokAuthtoken) {
      check.addIssue({ code: "custom", path: ["ngrokAuthtoken"], params: { explained: true }, message: "needed when POSTERN_TUNNEL=ngrok (find yours at https://dashboard.ngrok.com)" });
    }
  }).safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path[0];
      const envName = nameOf(issue.path, oidc);
      const inFile = issue.path.length === 1 ? typeof key === "string" && fromFileKeys.has(key) : envName in fileOidc && !oidcFromEnv.has(envName);
      const name = inFile ? `${envName.toLowerCase()} (in ${filePath})` : envName;
      const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], raw);
      const secret = /SECRET|TOKEN|PASSWORD|AUTHTOKEN|SMTP_URL/i.test(envName);
      const shown = value === undefined ? "(missing)" : secret ? "(hidden)" : JSON.stringify(withoutUrlPassword(value));
      const explained = issue.code === "custom" && (issue.params as { explained?: boolean } | undefined)?.explained;
      const expected = !explained && issue.path.length === 1 ? expectations[key as keyof RawConfig] : undefined;
      return `${name}=${shown}: ${expected ? `expected ${expected}` : issue.message}`;
    });
    // One line: the CLI prints it as the single reason Postern refuses to start.
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  const cfg = result.data;
  const dataDir = path.resolve(cfg.dataDir);
  return {
    ...cfg,
    dataDir,
    databaseUrl: cfg.databaseUrl ?? `file:${path.join(dataDir, "postern.db")}`,
    secret: cfg.secret,
  };
}

/** Where the generated secret is kept when POSTERN_SECRET is not set. */
export const secretFileOf = (config: Config) => path.join(config.dataDir, "secret");

/** The secret in `file`, held to POSTERN_SECRET's rule: a short one signs weakly, an empty one not at all. */
export function readSecretFile(file: string): string {
  const secret = fs.readFileSync(file, "utf8").trim();
  if (secret.length < 32) {
    throw new ConfigError(
      `${file} holds ${secret.length === 0 ? "no secret" : `a secret of ${secret.length} characters`}, expected at least 32: ` +
        "remove it to have one generated at the next start (everyone logs in again), or set POSTERN_SECRET",
    );
  }
  return secret;
}

/** POSTERN_SECRET, or a secret generated once and kept in the data directory. */
export function resolveSecret(config: Config, generate: () => string): string {
  if (config.secret) return config.secret;
  const file = secretFileOf(config);
  if (fs.existsSync(file)) return readSecretFile(file);
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = generate();
  // Written beside and renamed: a crash in the middle must not leave an empty secret file behind.
  const partial = `${file}.${process.pid}.partial`;
  const fd = fs.openSync(partial, "wx", 0o600);
  try {
    fs.writeSync(fd, secret + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(partial, file);
  return secret;
}

export function publicUrlOf(config: Config): string {
  return config.publicUrl ?? `http://localhost:${config.port}`;
}
