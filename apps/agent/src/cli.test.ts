// The agent's command line as an operator meets it: clear one-line reasons, exit status 1.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const exec = promisify(execFile);
const AGENT_DIR = path.resolve(import.meta.dirname, "..");

async function agent(args: string[], env: Record<string, string>, wrap: string[] = []) {
  const command = [...wrap, process.execPath, "--import", "tsx", "src/index.ts", ...args];
  try {
    const r = await exec(command[0]!, command.slice(1), { cwd: AGENT_DIR, env: { HOME: "/tmp", ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("postern-agent command line", () => {
  it("names the missing variable", async () => {
    const r = await agent(["run"], { PATH: process.env.PATH ?? "" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("postern-agent: POSTERN_AGENT_URL: required (missing)");
  });

  it("names a bad driver and what is expected", async () => {
    const r = await agent(["run"], { PATH: process.env.PATH ?? "", POSTERN_AGENT_URL: "http://127.0.0.1:1", POSTERN_AGENT_TOKEN: "pst_xxxxxxxxxxxx", POSTERN_AGENT_DRIVER: "pf" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("POSTERN_AGENT_DRIVER");
    expect(r.stderr).toContain('"pf"');
  });

  it("says which tool is missing and how to install it", async () => {
    for (const [driver, tool] of [["nftables", "nft"], ["iptables", "iptables"]] as const) {
      const r = await agent(["--driver", driver, "status"], { PATH: "/nonexistent" });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${tool} is not installed or not on PATH`);
      expect(r.stderr).toContain("apt-get install");
    }
  });

  it.skipIf(process.getuid?.() !== 0)("says when the firewall tool lacks privileges (run as nobody)", async () => {
    const r = await agent(["--driver", "nftables", "status"], { PATH: process.env.PATH ?? "" }, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("CAP_NET_ADMIN");
  });

  it("the dry-run driver needs no privileges and lists nothing", async () => {
    const r = await agent(["--driver", "dry-run", "status"], { PATH: process.env.PATH ?? "" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("0 rule(s)");
  });
});
