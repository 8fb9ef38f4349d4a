// What every firewall driver offers. The reconciler decides; a driver only reads and writes
// its own table or chains and nothing else on the host.
import type { FwRule } from "../rules";

export interface Driver {
  readonly name: string;
  /** Checks the tool and privileges, creates the driver's own table or chains if missing
   * (keeping the rules in them). Throws a DriverError with an actionable message. */
  init(): Promise<void>;
  /** The rules in the driver's table now, with their expiries. */
  list(): Promise<FwRule[]>;
  /** Removes then adds, in one atomic batch where the tool allows it; `keep` is what stays in
   * force (for a driver that writes a derived chain whole). */
  apply(remove: FwRule[], add: FwRule[], now: number, keep?: FwRule[]): Promise<void>;
  /** Cuts established flows of rules that were removed (NAT decisions live on in conntrack). */
  cutFlows(rules: FwRule[]): Promise<void>;
  /** Removes the driver's table or chains entirely (`postern-agent flush`). */
  teardown(): Promise<void>;
}
