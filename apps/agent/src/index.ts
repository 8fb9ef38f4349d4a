// `postern-agent`: the gateway agent daemon and its two maintenance commands.
import { Command } from "commander";
import pino from "pino";
import { ConfigError, loadAgentConfig, stateDirOf, type AgentConfig } from "./config";
import { DoorMemory } from "./door-memory";
import { AGENT_VERSION, createDriver, startAgent } from "./daemon";
import { DriverError } from "./drivers/exec";
import { describe } from "./drivers/dry-run";

const program = new Command("postern-agent")
  .description("Postern gateway agent: keeps this router's port-forwards equal to Postern's active sessions")
  .version(AGENT_VERSION)
  .option("--url <url>", "the API URL (POSTERN_AGENT_URL)")
  .option("--driver <driver>", "nftables | iptables | dry-run (POSTERN_AGENT_DRIVER)")
  .option("--name <name>", "this gateway's name (POSTERN_AGENT_NAME, default the host name)");

function fail(err: unknown): never {
  const message = err instanceof ConfigError || err instanceof DriverError ? err.message : (err as Error).stack ?? String(err);
  process.stderr.write(`postern-agent: ${message}\n`);
  process.exit(1);
}

function optionsOf(): Partial<AgentConfig> {
  const o = program.opts<{ url?: string; driver?: AgentConfig["driver"]; name?: string }>();
  return { url: o.url, driver: o.driver, name: o.name };
}

program
  .command("run", { isDefault: true })
  .description("run the daemon")
  .action(async () => {
    try {
      const config = loadAgentConfig(process.env, optionsOf());
      const log = pino({ level: config.logLevel, base: { agent: config.name } });
      const agent = await startAgent(config, log);
      const shutdown = (signal: string) => {
        log.info({ signal }, "stopping; rules stay until their own expiry");
        void agent.stop().then(() => process.exit(0));
      };
      process.once("SIGTERM", () => shutdown("SIGTERM"));
      process.once("SIGINT", () => shutdown("SIGINT"));
    } catch (err) {
      fail(err);
    }
  });

program
  .command("status")
  .description("print the rules Postern holds in this host's firewall now")
  .action(async () => {
    try {
      const driverName = (optionsOf().driver ?? process.env.POSTERN_AGENT_DRIVER ?? "nftables") as AgentConfig["driver"];
      const driver = createDriver(driverName, pino({ level: "warn" }));
      const rules = await driver.list();
      for (const r of rules) process.stdout.write(`${describe(r)}\n`);
      process.stdout.write(`${rules.length} rule(s)\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command("flush")
  .description("remove Postern's table or chains from this host entirely (closes every door now)")
  .action(async () => {
    try {
      const driverName = (optionsOf().driver ?? process.env.POSTERN_AGENT_DRIVER ?? "nftables") as AgentConfig["driver"];
      const log = pino({ level: "warn" });
      const driver = createDriver(driverName, log);
      const rules = await driver.list().catch(() => []);
      // Doors the kernel closed by itself while no agent ran still have flows to cut.
      const memory = new DoorMemory(stateDirOf(process.env, driverName), log);
      const remembered = memory.load();
      await driver.teardown();
      await driver.cutFlows([...rules, ...remembered]);
      memory.save([]);
      process.stdout.write(`removed Postern's ${driver.name} rules (${rules.length})\n`);
    } catch (err) {
      fail(err);
    }
  });

await program.parseAsync(process.argv);
