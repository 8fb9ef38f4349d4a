// Runs a firewall tool and turns its failures into messages an operator can act on.
import { spawn } from "node:child_process";

export class DriverError extends Error {}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export const PRIVILEGE_HINT = "run the agent as root or give it CAP_NET_ADMIN (the systemd unit does: AmbientCapabilities=CAP_NET_ADMIN)";

export function looksUnprivileged(stderr: string): boolean {
  return /Operation not permitted|Permission denied|you must be root/i.test(stderr);
}

/** Runs `command args` with optional stdin; rejects with a DriverError naming the tool on failure. */
export function run(command: string, args: string[], input?: string, options: { allowFailure?: boolean; installHint?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") {
        reject(new DriverError(`${command} is not installed or not on PATH${options.installHint ? `: ${options.installHint}` : ""}`));
      } else if (err.code === "EACCES" || err.code === "EPERM") {
        reject(new DriverError(`${command} cannot be run: ${err.message}; ${PRIVILEGE_HINT}`));
      } else reject(err);
    });
    child.on("close", (code) => {
      const result = { stdout, stderr, code: code ?? 1 };
      if (result.code === 0 || options.allowFailure) return resolve(result);
      const detail = stderr.trim().split("\n").slice(0, 4).join(" | ") || `exit status ${result.code}`;
      if (looksUnprivileged(stderr)) reject(new DriverError(`${command} lacks privileges (${detail}); ${PRIVILEGE_HINT}`));
      else reject(new DriverError(`${command} ${args.join(" ")} failed: ${detail}`));
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}
