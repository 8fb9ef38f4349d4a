// A real gateway agent (`apps/agent`, dry-run driver: it keeps the rules in memory) connected to
// the benchmark's API, with services bound to it: every start and end then opens or closes a door,
// which the agent applies and reports back, as on an installation whose services sit behind a
// router. The driver is the only part left out; `bench:agent` measures nftables itself.
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { call, ensureBuilt, root, spawnNode, type ApiCluster } from "./api-process";

export interface RunningAgent {
  stop(): void;
}

/** Starts the agent against the first instance and binds every one of `serviceIds` to it. */
export async function startDryRunAgent(api: ApiCluster, serviceIds: string[]): Promise<RunningAgent> {
  const url = api.instances[0]!.url;
  const admin = { cookie: api.cookie };
  await ensureBuilt(["agent"]);
  const { token } = await call<{ token: string }>(url, admin, "POST", "/api/tokens", { name: "bench-gateway", scopes: ["agent"] });
  const child = spawnNode(
    [path.join(root, "apps/agent/bin/postern-agent.mjs")],
    { POSTERN_AGENT_URL: url, POSTERN_AGENT_TOKEN: token, POSTERN_AGENT_DRIVER: "dry-run", POSTERN_AGENT_NAME: "bench-gateway", POSTERN_AGENT_LOG_LEVEL: "warn" },
    root,
  );
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const stop = () => void child.kill("SIGTERM");
  try {
    let agentId: string | undefined;
    for (let i = 0; !agentId; i++) {
      if (child.exitCode !== null || i > 200) throw new Error(`the gateway agent did not connect:\n${output}`);
      await sleep(50);
      const agents = await call<{ id: string; name: string; online: boolean }[]>(url, admin, "GET", "/api/agents");
      agentId = agents.find((a) => a.name === "bench-gateway" && a.online)?.id;
    }
    for (const [i, id] of serviceIds.entries()) {
      await call(url, admin, "PATCH", `/api/services/${id}`, { gateway: { agentId, publicPort: 20000 + i, lanHost: "10.0.0.5", lanPort: 22, protocol: "tcp" } });
    }
  } catch (err) {
    stop();
    throw err;
  }
  return { stop };
}
