// Deletes the conntrack entries of removed forwards: without this an established connection
// would outlive its rule, because the kernel only consults the NAT rules for new flows.
// One listing finds the flows that exist; only those are deleted, so removing 1,000 rules
// costs one `conntrack -L`, not 1,000 deletes.
import type { Logger } from "pino";
import type { FwRule } from "../rules";
import { run, type RunResult } from "./exec";

const flowKey = (protocol: string, src: string, dport: string | number, replySrc: string, replySport: string | number) =>
  `${protocol} ${src} ${dport} ${replySrc} ${replySport}`;

/** The DNAT'd flows in `conntrack -L` output, keyed like the rules that made them. */
export function parseFlows(text: string): Set<string> {
  const keys = new Set<string>();
  for (const line of text.split("\n")) {
    const protocol = /^(tcp|udp)\b/.exec(line)?.[1];
    if (!protocol) continue;
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]!);
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]!);
    const sport = [...line.matchAll(/\bsport=(\d+)/g)].map((m) => m[1]!);
    const dport = [...line.matchAll(/\bdport=(\d+)/g)].map((m) => m[1]!);
    if (src.length < 2 || dst.length < 1 || sport.length < 2 || dport.length < 1) continue;
    // Only flows a DNAT redirected (their reply comes from elsewhere than they were sent to): the
    // holder's own connections straight to the LAN host, on the same port, are not the door's.
    if (dst[0] === src[1]) continue;
    keys.add(flowKey(protocol, src[0]!, dport[0]!, src[1]!, sport[1]!));
  }
  return keys;
}

export function makeFlowCutter(log: Logger): (rules: FwRule[]) => Promise<void> {
  let missingWarned = false;
  return async (rules) => {
    if (rules.length === 0) return;
    let listed: RunResult;
    try {
      listed = await run("conntrack", ["-L"], undefined, { allowFailure: true, installHint: "apt-get install conntrack" });
    } catch (err) {
      // No conntrack tool: nothing to retry until someone installs it.
      if (!missingWarned) log.warn({ err: (err as Error).message }, "cannot cut established flows of removed rules");
      missingWarned = true;
      return;
    }
    // A listing that failed is not "no flows": the caller keeps the rules and tries again.
    if (listed.code !== 0) throw new Error(`conntrack -L failed: ${listed.stderr.trim() || `exit code ${listed.code}`}`);
    const flows = parseFlows(listed.stdout);
    for (const r of rules) {
      if (!flows.has(flowKey(r.protocol, r.sourceIp, r.publicPort, r.lanHost, r.lanPort))) continue;
      // prettier-ignore
      await run("conntrack", [
        "-D", "-p", r.protocol,
        "--orig-src", r.sourceIp, "--orig-port-dst", String(r.publicPort),
        "--reply-src", r.lanHost, "--reply-port-src", String(r.lanPort),
        "--dst-nat",
      ], undefined, { allowFailure: true });
    }
  };
}
