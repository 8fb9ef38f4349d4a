// Runs the Prisma CLI that @postern/db ships, for one provider's config.
import { spawnSync } from "node:child_process";
import { configPath, prismaBin, type Provider } from "./providers";

export function runPrisma(
  provider: Provider,
  args: string[],
  env: Record<string, string | undefined> = {},
): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [prismaBin(), ...args, "--config", configPath(provider)], {
    encoding: "utf8",
    env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1", ...env },
  });
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}
