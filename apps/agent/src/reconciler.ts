// Keeps the firewall equal to the desired set. Runs one pass at a time (the SerialPoller every
// background loop of Postern uses): on every rules message, at start (desired unknown: only
// expired rules go), and on its own timer at the next expiry, which is what closes doors on time
// when the API is unreachable.
import { lookup } from "node:dns/promises";
import { isIPv4 } from "node:net";
import type { Logger } from "pino";
import type { TGatewayRule } from "@postern/contracts";
import { SerialPoller } from "@postern/runtime";
import type { Driver } from "./drivers/driver";
import { diffRules, nextWake, ruleKey, toDesired, type FwRule } from "./rules";

const TRUST_MS = 30_000;
/** With no rule due, a pass still runs this often: it re-reads the firewall and repairs drift. */
const IDLE_PASS_MS = 60_000;

export interface PassReport {
  /** The rules message this pass answered, or the last one received. */
  version: number;
  applied: number;
  added: number;
  removed: number;
  error?: string;
}

export class Reconciler {
  private desired: TGatewayRule[] | null = null;
  private version = 0;
  private readonly poller = new SerialPoller(() => this.pass());
  private stopped = false;
  /** Rules in force after the last pass, to cut the flows of those the kernel expired itself. */
  private lastKnown = new Map<string, FwRule>();
  private readonly resolved = new Map<string, string>();
  private cutting: Promise<void> = Promise.resolve();
  /** Until when the rules of the last pass may stand in for reading the firewall back: saves one
   * tool run per change; a full read every TRUST_MS still repairs drift made by hand. */
  private trustedUntil = 0;

  constructor(
    private readonly driver: Driver,
    private readonly log: Logger,
    private readonly onPass: (report: PassReport) => void = () => undefined,
  ) {}

  /** The API's complete desired set. */
  setDesired(rules: TGatewayRule[], version: number): Promise<void> {
    this.desired = rules;
    this.version = version;
    return this.poke();
  }

  /** Runs a pass now (coalescing with one in flight) and resolves when the firewall is settled. */
  poke(): Promise<void> {
    if (!this.stopped && !this.poller.running) this.poller.start();
    else this.poller.poke();
    return this.poller.settled();
  }

  stop(): void {
    this.stopped = true;
    void this.poller.stop();
  }

  /** Resolves when the flows of rules closed so far have been cut (tests). */
  flowsCut(): Promise<void> {
    return this.cutting;
  }

  private async resolveHosts(rules: TGatewayRule[]): Promise<void> {
    for (const { lanHost } of rules) {
      if (isIPv4(lanHost) || this.resolved.has(lanHost)) continue;
      try {
        this.resolved.set(lanHost, (await lookup(lanHost, { family: 4 })).address);
      } catch {
        // Left unresolved: toDesired reports it as a rule the agent cannot apply.
      }
    }
  }

  /** One pass; resolves with how long to sleep before the next one. */
  private async pass(): Promise<number> {
    const report: PassReport = { version: this.version, applied: 0, added: 0, removed: 0 };
    let inForce: FwRule[] = [];
    try {
      let desired: FwRule[] | null = null;
      let rejected: string[] = [];
      if (this.desired) {
        await this.resolveHosts(this.desired);
        ({ rules: desired, rejected } = toDesired(this.desired, (h) => (isIPv4(h) ? h : this.resolved.get(h)), Date.now()));
      }
      let attempt = 0;
      for (;;) {
        const now = Date.now();
        const trusted = attempt === 0 && now < this.trustedUntil;
        // Expired rules stay in: removing one the kernel already dropped is harmless, and iptables
        // keeps its rules until they are deleted.
        const actual = trusted ? [...this.lastKnown.values()] : await this.driver.list();
        if (!trusted) this.trustedUntil = now + TRUST_MS;
        const diff = diffRules(desired, actual, now);
        try {
          await this.driver.apply(diff.remove, diff.add, now);
        } catch (err) {
          // The kernel may have expired an element between list and apply; read again once.
          if (++attempt > 1) throw err;
          this.log.warn({ err: (err as Error).message }, "apply failed; reading the firewall again");
          continue;
        }
        report.added = diff.add.length;
        report.removed = diff.remove.length;
        inForce = [...diff.keep, ...diff.add];
        const changed = diff.add.length + diff.remove.length;
        if (changed > 0) this.log.info({ added: diff.add.length, removed: diff.remove.length, rules: inForce.length }, "firewall reconciled");
        break;
      }
      report.applied = inForce.length;
      if (rejected.length) report.error = rejected.join("; ");
    } catch (err) {
      this.trustedUntil = 0;
      report.error = (err as Error).message;
      this.log.error({ err: report.error }, "reconcile failed");
      inForce = [...this.lastKnown.values()];
    }
    this.cutClosed(inForce);
    this.onPass(report);
    return this.sleepAfter(inForce, report.error !== undefined);
  }

  /** Cuts the established flows of every rule that was in force and is not any more. */
  private cutClosed(inForce: FwRule[]): void {
    const now = new Map(inForce.map((r) => [ruleKey(r), r]));
    const closed = [...this.lastKnown.entries()]
      .filter(([key, r]) => {
        const still = now.get(key);
        return !still || still.lanHost !== r.lanHost || still.lanPort !== r.lanPort;
      })
      .map(([, r]) => r);
    this.lastKnown = now;
    if (!closed.length) return;
    // In its own queue, so cutting many flows never delays the next rules.
    this.cutting = this.cutting
      .then(() => this.driver.cutFlows(closed))
      .catch((err) => this.log.warn({ err: (err as Error).message }, "cutting flows failed"));
  }

  /** Until the next rule expires (to cut its flows on time), sooner after a failure. */
  private sleepAfter(inForce: FwRule[], failed: boolean): number {
    const now = Date.now();
    let at = nextWake(inForce, now) ?? now + IDLE_PASS_MS;
    // After a failure try again soon; the kernel timeouts already hold the line meanwhile.
    if (failed) at = Math.min(at, now + 5000);
    return Math.min(IDLE_PASS_MS, Math.max(0, at - now) + 5);
  }
}
