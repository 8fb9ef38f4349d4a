// The nftables driver: everything lives in the table `ip postern`. Each forward is an element of
// a verdict map keyed by (source address . public port) with a kernel `timeout`, so the kernel
// itself drops it at expiry even if the agent is dead; one rule per protocol does the DNAT.
// The kernel consults NAT only for a connection's first packet, so the connections a door made
// are labelled, and a filter rule drops their packets once their door's element is gone: a door
// ends at its expiry for open connections too, with no agent alive to cut them.
import type { Logger } from "pino";
import { kernelExpiry, type FwRule, type Protocol } from "../rules";
import type { Driver } from "./driver";
import { makeFlowCutter } from "./conntrack";
import { DriverError, looksUnprivileged, PRIVILEGE_HINT, run } from "./exec";

export const NFT_TABLE = "postern";
const PROTOCOLS: Protocol[] = ["tcp", "udp"];
const mapOf = (p: Protocol) => `${p}_fwd`;
/** The map's keys again, as a set: kernels before 6.5 refuse a map looked up as a set. */
const setOf = (p: Protocol) => `${p}_open`;
const INSTALL = "apt-get install nftables, or set POSTERN_AGENT_DRIVER=iptables or dry-run";
/** The conntrack label bit (0–127) on connections a door let in; the iptables driver uses it too. */
export const FLOW_LABEL = 77;

function schema(): string {
  const lines = [`add table ip ${NFT_TABLE}`];
  for (const p of PROTOCOLS) {
    lines.push(`add map ip ${NFT_TABLE} ${mapOf(p)} { type ipv4_addr . inet_service : ipv4_addr . inet_service; flags timeout; }`);
    lines.push(`add set ip ${NFT_TABLE} ${setOf(p)} { type ipv4_addr . inet_service; flags timeout; }`);
  }
  lines.push(`add chain ip ${NFT_TABLE} prerouting { type nat hook prerouting priority dstnat; policy accept; }`);
  // Flushing and re-adding our own chain in the same batch keeps init idempotent and atomic.
  lines.push(`flush chain ip ${NFT_TABLE} prerouting`);
  // Only packets addressed to the gateway itself: a LAN client holding a door must still reach
  // the rest of the world on that port (its traffic passes through this hook too).
  for (const p of PROTOCOLS) {
    lines.push(`add rule ip ${NFT_TABLE} prerouting fib daddr type local meta l4proto ${p} ip saddr . ${p} dport @${setOf(p)} ct label set ${FLOW_LABEL}`);
    lines.push(`add rule ip ${NFT_TABLE} prerouting fib daddr type local meta l4proto ${p} dnat ip to ip saddr . ${p} dport map @${mapOf(p)}`);
  }
  // Both directions of a labelled connection are judged by its first packet's key, so replies
  // stop too. Only labelled connections: the host's own forwards pass as they did.
  lines.push(`add chain ip ${NFT_TABLE} forward { type filter hook forward priority filter; policy accept; }`);
  lines.push(`flush chain ip ${NFT_TABLE} forward`);
  for (const p of PROTOCOLS) {
    lines.push(
      `add rule ip ${NFT_TABLE} forward ct label ${FLOW_LABEL} meta l4proto ${p} ct original ip saddr . ct original proto-dst != @${setOf(p)} drop`,
    );
  }
  return lines.join("\n") + "\n";
}

const keyOf = (r: FwRule) => `${r.sourceIp} . ${r.publicPort}`;
const valueOf = (r: FwRule) => `${r.lanHost} . ${r.lanPort}`;

