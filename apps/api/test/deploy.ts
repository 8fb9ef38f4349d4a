// Reading the deployment files the way Docker and Compose do, for tests that run their commands
// outside a container: Compose's variable interpolation, and the Dockerfile's runtime stage.
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { repoRoot } from "./serve";

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}. */
export function interpolate(value: unknown, env: Record<string, string>, seen = new Set<string>()): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
      seen.add(name);
      const set = env[name];
      if (op?.endsWith("?") && (set === undefined || (op === ":?" && set === ""))) throw new Error(`${name}: ${arg}`);
      if (op?.endsWith("-") && (set === undefined || (op === ":-" && set === ""))) return arg ?? "";
      return set ?? "";
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env, seen));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, seen)]));
  return value;
}

export const composeFile = path.join(repoRoot, "docker/compose.yaml");

/** docker/compose.yaml as YAML (anchors and merge keys resolved), before interpolation. */
export function readCompose(): Record<string, unknown> {
  return parseYaml(fs.readFileSync(composeFile, "utf8"), { merge: true }) as Record<string, unknown>;
}

/** The variables docker/postern.env.example sets (what a self-hoster copies to docker/.env). */
export function envExample(): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(path.join(repoRoot, "docker/postern.env.example"), "utf8")
      .split("\n")
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

export interface ImageRuntime {
  /** ENTRYPOINT + CMD, without the init process (tini) in front. */
  command: string[];
  /** WORKDIR, as a path in this checkout (the image keeps the repository layout under /app). */
  cwd: string;
  /** The runtime stage's ENV, with /app paths mapped to this checkout. */
  env: Record<string, string>;
}

/** How the image starts Postern, read from docker/Dockerfile's last (runtime) stage. */
export function imageRuntime(): ImageRuntime {
  const dockerfile = fs.readFileSync(path.join(repoRoot, "docker/Dockerfile"), "utf8");
  const stage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const json = (instruction: string) => JSON.parse(new RegExp(`^${instruction} (\\[.*\\])$`, "m").exec(stage)?.[1] ?? "[]") as string[];
  const entrypoint = json("ENTRYPOINT");
  const init = entrypoint.indexOf("--");
  const fromApp = (p: string) => (p.startsWith("/app") ? path.join(repoRoot, p.slice("/app".length)) : p);
  const env: Record<string, string> = {};
  const envBlock = /^ENV ((?:.*\\\n)*.*)$/m.exec(stage)?.[1] ?? "";
  for (const [, key, value] of envBlock.matchAll(/([A-Z0-9_]+)=(\S+)/g)) env[key!] = fromApp(value!);
  return {
    command: [...(init >= 0 ? entrypoint.slice(init + 1) : entrypoint), ...json("CMD")],
    cwd: fromApp(/^WORKDIR (\S+)$/m.exec(stage)![1]!),
    env,
  };
}
