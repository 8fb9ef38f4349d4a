// The deployment files, checked as far as a machine without a Docker engine can: every GitHub
// workflow parses, names actions that exist (at the major version used, with inputs those
// versions declare) and scripts that exist; docker/compose.yaml is a valid Compose file (the
// Compose Specification's own JSON schema; `docker compose config` too where the plugin is
// installed) whose services, volumes and files line up; the Dockerfile runs the compiled build
// with plain node; the systemd unit's install steps make the config file it names. What only a
// Docker engine proves runs in the container workflow.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import composeSpec from "../test/schemas/compose-spec.json";
import { composeFile, envExample, imageRuntime, interpolate, readCompose } from "../test/deploy";
import { repoRoot } from "../test/serve";

/**
 * The actions the workflows may use, at the major version they use, with the inputs that
 * version's action.yml declares. Read from each action's repository at that tag (checked
 * 2026-11-28); add an entry the same way when a workflow starts using another action.
 */
const KNOWN_ACTIONS: Record<string, string[]> = {
  "actions/checkout@v4": ["repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user", "persist-credentials", "path", "clean", "filter", "sparse-checkout", "sparse-checkout-cone-mode", "fetch-depth", "fetch-tags", "show-progress", "lfs", "submodules", "set-safe-directory", "github-server-url"],
  "actions/setup-node@v4": ["always-auth", "node-version", "node-version-file", "architecture", "check-latest", "registry-url", "scope", "token", "cache", "cache-dependency-path", "mirror", "mirror-token"],
  "actions/upload-artifact@v7": ["name", "path", "if-no-files-found", "retention-days", "compression-level", "overwrite", "include-hidden-files", "archive"],
  "docker/setup-qemu-action@v4": ["image", "platforms", "reset", "cache-image"],
  "docker/setup-buildx-action@v4": ["version", "driver", "driver-opts", "buildkitd-flags", "buildkitd-config", "buildkitd-config-inline", "use", "name", "endpoint", "platforms", "append", "keep-state", "cache-binary", "cleanup"],
  "docker/login-action@v4": ["registry", "username", "password", "ecr", "scope", "logout", "registry-auth"],
  "docker/metadata-action@v6": ["context", "images", "tags", "flavor", "labels", "annotations", "sep-tags", "sep-labels", "sep-annotations", "bake-target", "github-token"],
  "docker/build-push-action@v7": ["add-hosts", "allow", "annotations", "attests", "build-args", "build-contexts", "builder", "cache-from", "cache-to", "call", "cgroup-parent", "context", "file", "labels", "load", "network", "no-cache", "no-cache-filters", "outputs", "platforms", "provenance", "pull", "push", "sbom", "secrets", "secret-envs", "secret-files", "shm-size", "ssh", "tags", "target", "ulimit", "github-token"],
};

type Json = Record<string, unknown>;
const workflowsDir = path.join(repoRoot, ".github/workflows");
const workflows = fs.readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f));
const readYaml = (file: string) => parseYaml(fs.readFileSync(file, "utf8"), { merge: true }) as Json;

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Json;
  "working-directory"?: string;
}
interface Job {
  "runs-on"?: unknown;
  needs?: string | string[];
  steps?: Step[];
  uses?: string;
}

function jobsOf(file: string): Record<string, Job> {
  return (readYaml(path.join(workflowsDir, file)).jobs ?? {}) as Record<string, Job>;
}

