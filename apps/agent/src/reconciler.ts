// Keeps the firewall equal to the desired set. Runs one pass at a time (the SerialPoller every
// background loop of Postern uses): on every rules message, at start (desired unknown: only
// expired rules go), and on its own timer at the next expiry, which is what closes doors on time
// when the API is unreachable.
import type { Logger } from "pino";
import type { TGatewayRule } from "@postern/contracts";
import { SerialPoller } from "@postern/runtime";
import type { DoorMemory } from "./door-memory";
import type { Driver } from "./drivers/driver";
import { HostResolver } from "./resolver";
import { diffRules, nextWake, ruleKey, toDesired, type FwRule } from "./rules";

const TRUST_MS = 30_000;
/** A clock this far from the API's is worth a warning (doors follow the API's clock anyway). */
const SKEW_WARN_MS = 5_000;
/** With no rule due, a pass still runs this often: it re-reads the firewall and repairs drift. */
const IDLE_PASS_MS = 60_000;
/** The API takes a report's error up to this length (and refuses the whole report beyond it). */
export const MAX_ERROR_CHARS = 2000;

export interface PassReport {
  /** The rules message this pass answered, or the last one received. */
  version: number;
  applied: number;
  added: number;
  removed: number;
  error?: string;
}

export interface ReconcilerOptions {
  onPass?: (report: PassReport) => void;
  /** Where the doors in force are recorded across restarts (none: not recorded). */
  memory?: DoorMemory;
  hosts?: HostResolver;
}

export class Reconciler {
  private desired: TGatewayRule[] | null = null;
  private unreadable: string[] = [];
  private version = 0;
  /** The API's time in the last message that carried it, and this process's monotonic clock
   * then. The API's clock is carried forward on the monotonic clock, not as an offset to the wall
   * clock: if NTP steps this machine's clock while the API is unreachable, a door still closes
   * when the API's time says, as the kernel's timeouts (monotonic) already did. */
  private serverClock: { at: number; mono: number } | null = null;
  private skewWarned = false;
  private readonly poller = new SerialPoller(() => this.pass());
  private stopped = false;
  /** Rules in force after the last pass (at start: as recorded by the previous run), to cut the
   * flows of those the kernel expired itself. */
  private lastKnown: Map<string, FwRule>;
  private readonly onPass: (report: PassReport) => void;
  private readonly memory: DoorMemory | undefined;
  private readonly hosts: HostResolver;
  private cutting: Promise<void> = Promise.resolve();
  /** Closed doors whose flows are still to be cut, by rule and target. */
  private readonly uncut = new Map<string, FwRule>();
  private cutQueued = false;
  /** Until when the rules of the last pass may stand in for reading the firewall back: saves one
   * tool run per change; a full read every TRUST_MS still repairs drift made by hand. */
  private trustedUntil = 0;

  constructor(
    private readonly driver: Driver,
    private readonly log: Logger,
    options: ReconcilerOptions = {},
  ) {
    this.onPass = options.onPass ?? (() => undefined);
    this.memory = options.memory;
    this.hosts = options.hosts ?? new HostResolver(() => void this.poke());
    this.lastKnown = new Map();
    // A door retargeted (same address and port, another LAN host) and then closed before a crash
    // is on record once per target: all of them are cut unless in force with that target.
    for (const r of this.memory?.load() ?? []) {
      if (this.lastKnown.has(ruleKey(r))) this.uncut.set(targetKey(r), r);
      else this.lastKnown.set(ruleKey(r), r);
    }
  }

  /** The API's complete desired set, the API's time when it sent it, and why rules of it that
   * the agent could not read were left out. */
  setDesired(rules: TGatewayRule[], version: number, serverNow?: string, unreadable: string[] = []): Promise<void> {
    this.desired = rules;
    this.unreadable = unreadable;
    this.version = version;
    this.hosts.retain(new Set(rules.map((r) => r.lanHost)));
    this.noteServerTime(serverNow);
    return this.poke();
  }

  /** Keeps the offset to the API's clock current (every ping carries its time). */
  setServerTime(serverNow: string): void {
    const before = this.skewMs();
    this.noteServerTime(serverNow);
    if (Math.abs(this.skewMs() - before) > 1000) void this.poke();
  }

  private noteServerTime(serverNow: string | undefined): void {
    const at = serverNow === undefined ? NaN : Date.parse(serverNow);
    if (!Number.isFinite(at)) return;
    this.serverClock = { at, mono: performance.now() };
    const skewMs = this.skewMs();
    const far = Math.abs(skewMs) > SKEW_WARN_MS;
    if (far && !this.skewWarned) {
      this.log.warn({ skewMs }, "this machine's clock differs from the API's; doors follow the API's clock");
    }
    this.skewWarned = far;
  }

  /** The API's clock minus this machine's, now. */
  private skewMs(): number {
    if (!this.serverClock) return 0;
    return this.serverClock.at + (performance.now() - this.serverClock.mono) - Date.now();
  }

  /** Runs a pass now (coalescing with one in flight) and resolves when the firewall is settled. */
  poke(): Promise<void> {
    if (!this.stopped && !this.poller.running) this.poller.start();
    else this.poller.poke();
    return this.poller.settled();
  }

  /** Stops passing; resolves once the pass in flight and the flow cuts it queued have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.poller.stop();
    await this.cutting;
  }

  /** Resolves when the flows of rules closed so far have been cut (tests). */
  flowsCut(): Promise<void> {
    return this.cutting;
  }

