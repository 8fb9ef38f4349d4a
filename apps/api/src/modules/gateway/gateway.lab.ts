// A throw-away network built from Linux network namespaces for the agent's end-to-end test and
// benchmark: two clients, a gateway running the real agent, and a LAN host with an HTTP server.
//
//   root ns (API) ──veth── gateway ──veth── lan (HTTP :8080)
//                          │    │
//                  client1 ┘    └ client2
//
// Names and subnets are unique per run; `destroy()` removes everything, also after a failure.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { PROBE_SCRIPT, STREAM_SCRIPT } from "./gateway.lab-probes";

const exec = promisify(execFile);

/** Why the lab cannot be built here, or null when it can (root, iproute2, the firewall tool). */
export function labUnavailable(firewallTool: "nft" | "iptables" = "nft"): string | null {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces and firewall rules need root";
  const packages: Record<string, string> = { ip: "iproute2", nft: "nftables", iptables: "iptables" };
  for (const tool of ["ip", firewallTool]) {
    if (!["/usr/sbin", "/sbin", "/usr/bin"].some((dir) => existsSync(path.join(dir, tool)))) {
      return `${tool} is not installed (apt-get install ${packages[tool]})`;
    }
  }
  return null;
}

export const AGENT_DIR = path.resolve(import.meta.dirname, "../../../../agent");
export const LAN_PORT = 8080;

export interface Probe {
  /** One HTTP GET from this client; "ok" when the LAN server answered. */
  get(host: string, port: number, timeoutMs?: number): Promise<"ok" | "fail">;
}

export interface Stream {
  /** One more request on the connection; "ok" when the LAN server answered. */
  send(timeoutMs?: number): Promise<"ok" | "fail">;
}

export class Lab {
  readonly id = randomBytes(2).toString("hex");
  readonly ns: { client1: string; client2: string; gateway: string; lan: string };
  /** Addresses: the API side in the root namespace, the gateway's client-facing ones, the clients, the LAN host. */
  readonly ip: { api: string; gwForClient1: string; gwForClient2: string; client1: string; client2: string; lan: string };
  private readonly rootLink: string;
  /** The agent's record of open doors; one per lab, since several labs may run at once. */
  readonly stateDir: string;
  private readonly children = new Set<ChildProcess>();
  private readonly probes = new Map<string, Probe>();

  constructor() {
    const p = `pst${this.id}`;
    this.ns = { client1: `${p}-c1`, client2: `${p}-c2`, gateway: `${p}-gw`, lan: `${p}-lan` };
    this.rootLink = `${p}r`;
    this.stateDir = path.join(tmpdir(), `${p}-agent-state`);
    const a = 200 + (parseInt(this.id.slice(0, 2), 16) % 50);
    const b = (parseInt(this.id.slice(2), 16) % 60) * 4;
    this.ip = {
      api: `10.${a}.${b}.1`,
      gwForClient1: `10.${a}.${b + 1}.1`,
      client1: `10.${a}.${b + 1}.2`,
      gwForClient2: `10.${a}.${b + 2}.1`,
      client2: `10.${a}.${b + 2}.2`,
      lan: `10.${a}.${b + 3}.2`,
    };
  }

