// What `postern doctor` checks: the configuration, then everything it points at (database and
// its migrations, SMTP, each OIDC issuer, the tunnel, the directories Postern writes to). Each
// check answers within a few seconds, so a dead dependency cannot hang the report.
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import nodemailer from "nodemailer";
import { openDatabase, redactUrl, type OpenDatabase, type Provider } from "@postern/db";
import { loadConfig, publicUrlOf, type Config } from "../config";
import { relaySettingsOf } from "../modules/relay/relay.settings";

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

/** The migration folders shipped with this build, for the provider. */
function shippedMigrations(provider: Provider): string[] {
  const dbIndex = createRequire(import.meta.url).resolve("@postern/db");
  const dir = path.join(path.dirname(dbIndex), "..", provider, "migrations");
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export async function checkDatabase(config: Config): Promise<CheckResult[]> {
  const shown = redactUrl(config.databaseUrl);
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

export async function checkOidc(config: Config): Promise<CheckResult[]> {
  if (config.oidc.length === 0) return [{ mark: "skip", name: "OIDC", detail: "no providers configured (local accounts only)" }];
  return Promise.all(
    config.oidc.map(async (provider): Promise<CheckResult> => {
      const name = `OIDC ${provider.id}`;
      const url = `${provider.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), headers: { accept: "application/json" } });
        if (!res.ok) return { mark: "fail", name, detail: `${url} answered ${res.status}` };
        const doc = (await res.json()) as Record<string, unknown>;
        const missing = ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"].filter((k) => typeof doc[k] !== "string");
        if (missing.length > 0) return { mark: "fail", name, detail: `${url} lacks ${missing.join(", ")}` };
        if (String(doc.issuer).replace(/\/+$/, "") !== provider.issuer.replace(/\/+$/, "")) {
          return { mark: "fail", name, detail: `the discovery document names issuer ${String(doc.issuer)}, not ${provider.issuer}` };
        }
        return { mark: "ok", name, detail: `${provider.issuer}: discovery ok` };
      } catch (err) {
        return { mark: "fail", name, detail: `${url}: ${reasonOf(err)}` };
      }
    }),
  );
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

function writable(dir: string): string | null {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    return null;
  } catch (err) {
    return reasonOf(err);
  }
}

export function checkDirectories(config: Config): CheckResult[] {
  const results: CheckResult[] = [];
  const needsDataDir = config.databaseUrl.startsWith("file:") || !config.secret;
  if (needsDataDir) {
    const problem = writable(config.dataDir);
    results.push(
      problem
        ? { mark: "fail", name: "data directory", detail: `${config.dataDir}: ${problem}` }
        : { mark: "ok", name: "data directory", detail: `${config.dataDir} is writable` },
    );
  }
  if (config.auditExportDir) {
    const problem = writable(config.auditExportDir);
    results.push(
      problem
        ? { mark: "fail", name: "audit export", detail: `${config.auditExportDir}: ${problem}` }
        : { mark: "ok", name: "audit export", detail: `${config.auditExportDir} is writable` },
    );
  }
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