  /** One pass; resolves with how long to sleep before the next one. */
  private async pass(): Promise<number> {
    const report: PassReport = { version: this.version, applied: 0, added: 0, removed: 0 };
    let inForce: FwRule[] = [];
    let removed: FwRule[] = [];
    try {
      let desired: FwRule[] | null = null;
      let rejected = this.unreadable;
      let pending = new Map<string, number>();
      if (this.desired) {
        const wanted = toDesired(this.desired, (h) => this.hosts.resolve(h), Date.now(), this.skewMs());
        ({ rules: desired, pending } = wanted);
        rejected = [...rejected, ...wanted.rejected];
      }
      let attempt = 0;
      for (;;) {
        const now = Date.now();
        const trusted = attempt === 0 && now < this.trustedUntil;
        // Expired rules stay in: removing one the kernel already dropped is harmless, and iptables
        // keeps its rules until they are deleted.
        let diff: ReturnType<typeof diffRules>;
        try {
          const actual = trusted ? [...this.lastKnown.values()] : await this.driver.list();
          if (!trusted) this.trustedUntil = now + TRUST_MS;
          diff = diffRules(desired && withPending(desired, pending, actual), actual, now);
          // What stays is passed as the firewall holds it: its expiry, not the one wanted.
          const held = new Map(actual.map((r) => [ruleKey(r), r]));
          const kept = diff.keep.map((r) => held.get(ruleKey(r)) ?? r);
          await this.driver.apply(diff.remove, diff.add, now, kept);
        } catch (err) {
          // The kernel may have expired an element between list and apply, or the agent's table
          // or chain is gone (a firewall reload: Debian's nftables.conf begins with `flush
          // ruleset`). Make them again (keeping what they hold) and read again, once.
          if (++attempt > 1) throw err;
          this.log.warn({ err: (err as Error).message }, "reading or writing the firewall failed; preparing it again");
          this.trustedUntil = 0;
          await this.driver.init();
          continue;
        }
        report.added = diff.add.length;
        report.removed = diff.remove.length;
        inForce = [...diff.keep, ...diff.add];
        removed = diff.remove;
        const changed = diff.add.length + diff.remove.length;
        if (changed > 0) this.log.info({ added: diff.add.length, removed: diff.remove.length, rules: inForce.length }, "firewall reconciled");
        break;
      }
      report.applied = inForce.length;
      if (rejected.length) report.error = summarise(rejected);
    } catch (err) {
      this.trustedUntil = 0;
      report.error = (err as Error).message;
      this.log.error({ err: report.error }, "reconcile failed");
      inForce = [...this.lastKnown.values()];
    }
    this.cutClosed(inForce, removed);
    this.remember();
    this.onPass(report);
    return this.sleepAfter(inForce, report.error !== undefined);
  }

  /** Cuts the established flows of every rule that was in force, or was removed by this pass,
   * and is not in force now (with the same target). */
  private cutClosed(inForce: FwRule[], removed: FwRule[]): void {
    const now = new Map(inForce.map((r) => [ruleKey(r), r]));
    const open = (r: FwRule) => {
      const still = now.get(ruleKey(r));
      return still !== undefined && still.lanHost === r.lanHost && still.lanPort === r.lanPort;
    };
    for (const r of [...this.lastKnown.values(), ...removed]) if (!open(r)) this.uncut.set(targetKey(r), r);
    // Opened again before its cut: cutting now would cut the new session's flows.
    for (const [key, r] of this.uncut) if (open(r)) this.uncut.delete(key);
    this.lastKnown = now;
    if (!this.uncut.size || this.cutQueued) return;
    // In its own queue, so cutting many flows never delays the next rules.
    this.cutQueued = true;
    this.cutting = this.cutting.then(async () => {
      this.cutQueued = false;
      const batch = [...this.uncut];
      try {
        await this.driver.cutFlows(batch.map(([, r]) => r));
      } catch (err) {
        // Kept: the next pass tries again, and so does the next run (they stay on record).
        this.log.warn({ err: (err as Error).message }, "cutting flows failed");
        return;
      }
      for (const [key, r] of batch) if (this.uncut.get(key) === r) this.uncut.delete(key);
      this.remember();
    });
  }

  /** On disk: the doors in force, and those closed whose flows are not cut yet, so that a restart
   * (or a crash) before the cut still cuts them: the next run finds them recorded and not in force. */
  private remember(): void {
    this.memory?.save([...this.lastKnown.values(), ...this.uncut.values()]);
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

/** A rule with its target: one door on record per target it had. */
const targetKey = (r: FwRule) => `${ruleKey(r)} ${r.lanHost}:${r.lanPort}`;

/**
 * The desired set plus, for each rule whose LAN host is still being looked up, the forward the
 * firewall already has for it (if any): kept as it is until the lookup answers, but never past
 * the API's expiry.
 */
function withPending(desired: FwRule[], pending: Map<string, number>, actual: FwRule[]): FwRule[] {
  if (pending.size === 0) return desired;
  const held = actual.filter((r) => pending.has(ruleKey(r)) && Number.isFinite(r.expiresAt));
  return [...desired, ...held.map((r) => ({ ...r, expiresAt: Math.min(r.expiresAt, pending.get(ruleKey(r))!) }))];
}

/** The reasons rules were left out, as one line the API accepts: as many as fit, then a count. */
export function summarise(reasons: string[]): string {
  const all = reasons.join("; ");
  if (all.length <= MAX_ERROR_CHARS) return all;
  const budget = MAX_ERROR_CHARS - 40; // room for "; and N more"
  let text = reasons[0]!.slice(0, budget);
  let shown = 1;
  for (const reason of reasons.slice(1)) {
    if (text.length + 2 + reason.length > budget) break;
    text = `${text}; ${reason}`;
    shown++;
  }
  return `${text}; and ${reasons.length - shown} more`;
}