  async create(): Promise<void> {
    const { ns, ip } = this;
    const p = `pst${this.id}`;
    const net = (addr: string) => addr.replace(/\.\d+$/, "");
    for (const name of Object.values(ns)) {
      await sh("ip", ["netns", "add", name]);
      await sh("ip", ["-n", name, "link", "set", "lo", "up"]);
    }
    // root <-> gateway: the agent dials the API over this link.
    await sh("ip", ["link", "add", this.rootLink, "type", "veth", "peer", "name", `${p}g0`, "netns", ns.gateway]);
    await sh("ip", ["addr", "add", `${ip.api}/24`, "dev", this.rootLink]);
    await sh("ip", ["link", "set", this.rootLink, "up"]);
    await sh("ip", ["-n", ns.gateway, "addr", "add", `${net(ip.api)}.2/24`, "dev", `${p}g0`]);
    await sh("ip", ["-n", ns.gateway, "link", "set", `${p}g0`, "up"]);
    const pairs: [string, string, string, string][] = [
      [ns.client1, `${p}c1`, `${p}g1`, ip.client1],
      [ns.client2, `${p}c2`, `${p}g2`, ip.client2],
      [ns.lan, `${p}l`, `${p}g3`, ip.lan],
    ];
    for (const [host, hostIf, gwIf, addr] of pairs) {
      await sh("ip", ["link", "add", hostIf, "netns", host, "type", "veth", "peer", "name", gwIf, "netns", ns.gateway]);
      await sh("ip", ["-n", host, "addr", "add", `${addr}/24`, "dev", hostIf]);
      await sh("ip", ["-n", host, "link", "set", hostIf, "up"]);
      await sh("ip", ["-n", host, "route", "add", "default", "via", `${net(addr)}.1`]);
      await sh("ip", ["-n", ns.gateway, "addr", "add", `${net(addr)}.1/24`, "dev", gwIf]);
      await sh("ip", ["-n", ns.gateway, "link", "set", gwIf, "up"]);
    }
    await sh("ip", ["netns", "exec", ns.gateway, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    const server = this.spawnIn(ns.lan, process.execPath, [
      "-e",
      // Keep-alive for long, so that a stream (below) lasts until the gateway cuts it.
      `const s = require("http").createServer((q, s) => s.end("lan-ok")); s.keepAliveTimeout = 600e3;` +
        `s.listen(${LAN_PORT}, "0.0.0.0", () => console.log("listening"))`,
    ]);
    await waitForLine(server, "listening");
  }

  /** Starts a long-lived process inside a namespace; killed by `destroy()`. */
  spawnIn(netns: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", netns, command, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.children.add(child);
    child.on("exit", () => this.children.delete(child));
    return child;
  }

  /** Starts the real agent inside the gateway namespace. */
  startAgent(env: { url: string; token: string; driver: string; name: string }): AgentProcess {
    const child = this.spawnIn(this.ns.gateway, process.execPath, ["--import", "tsx", "src/index.ts"], {
      cwd: AGENT_DIR,
      env: {
        PATH: process.env.PATH,
        POSTERN_AGENT_URL: env.url,
        POSTERN_AGENT_TOKEN: env.token,
        POSTERN_AGENT_DRIVER: env.driver,
        POSTERN_AGENT_NAME: env.name,
        POSTERN_AGENT_LOG_LEVEL: "info",
        POSTERN_AGENT_STATE_DIR: this.stateDir,
      },
    });
    return new AgentProcess(child);
  }

  /** Runs a command in a namespace and returns its stdout. */
  async run(netns: string, command: string, args: string[], input?: string): Promise<string> {
    if (input === undefined) return (await exec("ip", ["netns", "exec", netns, command, ...args])).stdout;
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", netns, command, ...args]);
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(" ")}: ${err}`))));
      child.stdin.end(input);
    });
  }

  /** A persistent prober in a client namespace (one process, many requests). */
  async probe(netns: string): Promise<Probe> {
    const existing = this.probes.get(netns);
    if (existing) return existing;
    const ask = answersOf(this.spawnIn(netns, process.execPath, ["-e", PROBE_SCRIPT]));
    const probe: Probe = { get: (host, port, timeoutMs = 500) => ask(`${host} ${port} ${timeoutMs}`) };
    this.probes.set(netns, probe);
    return probe;
  }

  /** One TCP connection from a client namespace, kept open: each `send` is one more request on
   * it, "ok" while the connection still reaches the LAN server. It never reconnects. */
  stream(netns: string, host: string, port: number): Stream {
    const ask = answersOf(this.spawnIn(netns, process.execPath, ["-e", STREAM_SCRIPT, host, String(port)]));
    return { send: (timeoutMs = 500) => ask(String(timeoutMs)) };
  }

  async destroy(): Promise<void> {
    for (const child of this.children) child.kill("SIGKILL");
    for (const name of Object.values(this.ns)) {
      // Processes left in our namespaces (started by this lab) would keep them alive.
      const pids = await exec("ip", ["netns", "pids", name]).then((r) => r.stdout.split(/\s+/).filter(Boolean), () => []);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      await exec("ip", ["netns", "del", name]).catch(() => undefined);
    }
    await exec("ip", ["link", "del", this.rootLink]).catch(() => undefined);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

export class AgentProcess {
  output = "";
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (d) => (this.output += d));
    child.stderr!.on("data", (d) => (this.output += d));
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000))]);
    this.child.kill("SIGKILL");
  }
}

/** Asks a client program one line at a time; its answer lines come back in order, "ok" or not. */
function answersOf(child: ChildProcess): (line: string) => Promise<"ok" | "fail"> {
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => waiting.shift()?.(line));
  return (line) =>
    new Promise((resolve) => {
      waiting.push((answer) => resolve(answer === "ok" ? "ok" : "fail"));
      child.stdin!.write(`${line}\n`);
    });
}

async function sh(command: string, args: string[]): Promise<void> {
  try {
    await exec(command, args);
  } catch (err) {
    throw new Error(`${command} ${args.join(" ")} failed: ${(err as { stderr?: string }).stderr ?? err}`);
  }
}

function waitForLine(child: ChildProcess, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms: ${seen}`)), timeoutMs);
    const on = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", on);
    child.stderr!.on("data", on);
  });
}

/** Polls `fn` until it returns true; resolves with the milliseconds it took, or rejects. */
export async function until(fn: () => Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await fn()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
