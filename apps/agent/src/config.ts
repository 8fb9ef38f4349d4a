// The agent's configuration, read once from the environment (and command-line overrides).
import { hostname } from "node:os";
import { z } from "zod";

export const ZAgentConfig = z.object({
  /** The API's base URL (http(s)://host[:port]) or the websocket URL itself. */
  url: z.string().regex(/^(https?|wss?):\/\/[^\s]+$/, "expected http(s):// or ws(s):// URL"),
  token: z.string().min(8, "expected an API token with the scope agent"),
  driver: z.enum(["nftables", "iptables", "dry-run"]),
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "letters, digits, dot, dash, underscore (at most 64)"),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  /** Where the agent records the doors it holds open, to cut their flows after a restart; null: nowhere. */
  stateDir: z.string().regex(/^\//, "expected an absolute path").nullable(),
});
export type AgentConfig = z.infer<typeof ZAgentConfig>;

const ENV: Record<keyof AgentConfig, string> = {
  url: "POSTERN_AGENT_URL",
  token: "POSTERN_AGENT_TOKEN",
  driver: "POSTERN_AGENT_DRIVER",
  name: "POSTERN_AGENT_NAME",
  logLevel: "POSTERN_AGENT_LOG_LEVEL",
  stateDir: "POSTERN_AGENT_STATE_DIR",
};

export class ConfigError extends Error {}

export const DEFAULT_STATE_DIR = "/var/lib/postern-agent";

/** Where the agent records its open doors. systemd's StateDirectory= sets STATE_DIRECTORY; the
 * dry-run driver changes no firewall and so records nothing unless told where. */
export function stateDirOf(env: NodeJS.ProcessEnv, driver: string): string | null {
  return env.POSTERN_AGENT_STATE_DIR || env.STATE_DIRECTORY?.split(":")[0] || (driver === "dry-run" ? null : DEFAULT_STATE_DIR);
}

const driverOf = (overrides: Partial<AgentConfig>, env: NodeJS.ProcessEnv) => overrides.driver ?? env.POSTERN_AGENT_DRIVER ?? "nftables";

export function loadAgentConfig(env: NodeJS.ProcessEnv, overrides: Partial<AgentConfig> = {}): AgentConfig {
  const raw = {
    url: overrides.url ?? env.POSTERN_AGENT_URL,
    token: overrides.token ?? env.POSTERN_AGENT_TOKEN,
    driver: driverOf(overrides, env),
    name: overrides.name ?? env.POSTERN_AGENT_NAME ?? hostname().split(".")[0],
    logLevel: overrides.logLevel ?? env.POSTERN_AGENT_LOG_LEVEL ?? "info",
    stateDir: overrides.stateDir ?? stateDirOf(env, driverOf(overrides, env)),
  };
  const parsed = ZAgentConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path[0] as keyof AgentConfig;
    const got = raw[key] === undefined ? "missing" : key === "token" ? "invalid" : `got "${String(raw[key])}"`;
    throw new ConfigError(`${ENV[key]}: ${issue.code === "invalid_type" ? "required" : issue.message} (${got})`);
  }
  return parsed.data;
}

/** The websocket URL of `GET /api/agent` for a configured base URL. */
export function agentSocketUrl(url: string): string {
  const u = new URL(url.replace(/^http/, "ws"));
  if (!u.pathname.endsWith("/api/agent")) u.pathname = `${u.pathname.replace(/\/$/, "")}/api/agent`;
  return u.toString();
}