describe("GitHub workflows", () => {
  it("has the CI, container and release workflows", () => {
    expect(workflows).toEqual(expect.arrayContaining(["ci.yml", "container.yml", "release.yml"]));
  });

  it.each(workflows)("%s parses, and its jobs, steps, actions and scripts are real", (file) => {
    const workflow = readYaml(path.join(workflowsDir, file));
    expect(workflow.name).toBeTypeOf("string");
    // YAML reads a bare `on` key as the boolean true.
    expect(workflow.on ?? (workflow as Record<string, unknown>)["true"]).toBeTruthy();
    const jobs = jobsOf(file);
    expect(Object.keys(jobs).length).toBeGreaterThan(0);
    for (const [id, job] of Object.entries(jobs)) {
      for (const need of [job.needs ?? []].flat()) expect(Object.keys(jobs), `${id} needs ${need}`).toContain(need);
      if (job.uses) {
        // A reusable workflow of this repository: it must exist and be callable.
        expect(job.uses).toMatch(/^\.\/\.github\/workflows\/[\w.-]+\.ya?ml$/);
        const called = readYaml(path.join(repoRoot, job.uses));
        expect(Object.keys((called.on ?? {}) as Json), `${job.uses} must declare workflow_call`).toContain("workflow_call");
        continue;
      }
      expect(job["runs-on"], `${id} runs-on`).toBeTruthy();
      expect(job.steps?.length, `${id} steps`).toBeGreaterThan(0);
      for (const step of job.steps ?? []) {
        const label = `${file} ${id} "${step.name ?? step.uses ?? step.run}"`;
        expect(Boolean(step.uses) !== Boolean(step.run), `${label}: exactly one of uses and run`).toBe(true);
        if (step.uses) {
          const inputs = KNOWN_ACTIONS[step.uses];
          expect(inputs, `${label}: ${step.uses} is not a known action version`).toBeDefined();
          for (const key of Object.keys(step.with ?? {})) expect(inputs, `${label}: ${step.uses} has no input "${key}"`).toContain(key);
        }
        // Scripts and files of this repository that a step runs must exist.
        const cwd = path.join(repoRoot, step["working-directory"] ?? ".");
        for (const [, ref] of (step.run ?? "").matchAll(/(?:^|\s)((?:\.\/)?(?:scripts|docker|\.ci|bench)\/[\w./-]+\.(?:mjs|ts|sh|yaml|yml|conf))/g)) {
          expect(fs.existsSync(path.join(cwd, ref!)) || fs.existsSync(path.join(repoRoot, ref!)), `${label}: ${ref} does not exist`).toBe(true);
        }
      }
    }
  });

  it("container: builds docker/Dockerfile, starts the compose stack, waits for it, runs both smoke tests through nginx", () => {
    const steps = Object.values(jobsOf("container.yml")).flatMap((j) => j.steps ?? []);
    const build = steps.find((s) => s.uses?.startsWith("docker/build-push-action@"));
    expect(build?.with).toMatchObject({ file: "docker/Dockerfile", load: true, context: "." });
    const runs = steps.map((s) => `${s["working-directory"] ?? "."}: ${s.run ?? ""}`).join("\n");
    expect(runs).toMatch(/docker: docker compose config/);
    expect(runs).toMatch(/docker: docker compose up .*--wait/);
    expect(runs).toMatch(/node scripts\/smoke\.mjs/);
    expect(runs).toMatch(/node scripts\/browser-smoke\.mjs/);
    expect(runs).toMatch(/docker compose down/);
    // The CLI inside the image: the path is relative to the image's WORKDIR (apps/api).
    for (const [, bin] of runs.matchAll(/docker compose exec -T api-\d node (\S+)/g)) expect(fs.existsSync(path.join(repoRoot, "apps/api", bin!))).toBe(true);
  });

  it("release: publishes the image on version tags, after the container workflow passed", () => {
    const release = readYaml(path.join(workflowsDir, "release.yml"));
    expect((release.on as Json).push).toEqual({ tags: ["v*"] });
    const jobs = jobsOf("release.yml");
    const smoke = Object.entries(jobs).find(([, j]) => j.uses === "./.github/workflows/container.yml");
    expect(smoke).toBeDefined();
    const publish = Object.values(jobs).find((j) => j.steps?.some((s) => s.uses?.startsWith("docker/build-push-action@")));
    expect([publish?.needs ?? []].flat()).toContain(smoke![0]);
    const push = publish!.steps!.find((s) => s.uses?.startsWith("docker/build-push-action@"));
    expect(push?.with).toMatchObject({ file: "docker/Dockerfile", push: true });
  });
});