/** The nft batch that removes then adds, atomically. */
export function applyScript(remove: FwRule[], add: FwRule[], now: number): string {
  const lines: string[] = [];
  for (const r of remove) {
    // Adding the element as it is first makes the delete succeed even if the kernel expired it
    // a moment ago; both happen in this one transaction.
    lines.push(`add element ip ${NFT_TABLE} ${mapOf(r.protocol)} { ${keyOf(r)} timeout 1s : ${valueOf(r)} }`);
    lines.push(`delete element ip ${NFT_TABLE} ${mapOf(r.protocol)} { ${keyOf(r)} }`);
    lines.push(`add element ip ${NFT_TABLE} ${setOf(r.protocol)} { ${keyOf(r)} timeout 1s }`);
    lines.push(`delete element ip ${NFT_TABLE} ${setOf(r.protocol)} { ${keyOf(r)} }`);
  }
  for (const r of add) {
    const ms = Math.max(1, Math.ceil(kernelExpiry(r, now) - now));
    lines.push(`add element ip ${NFT_TABLE} ${mapOf(r.protocol)} { ${keyOf(r)} timeout ${ms}ms : ${valueOf(r)} }`);
    // The same key for as long: the filter rule lets the door's connections through while it is there.
    lines.push(`add element ip ${NFT_TABLE} ${setOf(r.protocol)} { ${keyOf(r)} timeout ${ms}ms }`);
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}

interface NftConcat {
  concat: [string, number];
}
interface NftElem {
  elem?: { val: NftConcat; timeout?: number; expires?: number };
  concat?: [string, number];
}

/** Reads the elements of our maps out of `nft -j list table` output. */
export function parseTable(json: string, now: number): FwRule[] {
  const doc = JSON.parse(json) as { nftables?: Record<string, unknown>[] };
  const rules: FwRule[] = [];
  for (const item of doc.nftables ?? []) {
    const map = item.map as { name?: string; elem?: [NftElem, NftConcat][] } | undefined;
    if (!map?.name) continue;
    const protocol = PROTOCOLS.find((p) => mapOf(p) === map.name);
    if (!protocol) continue;
    for (const [key, value] of map.elem ?? []) {
      const k = key.elem ? key.elem.val.concat : key.concat;
      if (!k || !value?.concat) continue;
      const expires = key.elem?.expires;
      rules.push({
        protocol,
        sourceIp: k[0],
        publicPort: Number(k[1]),
        lanHost: value.concat[0],
        lanPort: Number(value.concat[1]),
        expiresAt: typeof expires === "number" ? now + expires * 1000 : Infinity,
      });
    }
  }
  return rules;
}

export class NftablesDriver implements Driver {
  readonly name = "nftables";
  readonly cutFlows: (rules: FwRule[]) => Promise<void>;

  constructor(log: Logger) {
    this.cutFlows = makeFlowCutter(log);
  }

  async init(): Promise<void> {
    await run("nft", ["--version"], undefined, { installHint: INSTALL });
    try {
      await run("nft", ["-f", "-"], schema());
    } catch (err) {
      throw new DriverError(`cannot create the nftables table ip ${NFT_TABLE}: ${(err as Error).message}`);
    }
  }

  async list(): Promise<FwRule[]> {
    const now = Date.now();
    const res = await run("nft", ["-j", "list", "table", "ip", NFT_TABLE], undefined, { allowFailure: true, installHint: INSTALL });
    if (res.code !== 0) {
      if (/No such file or directory/.test(res.stderr)) return [];
      if (looksUnprivileged(res.stderr)) throw new DriverError(`nft lacks privileges to read table ip ${NFT_TABLE}; ${PRIVILEGE_HINT}`);
      throw new DriverError(`nft cannot list table ip ${NFT_TABLE}: ${res.stderr.trim()}`);
    }
    return parseTable(res.stdout, now);
  }

  async apply(remove: FwRule[], add: FwRule[], now: number): Promise<void> {
    const script = applyScript(remove, add, now);
    if (script) await run("nft", ["-f", "-"], script, { installHint: INSTALL });
  }

  async teardown(): Promise<void> {
    await run("nft", ["delete", "table", "ip", NFT_TABLE], undefined, { allowFailure: true, installHint: INSTALL });
  }
}
