// Postern's configuration: environment variables first, then postern.yaml (same keys in lower
// case), then defaults. Parsed once at start-up; nothing else reads process.env.
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const ZBool = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"])])
  .transform((v) => v === true || v === "true" || v === "1" || v === "yes");

const ZPort = z.coerce.number().int().min(0).max(65535);

const ZOidcProvider = z.object({
  id: z.string().regex(/^[a-z0-9_-]+$/),
  issuer: z.url(),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional(),
  name: z.string().min(1),
  groupsClaim: z.string().min(1).optional(),
  allowSignup: z.boolean(),
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
  publicUrl: z.url().optional(),
  trustProxy: z.string().optional(),
  minSessionSeconds: z.coerce.number().int().min(1).default(60),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  webDir: z.string().optional(),
  oidc: z.array(ZOidcProvider).default([]),
  smtpUrl: z.string().regex(/^smtps?:\/\/[^\s]+$/, "an smtp:// or smtps:// URL, e.g. smtp://user:pass@mail.example.com:587").optional(),
  mailFrom: z.string().regex(/^([^<>\r\n]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/, "an address, e.g. postern@example.com or Postern <postern@example.com>").optional(),
  relayTo: z.string().regex(/^\s*[^,@\s]+@[^,@\s]+(\s*,\s*[^,@\s]+@[^,@\s]+)*\s*,?\s*$/, "comma-separated e-mail addresses").optional(),
  auditExportDir: z.string().optional(),
  ngrokAuthtoken: z.string().optional(),
  ngrokDomain: z.string().optional(),
  tunnel: z.enum(["off", "ngrok"]).default("off"),
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
  POSTERN_LOG_LEVEL: "logLevel",
  POSTERN_WEB_DIR: "webDir",
  SMTP_URL: "smtpUrl",
  POSTERN_MAIL_FROM: "mailFrom",
  POSTERN_RELAY_TO: "relayTo",
  POSTERN_AUDIT_EXPORT_DIR: "auditExportDir",
  NGROK_AUTHTOKEN: "ngrokAuthtoken",
  POSTERN_NGROK_DOMAIN: "ngrokDomain",
  POSTERN_TUNNEL: "tunnel",
} as const satisfies Record<string, keyof RawConfig>;

export class ConfigError extends Error {}

type Source = Record<string, unknown>;

function oidcFromEnv(env: NodeJS.ProcessEnv, file: Source): Source[] {
  const ids = new Set<string>();
  for (const name of Object.keys(env)) {
    const m = /^POSTERN_OIDC_([A-Z0-9_]+?)_ISSUER$/.exec(name);
    if (m?.[1]) ids.add(m[1]);
  }
  const fromEnv = [...ids].map((ID) => {
    const get = (k: string) => env[`POSTERN_OIDC_${ID}_${k}`];
    return {
      id: ID.toLowerCase(),
      issuer: get("ISSUER"),
      clientId: get("CLIENT_ID"),
      clientSecret: get("CLIENT_SECRET"),
      name: get("NAME") ?? ID.charAt(0) + ID.slice(1).toLowerCase(),
      groupsClaim: get("GROUPS_CLAIM"),
      allowSignup: get("ALLOW_SIGNUP") ?? "true",
      envPrefix: `POSTERN_OIDC_${ID}_`,
    };
  });
  const fromFile = Array.isArray(file.oidc) ? (file.oidc as Source[]) : [];
  return [...fromEnv, ...fromFile.filter((p) => !ids.has(String(p.id ?? "").toUpperCase()))];
}

/** The name a user would set for a config path, for error messages. */
function nameOf(pathParts: PropertyKey[], oidc: Source[]): string {
  const [key, index, field] = pathParts;
  if (key === "oidc" && typeof index === "number") {
    const prefix = oidc[index]?.envPrefix;
    const f = String(field ?? "");
    const envField = f.replace(/([A-Z])/g, "_$1").toUpperCase();
    return typeof prefix === "string" ? `${prefix}${envField}` : `oidc[${index}].${f}`;
  }
  const env = Object.entries(envKeys).find(([, k]) => k === key)?.[0];
  return env ?? String(key);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, configFile?: string): Config {
  const filePath = configFile ?? env.POSTERN_CONFIG ?? (fs.existsSync("postern.yaml") ? "postern.yaml" : undefined);
  let file: Source = {};
  if (filePath) {
    try {
      const parsed: unknown = parseYaml(fs.readFileSync(filePath, "utf8"));
      if (parsed !== null && typeof parsed !== "object") throw new Error("the file must hold a mapping of keys");
      file = (parsed ?? {}) as Source;
    } catch (err) {
      throw new ConfigError(`config file ${filePath}: ${(err as Error).message}`);
    }
  }
  const raw: Source = {};
  for (const [envName, key] of Object.entries(envKeys)) {
    const fromFile = file[envName.toLowerCase()];
    const value = env[envName] !== undefined && env[envName] !== "" ? env[envName] : fromFile;
    if (value !== undefined && value !== null) raw[key] = value;
  }
  const oidc = oidcFromEnv(env, file);
  raw.oidc = oidc.map((p) => ({ ...p, allowSignup: ZBool.safeParse(p.allowSignup ?? true).data ?? p.allowSignup }));

  const result = ZConfig.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const name = nameOf(issue.path, oidc);
      const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], raw);
      const shown = name.match(/SECRET|TOKEN|PASSWORD|AUTHTOKEN|SMTP_URL/) ? "(hidden)" : JSON.stringify(value);
      return `${name}=${shown ?? "(missing)"}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join("\n  ")}`);
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

/** POSTERN_SECRET, or a secret generated once and kept in the data directory. */
export function resolveSecret(config: Config, generate: () => string): string {
  if (config.secret) return config.secret;
  const file = path.join(config.dataDir, "secret");
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  fs.mkdirSync(config.dataDir, { recursive: true });
  const secret = generate();
  fs.writeFileSync(file, secret + "\n", { mode: 0o600 });
  return secret;
}

export function publicUrlOf(config: Config): string {
  return config.publicUrl ?? `http://localhost:${config.port}`;
}