describe("docker/compose.yaml", () => {
  const example = envExample();

  it("is a valid Compose file once the example .env is filled in, and refuses to start without the secrets", () => {
    const raw = readCompose();
    const seen = new Set<string>();
    const env = { ...example, POSTGRES_PASSWORD: "example-password", POSTERN_SECRET: "x".repeat(64) };
    const compose = interpolate(raw, env, seen) as Json;
    // Every variable the file reads is in the example .env, so nobody has to read the YAML.
    expect([...seen].filter((name) => !(name in example))).toEqual([]);
    expect(() => interpolate(raw, { ...example, POSTERN_SECRET: "" }, new Set())).toThrow(/POSTERN_SECRET/);
    expect(() => interpolate(raw, { ...example, POSTGRES_PASSWORD: "" }, new Set())).toThrow(/POSTGRES_PASSWORD/);

    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    // The schema names draft-07 by an https URL, which ajv registers under http: same draft.
    const { $schema: _draft, ...schema } = composeSpec;
    const validate = ajv.compile(schema);
    expect(validate(compose), ajv.errorsText(validate.errors)).toBe(true);

    const services = compose.services as Record<string, Json>;
    expect(Object.keys(services).sort()).toEqual(["api-1", "api-2", "db", "nginx"]);
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys((service.depends_on ?? {}) as Json)) expect(Object.keys(services), `${name} depends on ${dependency}`).toContain(dependency);
      for (const volume of (service.volumes ?? []) as string[]) {
        const [source] = volume.split(":");
        if (source!.startsWith(".")) expect(fs.existsSync(path.join(repoRoot, "docker", source!)), `${name} mounts ${source}`).toBe(true);
        else expect(Object.keys((compose.volumes ?? {}) as Json), `${name} uses volume ${source}`).toContain(source);
      }
      const build = service.build as { context: string; dockerfile: string } | undefined;
      if (build) expect(fs.existsSync(path.join(repoRoot, "docker", build.context, build.dockerfile))).toBe(true);
    }
    // Both replicas share the database and the signing secret, and trust exactly nginx.
    for (const api of ["api-1", "api-2"]) {
      expect(services[api]!.environment).toMatchObject({ POSTERN_SECRET: "x".repeat(64), POSTERN_TRUST_PROXY: "1" });
      expect(String((services[api]!.environment as Json).DATABASE_URL)).toMatch(/^postgres:\/\/postern:example-password@db:5432\/postern$/);
    }
  });

  const dockerCompose = spawnSync("docker", ["compose", "version"], { encoding: "utf8" }).status === 0;
  it.skipIf(!dockerCompose)("passes `docker compose config` (where the compose plugin is installed)", () => {
    const result = spawnSync("docker", ["compose", "-f", composeFile, "config", "--quiet"], {
      encoding: "utf8",
      env: { ...process.env, POSTGRES_PASSWORD: "example-password", POSTERN_SECRET: "x".repeat(64) },
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});

describe("docker/Dockerfile", () => {
  const dockerfile = fs.readFileSync(path.join(repoRoot, "docker/Dockerfile"), "utf8");

  it("runs the compiled build with plain node, and copies only files that exist", () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", /m);
    const runtime = imageRuntime();
    expect(runtime.command.slice(0, 1)).toEqual(["node"]);
    expect(runtime.command.join(" ")).not.toMatch(/tsx|--import|\.ts\b/);
    expect(fs.existsSync(path.join(runtime.cwd, runtime.command[1]!))).toBe(true);
    expect(runtime.command.slice(2)).toEqual(["serve"]);
    expect(dockerfile).toMatch(/^RUN pnpm build$/m);
    for (const [, sources] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of sources!.split(/\s+/).filter((s) => !s.startsWith("--"))) {
        expect(fs.existsSync(path.join(repoRoot, source)), `COPY ${source}`).toBe(true);
      }
    }
  });
});

describe("docker/postern.service", () => {
  const unit = fs.readFileSync(path.join(repoRoot, "docker/postern.service"), "utf8");
  const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");

  it("has its install steps, and the README's, create the config file it points POSTERN_CONFIG at", () => {
    // Postern refuses to start when that file is missing, whatever the environment file holds.
    const config = /^Environment=POSTERN_CONFIG=(\S+)$/m.exec(unit)?.[1];
    expect(config).toBeDefined();
    const creates = new RegExp(`^#?\\s*install -m \\d+ .*/dev/null ${config!.replaceAll(".", "\\.")}\\b`, "m");
    expect(unit).toMatch(creates);
    const systemd = readme.slice(readme.indexOf("### With systemd"), readme.indexOf("### Behind nginx"));
    expect(systemd).toMatch(creates);
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/postern\/postern\.env$/m);
  });
});
