// Firewall rules as the agent sees them, and the diff that makes the firewall equal to the
// desired set. Pure functions: the drivers only add and remove what this decides.
import { isIPv4 } from "node:net";
import type { TGatewayRule } from "@postern/contracts";
import type { Resolution } from "./resolver";

export type Protocol = "tcp" | "udp";

/** One DNAT port-forward. The kernel knows it by (protocol, sourceIp, publicPort). */
export interface FwRule {
  protocol: Protocol;
  sourceIp: string;
  publicPort: number;
  /** An IPv4 address (host names are resolved before a rule gets here). */
  lanHost: string;
  lanPort: number;
  /** Epoch milliseconds; Infinity for a rule found without an expiry (never one of ours). */
  expiresAt: number;
}

/** Timeouts longer than this are not handed to the kernel; the agent refreshes them instead. */
export const MAX_KERNEL_TIMEOUT_MS = 7 * 24 * 3600 * 1000;
/** Expiries read back from the kernel are whole seconds; closer than this counts as equal. */
export const EXPIRY_TOLERANCE_MS = 2000;

export const ruleKey = (r: Pick<FwRule, "protocol" | "sourceIp" | "publicPort">) => `${r.protocol} ${r.sourceIp} ${r.publicPort}`;

const sameTarget = (a: FwRule, b: FwRule) => a.lanHost === b.lanHost && a.lanPort === b.lanPort;

export interface DesiredSet {
  rules: FwRule[];
  /** Rules the agent cannot express, with the reason (reported to the API as the last error). */
  rejected: string[];
  /** Rules whose LAN host is still being looked up, by key, with their expiry: the firewall keeps
   * what it has for them meanwhile. */
  pending: Map<string, number>;
}

/**
 * Turns the API's rules into firewall rules: drops the expired, rejects what IPv4 DNAT cannot
 * express, and merges rules that share a kernel key (two sessions from one address on one
 * port) keeping the later expiry.
 */
export function toDesired(rules: TGatewayRule[], resolve: (host: string) => Resolution, now: number, skewMs = 0): DesiredSet {
  const byKey = new Map<string, FwRule>();
  const rejected: string[] = [];
  const pending = new Map<string, number>();
  for (const r of rules) {
    // The API's clock decides when a session ends; `skewMs` (its clock minus ours) turns that
    // into a time on this machine's clock, which the kernel timeouts and xt_time run on.
    const expiresAt = Date.parse(r.expiresAt) - skewMs;
    if (!Number.isFinite(expiresAt) || expiresAt <= now) continue;
    if (!isIPv4(r.sourceIp)) {
      rejected.push(`session ${r.sessionId}: source ${r.sourceIp} is not an IPv4 address`);
      continue;
    }
    const resolved = resolve(r.lanHost);
    if ("pending" in resolved) {
      const key = ruleKey(r);
      pending.set(key, Math.max(expiresAt, pending.get(key) ?? 0));
      continue;
    }
    if ("error" in resolved) {
      rejected.push(`session ${r.sessionId}: LAN host ${r.lanHost} does not resolve to an IPv4 address (${resolved.error})`);
      continue;
    }
    const lanHost = resolved.address;
    const rule: FwRule = { protocol: r.protocol, sourceIp: r.sourceIp, publicPort: r.publicPort, lanHost, lanPort: r.lanPort, expiresAt };
    const key = ruleKey(rule);
    const other = byKey.get(key);
    if (other && !sameTarget(other, rule)) {
      rejected.push(`session ${r.sessionId}: port ${r.protocol}/${r.publicPort} for ${r.sourceIp} already forwards to ${other.lanHost}:${other.lanPort}`);
      continue;
    }
    if (!other || other.expiresAt < expiresAt) byKey.set(key, rule);
  }
  for (const key of byKey.keys()) pending.delete(key);
  return { rules: [...byKey.values()], rejected, pending };
}

/** The expiry to give the kernel for a rule: its own, capped. */
export function kernelExpiry(rule: FwRule, now: number): number {
  return Math.min(rule.expiresAt, now + MAX_KERNEL_TIMEOUT_MS);
}

export interface RuleDiff {
  add: FwRule[];
  remove: FwRule[];
  keep: FwRule[];
}

/**
 * What to change so that `actual` becomes `desired`. A rule whose target or expiry differs is
 * removed and added again (drivers do both in one atomic batch). Expired rules are never kept;
 * `desired === null` (no word from the API yet) keeps every unexpired rule that carries an
 * expiry, so a restart without the API keeps open doors open until their own expiry, no longer.
 */
export function diffRules(desired: FwRule[] | null, actual: FwRule[], now: number): RuleDiff {
  const result: RuleDiff = { add: [], remove: [], keep: [] };
  const actualByKey = new Map(actual.map((r) => [ruleKey(r), r]));
  if (desired === null) {
    for (const r of actual) {
      if (Number.isFinite(r.expiresAt) && r.expiresAt > now) result.keep.push(r);
      else result.remove.push(r);
    }
    return result;
  }
  const wanted = new Map(desired.filter((r) => r.expiresAt > now).map((r) => [ruleKey(r), r]));
  for (const [key, want] of wanted) {
    const have = actualByKey.get(key);
    if (!have) {
      result.add.push(want);
      continue;
    }
    const target = kernelExpiry(want, now);
    const capped = target < want.expiresAt;
    const expiryOk = capped
      ? Number.isFinite(have.expiresAt) && have.expiresAt > now + MAX_KERNEL_TIMEOUT_MS / 2
      : Math.abs(have.expiresAt - target) <= EXPIRY_TOLERANCE_MS;
    if (sameTarget(have, want) && expiryOk) result.keep.push(want);
    else {
      result.remove.push(have);
      result.add.push(want);
    }
  }
  for (const [key, have] of actualByKey) if (!wanted.has(key)) result.remove.push(have);
  return result;
}

/** When the agent must look again by itself: the earliest expiry, or a refresh of a capped one. */
export function nextWake(rules: FwRule[], now: number): number | null {
  let next: number | null = null;
  for (const r of rules) {
    const at = Math.min(r.expiresAt, now + MAX_KERNEL_TIMEOUT_MS / 2);
    if (next === null || at < next) next = at;
  }
  return next;
}
