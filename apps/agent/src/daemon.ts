// Wires the driver, the reconciler and the API connection together.
import type { Logger } from "pino";
import type { AgentConfig } from "./config";
import { AgentConnection } from "./connection";
import type { Driver } from "./drivers/driver";
import { DryRunDriver } from "./drivers/dry-run";
import { IptablesDriver } from "./drivers/iptables";
import { NftablesDriver } from "./drivers/nftables";
import { DoorMemory } from "./door-memory";
import { Reconciler } from "./reconciler";

export const AGENT_VERSION = "0.1.0";

export function createDriver(name: AgentConfig["driver"], log: Logger): Driver {
  switch (name) {
    case "nftables":
      return new NftablesDriver(log);
    case "iptables":
      return new IptablesDriver(log);
    case "dry-run":
      return new DryRunDriver(log);
  }
}

export interface RunningAgent {
  stop(): Promise<void>;
}

/** Starts the agent: prepares the firewall, drops expired rules, then dials the API. */
export async function startAgent(config: AgentConfig, log: Logger, driver = createDriver(config.driver, log)): Promise<RunningAgent> {
  await driver.init();
  // Reports go out on the connection made below; passes before it (start-up) report nothing.
  const link: { connection?: AgentConnection } = {};
  const reconciler = new Reconciler(driver, log, {
    onPass: (report) => {
      if (report.version > 0) link.connection?.send({ type: "applied", ...report });
    },
    memory: new DoorMemory(config.stateDir, log),
  });
  await reconciler.poke();
  const connection = new AgentConnection({
    url: config.url,
    token: config.token,
    name: config.name,
    driver: driver.name,
    version: AGENT_VERSION,
    log,
    onRules: (update) => void reconciler.setDesired(update.rules, update.version, update.now, update.invalid),
    onServerTime: (now) => reconciler.setServerTime(now),
  });
  link.connection = connection;
  connection.start();
  log.info({ driver: driver.name, name: config.name }, "postern agent started");
  return {
    stop: async () => {
      reconciler.stop();
      await connection.stop();
    },
  };
}
