// The iptables driver: rules live in the nat chain POSTERN-DNAT, reached by one jump from
// PREROUTING. Each rule carries `-m time --datestop` so the kernel stops matching at expiry even
// if the agent is dead, and a comment with the exact expiry so the agent can read it back.
// NAT is consulted only for a connection's first packet, so each rule also labels the connection,
// and the filter chain POSTERN-FWD (one jump from FORWARD) drops labelled connections whose door
// has no time left: open connections end at the door's expiry even with no agent to cut them.
import type { Logger } from "pino";
import { kernelExpiry, type FwRule, type Protocol } from "../rules";
import type { Driver } from "./driver";
import { makeFlowCutter } from "./conntrack";
import { DriverError, run } from "./exec";
import { FLOW_LABEL } from "./nftables";

export const IPT_CHAIN = "POSTERN-DNAT";
export const IPT_FILTER_CHAIN = "POSTERN-FWD";
const INSTALL = "apt-get install iptables, or set POSTERN_AGENT_DRIVER=nftables or dry-run";

/** xt_time takes whole seconds in UTC and matches through the whole of its last second: the
 * second before the expiry's rounded-up one, so that a rule the agent cannot remove (it is down)
 * stops matching less than 1 s after its expiry, and never before it. */
const datestop = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000 - 1000).toISOString().slice(0, 19);

/** The rule's specification after `-A POSTERN-DNAT`, exactly as `iptables -S` prints it back. */
export function ruleSpec(r: FwRule, now: number): string {
  const expiry = Math.ceil(kernelExpiry(r, now));
  return [
    `-s ${r.sourceIp}/32 -p ${r.protocol} -m ${r.protocol} --dport ${r.publicPort}`,
    // Only packets addressed to the gateway itself: a LAN client holding a door must still reach
    // the rest of the world on that port (its traffic passes through PREROUTING too).
    `-m addrtype --dst-type LOCAL`,
    `-m time --datestop ${datestop(expiry)}`,
    `-m connlabel --label "${FLOW_LABEL}" --set`,
    `-m comment --comment "postern exp=${expiry}"`,
    `-j DNAT --to-destination ${r.lanHost}:${r.lanPort}`,
  ].join(" ");
}

// A rule without the label (an older agent's) is read as foreign: replaced, so that its new
// connections are labelled too.
const LINE = new RegExp(
  String.raw`^-A POSTERN-DNAT -s (\d+\.\d+\.\d+\.\d+)\/32 -p (tcp|udp) -m (?:tcp|udp) --dport (\d+) -m addrtype --dst-type LOCAL(?: .*?)?` +
    String.raw` -m connlabel --label "?${FLOW_LABEL}"? --set(?: -m comment --comment "?postern exp=(\d+)"?)? -j DNAT --to-destination (\d+\.\d+\.\d+\.\d+):(\d+)$`,
);

const JUMPS = [
  ["nat", "PREROUTING", IPT_CHAIN],
  ["filter", "FORWARD", IPT_FILTER_CHAIN],
] as const;

export interface ListedRule extends FwRule {
  /** The line as listed, for an exact delete. */
  spec: string;
}

/** Reads our rules from `iptables -t nat -S POSTERN-DNAT`; lines it cannot read are returned as
 * foreign (and removed by the next apply: rules written by an older agent, without the
 * local-destination match, are replaced that way). */
export function parseChain(text: string): { rules: ListedRule[]; foreign: string[] } {
  const rules: ListedRule[] = [];
  const foreign: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`-A ${IPT_CHAIN} `)) continue;
    const m = LINE.exec(line);
    if (!m) {
      foreign.push(line.slice(`-A ${IPT_CHAIN} `.length));
      continue;
    }
    rules.push({
      sourceIp: m[1]!,
      protocol: m[2] as Protocol,
      publicPort: Number(m[3]),
      expiresAt: m[4] ? Number(m[4]) : Infinity,
      lanHost: m[5]!,
      lanPort: Number(m[6]),
      spec: line.slice(`-A ${IPT_CHAIN} `.length),
    });
  }
  return { rules, foreign };
}

/** The filter chain, written whole: a door's connections pass until its expiry (by the same
 * `--datestop` as its DNAT rule), then every labelled connection is dropped. The filter table
 * comes first in the batch, so a new door's connections are let through before its DNAT admits
 * them, and a closing door's stop before its DNAT goes. */
