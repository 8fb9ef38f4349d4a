// `postern tunnel open|close|status`: steers the tunnel of the RUNNING server through its API,
// because the ngrok listener lives in that process. The server is POSTERN_URL (default
// http://127.0.0.1:PORT) and the caller an API token with scope tunnel:manage (POSTERN_TOKEN).
import type { Command } from "commander";
import { ZErrorBody, ZTunnel, type TTunnel } from "@postern/contracts";
import type { Config } from "../config";
import { CliError, readConfig } from "./context";

export function serverUrlOf(config: Config): string {
  return (config.cliUrl ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, "");
}

async function callTunnel(config: Config, method: "GET" | "POST", path: string): Promise<TTunnel> {
  if (!config.cliToken) {
    throw new CliError("POSTERN_TOKEN is not set: create a token with `postern token create --name ops --scope tunnel:manage` and export it");
  }
  const base = serverUrlOf(config);
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${config.cliToken}` },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError(`cannot reach the Postern server at ${base} (${cause}); is it running? Set POSTERN_URL to its address`);
  }
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const parsed = ZErrorBody.safeParse(body);
    throw new CliError(parsed.success ? parsed.data.error.message : `the server answered ${res.status}`);
  }
  return ZTunnel.parse(body);
}

function describe(tunnel: TTunnel): string {
  switch (tunnel.state) {
    case "open":
      return `tunnel open: ${tunnel.url}`;
    case "error":
      return `tunnel error: ${tunnel.reason ?? "unknown"}`;
    default:
      return `tunnel ${tunnel.state}${tunnel.configured ? "" : " (NGROK_AUTHTOKEN is not set on the server)"}`;
  }
}

export function registerTunnelCommands(program: Command): void {
  const tunnel = program
    .command("tunnel")
    .description("open or close the running server's ngrok tunnel (needs POSTERN_TOKEN with scope tunnel:manage; POSTERN_URL)");
  tunnel
    .command("open")
    .description("open the tunnel and print its public URL")
    .action(async () => {
      console.log(describe(await callTunnel(readConfig(), "POST", "/api/tunnel/open")));
    });
  tunnel
    .command("close")
    .description("close the tunnel")
    .action(async () => {
      console.log(describe(await callTunnel(readConfig(), "POST", "/api/tunnel/close")));
    });
  tunnel
    .command("status")
    .description("show the tunnel's state")
    .action(async () => {
      console.log(describe(await callTunnel(readConfig(), "GET", "/api/tunnel")));
    });
}
