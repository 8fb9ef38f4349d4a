// The agents connected to this API instance and the rules pushed to each. A connection gets the
// complete desired set on connect, right after every committed session or service change on
// this instance, and from a poll every POLL_MS: changes made on another instance (PostgreSQL,
// several replicas) reach an agent through that poll, since the desired set is recomputed from
// the database and pushed only when it differs from what was last sent.
import type { TGatewayRule, TServerToAgentMessage } from "@postern/contracts";
import type { DbContext } from "../../lib/db-context";
import { doorCount } from "./gateway.presenter";
import { findDesiredRules } from "./gateway.service";

export const POLL_MS = 2000;

export interface AgentLink {
  agentId: string;
  send(message: TServerToAgentMessage): void;
}

interface LinkState {
  link: AgentLink;
  version: number;
  lastSent: string | undefined;
  desired: number;
  /** Serialises refreshes so rule sets never overtake each other on the wire. */
  running: Promise<void>;
  again: boolean;
  busy: boolean;
}

export class AgentHub {
  private readonly links = new Map<AgentLink, LinkState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: DbContext,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.refreshAll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  add(link: AgentLink): void {
    this.links.set(link, { link, version: 0, lastSent: undefined, desired: 0, running: Promise.resolve(), again: false, busy: false });
    this.refresh(link);
  }

  remove(link: AgentLink): void {
    this.links.delete(link);
  }

  /** How many doors the rules last sent to this connection make. */
  desiredCount(link: AgentLink): number {
    return this.links.get(link)?.desired ?? 0;
  }

  /** Whether this process holds a connection of the agent (another socket after a reconnect). */
  holds(agentId: string): boolean {
    for (const link of this.links.keys()) if (link.agentId === agentId) return true;
    return false;
  }

  connectedAgentIds(): Set<string> {
    return new Set([...this.links.keys()].map((l) => l.agentId));
  }

  refreshAll(): void {
    for (const link of this.links.keys()) this.refresh(link);
  }

  refresh(link: AgentLink): void {
    const state = this.links.get(link);
    if (!state) return;
    if (state.busy) {
      state.again = true;
      return;
    }
    state.busy = true;
    state.running = this.push(state)
      .catch(this.onError)
      .finally(() => {
        state.busy = false;
        if (state.again) {
          state.again = false;
          this.refresh(link);
        }
      });
  }

  /** Waits for the refreshes in flight (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.links.values()].map((s) => s.running));
  }

  private async push(state: LinkState): Promise<void> {
    const rules: TGatewayRule[] = await findDesiredRules(this.ctx, state.link.agentId);
    if (!this.links.has(state.link)) return;
    const key = JSON.stringify(rules);
    if (key === state.lastSent) return;
    state.lastSent = key;
    state.version += 1;
    state.desired = doorCount(rules);
    state.link.send({ type: "rules", version: state.version, rules, now: this.ctx.now().toISOString() });
  }
}