export function filterScript(inForce: FwRule[], now: number): string[] {
  const lines = ["*filter", `-F ${IPT_FILTER_CHAIN}`];
  for (const r of inForce) {
    const expiry = Math.ceil(kernelExpiry(r, now));
    lines.push(
      // By the connection's protocol, not the packet's: an ICMP error about the connection (path
      // MTU discovery) belongs to it and must pass too.
      `-A ${IPT_FILTER_CHAIN} -m conntrack --ctproto ${r.protocol} --ctorigsrc ${r.sourceIp}/32 --ctorigdstport ${r.publicPort} -m time --datestop ${datestop(expiry)} -j RETURN`,
    );
  }
  lines.push(`-A ${IPT_FILTER_CHAIN} -m connlabel --label "${FLOW_LABEL}" -j DROP`, "COMMIT");
  return lines;
}

export function restoreScript(remove: FwRule[], add: FwRule[], now: number, keep: FwRule[] = []): string {
  const lines = [...filterScript([...keep, ...add], now), "*nat"];
  for (const r of remove) lines.push(`-D ${IPT_CHAIN} ${(r as Partial<ListedRule>).spec ?? ruleSpec(r, now)}`);
  for (const r of add) lines.push(`-A ${IPT_CHAIN} ${ruleSpec(r, now)}`);
  lines.push("COMMIT");
  return lines.join("\n") + "\n";
}

export class IptablesDriver implements Driver {
  readonly name = "iptables";
  readonly cutFlows: (rules: FwRule[]) => Promise<void>;
  private foreign: string[] = [];

  constructor(log: Logger) {
    this.cutFlows = makeFlowCutter(log);
  }

  async init(): Promise<void> {
    await run("iptables", ["--version"], undefined, { installHint: INSTALL });
    for (const [table, , chain] of JUMPS) {
      const exists = await run("iptables", ["-w", "-t", table, "-S", chain], undefined, { allowFailure: true });
      if (exists.code === 0) continue;
      try {
        await run("iptables", ["-w", "-t", table, "-N", chain]);
      } catch (err) {
        throw new DriverError(`cannot create the iptables chain ${chain}: ${(err as Error).message}`);
      }
    }
    // The two lines Postern adds outside its own chains: the jumps into them.
    for (const [table, hook, chain] of JUMPS) {
      const jump = await run("iptables", ["-w", "-t", table, "-C", hook, "-j", chain], undefined, { allowFailure: true });
      if (jump.code !== 0) await run("iptables", ["-w", "-t", table, "-I", hook, "1", "-j", chain]);
    }
  }

  async list(): Promise<FwRule[]> {
    const res = await run("iptables", ["-w", "-t", "nat", "-S", IPT_CHAIN], undefined, { installHint: INSTALL });
    // A reload of the host's rules (netfilter-persistent, iptables-restore of a saved set) may
    // drop the jump and keep the chain: every door would be listed and none would work.
    for (const [table, hook, chain] of JUMPS) {
      const jump = await run("iptables", ["-w", "-t", table, "-C", hook, "-j", chain], undefined, { allowFailure: true });
      if (jump.code !== 0) throw new DriverError(`the jump from ${hook} into ${chain} is missing`);
    }
    const { rules, foreign } = parseChain(res.stdout);
    this.foreign = foreign;
    return rules;
  }

  async apply(remove: FwRule[], add: FwRule[], now: number, keep: FwRule[] = []): Promise<void> {
    // Lines in our chain that we did not write (edited by hand) go too: the chain is ours.
    const foreign = this.foreign.map((spec) => ({ spec }) as unknown as FwRule);
    this.foreign = [];
    if (remove.length + add.length + foreign.length === 0) return;
    await run("iptables-restore", ["-w", "--noflush"], restoreScript([...foreign, ...remove], add, now, keep), { installHint: INSTALL });
  }

  async teardown(): Promise<void> {
    for (const [table, hook, chain] of JUMPS) {
      await run("iptables", ["-w", "-t", table, "-D", hook, "-j", chain], undefined, { allowFailure: true });
      await run("iptables", ["-w", "-t", table, "-F", chain], undefined, { allowFailure: true });
      await run("iptables", ["-w", "-t", table, "-X", chain], undefined, { allowFailure: true });
    }
  }
}
