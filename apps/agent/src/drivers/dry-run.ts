// The dry-run driver: keeps the rules in memory and logs every change it would make. For trying
// the agent on a machine without firewall privileges, and for tests.
import type { Logger } from "pino";
import { ruleKey, type FwRule } from "../rules";
import type { Driver } from "./driver";

export class DryRunDriver implements Driver {
  readonly name = "dry-run";
  private readonly rules = new Map<string, FwRule>();

  constructor(private readonly log: Logger) {}

  async init(): Promise<void> {
    this.log.info("dry-run driver: no firewall is changed; rules are only logged");
  }

  async list(): Promise<FwRule[]> {
    // Mirrors a kernel timeout: an expired rule is gone when read back.
    const now = Date.now();
    for (const [key, r] of this.rules) if (r.expiresAt <= now) this.rules.delete(key);
    return [...this.rules.values()];
  }

  async apply(remove: FwRule[], add: FwRule[]): Promise<void> {
    for (const r of remove) {
      this.rules.delete(ruleKey(r));
      this.log.info({ rule: r }, `dry-run: would remove ${describe(r)}`);
    }
    for (const r of add) {
      this.rules.set(ruleKey(r), r);
      this.log.info({ rule: r }, `dry-run: would add ${describe(r)}`);
    }
  }

  async cutFlows(rules: FwRule[]): Promise<void> {
    for (const r of rules) this.log.info(`dry-run: would cut established flows of ${describe(r)}`);
  }

  async teardown(): Promise<void> {
    this.rules.clear();
  }
}

export function describe(r: FwRule): string {
  const until = Number.isFinite(r.expiresAt) ? new Date(r.expiresAt).toISOString() : "no expiry";
  return `${r.protocol} ${r.sourceIp} -> :${r.publicPort} => ${r.lanHost}:${r.lanPort} until ${until}`;
}
