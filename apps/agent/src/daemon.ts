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
  if (sentInClear(config.url)) {
    log.warn({ url: config.url }, "the agent token and every door travel unencrypted to a remote API; use an https:// URL (or a tunnel)");
  }
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
      await connection.stop();
      // The pass in flight and the flow cuts it queued end first: a door closed just before a
      // restart still has its flows cut.
      await reconciler.stop();
    },
  };
}

/** A plain http:// or ws:// URL to anything but this machine: whoever is on the path can read the
 * token (and with it every holder's address) and send rules. */
export function sentInClear(url: string): boolean {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || !/^(http|ws):$/.test(parsed.protocol)) return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  return !(host === "localhost" || host === "::1" || /^127\./.test(host));
}
