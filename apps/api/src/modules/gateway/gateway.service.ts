// Gateway agents: who they are, what rules they should hold, and what they report back.
// The desired rules are always computed from the database, so any API instance gives the same
// answer and nothing is lost across restarts.
import type { TGatewayRule } from "@postern/contracts";
import type { Agent } from "@postern/db";
import { AppError } from "../../errors";
import { writeAudit, type Actor } from "../audit/audit.service";
import { inTransaction, type DbContext } from "../../lib/db-context";
import { presentRule, type AgentRow } from "./gateway.presenter";

/** The rules agent `agentId` should hold now: one per active, unexpired session with a source
 * address on a service bound to it. */
export async function findDesiredRules(ctx: DbContext, agentId: string): Promise<TGatewayRule[]> {
  const sessions = await ctx.db.accessSession.findMany({
    where: {
      status: "active",
      expiresAt: { gt: ctx.now() },
      sourceIp: { not: null },
      service: { gatewayAgentId: agentId },
    },
    include: { service: true },
    orderBy: [{ expiresAt: "asc" }, { id: "asc" }],
  });
  return sessions.map(presentRule).filter((r): r is TGatewayRule => r !== null);
}

export function findAgents(ctx: DbContext): Promise<AgentRow[]> {
  return ctx.db.agent.findMany({
    include: { services: { select: { id: true, name: true, slug: true }, orderBy: { name: "asc" } } },
    orderBy: { name: "asc" },
  });
}

export interface AgentHello {
  name: string;
  driver: string;
  version?: string;
  token: { id: string; name: string };
  ip: string;
}

const tokenActor = (token: { id: string; name: string }): Actor => ({ id: `token:${token.id}`, username: `token:${token.name}` });

/**
 * Records an agent's connection, creating its row on first contact. A name stays bound to the
 * token that first claimed it while that token is valid, so one agent token cannot pose as
 * another gateway.
 */
export async function connectAgent(ctx: DbContext, hello: AgentHello): Promise<Agent> {
  return inTransaction(ctx, async (tx) => {
    const now = ctx.now();
    const existing = await tx.agent.findUnique({ where: { name: hello.name } });
    if (existing?.tokenId && existing.tokenId !== hello.token.id) {
      const owner = await tx.apiToken.findUnique({ where: { id: existing.tokenId } });
      if (owner && !owner.revokedAt && (!owner.expiresAt || owner.expiresAt > now)) {
        throw new AppError("forbidden", `the agent name "${hello.name}" belongs to another agent token`);
      }
    }
    const agent = existing
      ? await tx.agent.update({
          where: { id: existing.id },
          data: { online: true, lastSeenAt: now, tokenId: hello.token.id },
        })
      : await tx.agent.create({ data: { name: hello.name, online: true, lastSeenAt: now, tokenId: hello.token.id } });
    await writeAudit(ctx, tx, {
      actor: tokenActor(hello.token),
      action: "agent.connected",
      target: `agent:${agent.id}`,
      sourceIp: hello.ip,
      details: { name: agent.name, driver: hello.driver, version: hello.version, created: !existing },
    });
    return agent;
  });
}

export async function disconnectAgent(ctx: DbContext, agentId: string, reason: string): Promise<void> {
  await inTransaction(ctx, async (tx) => {
    const agent = await tx.agent.update({ where: { id: agentId }, data: { online: false, lastSeenAt: ctx.now() } });
    await writeAudit(ctx, tx, {
      action: "agent.disconnected",
      target: `agent:${agentId}`,
      details: { name: agent.name, reason },
    });
  });
}

/** A heartbeat: keeps `lastSeenAt` fresh so a dead instance's agents read as offline. */
export async function touchAgent(ctx: DbContext, agentId: string): Promise<void> {
  await ctx.db.agent.update({ where: { id: agentId }, data: { lastSeenAt: ctx.now(), online: true } });
}

export interface ApplyReport {
  desired: number;
  applied: number;
  added: number;
  removed: number;
  error?: string;
}

/** Stores what the agent reports; rule changes and new errors go into the audit trail. */
/** Whether what the board shows about the agent's doors changed (applied count or error). */
export async function recordApplied(ctx: DbContext, agentId: string, report: ApplyReport): Promise<boolean> {
  return inTransaction(ctx, async (tx) => {
    const before = await tx.agent.findUniqueOrThrow({ where: { id: agentId } });
    const lastError = report.error ?? null;
    await tx.agent.update({
      where: { id: agentId },
      data: {
        rulesApplied: report.applied,
        rulesDesired: report.desired,
        lastError,
        lastSeenAt: ctx.now(),
      },
    });
    const changed = before.rulesApplied !== report.applied || before.rulesDesired !== report.desired || lastError !== before.lastError;
    if (report.added === 0 && report.removed === 0 && lastError === before.lastError) return changed;
    await writeAudit(ctx, tx, {
      action: "agent.rules_applied",
      target: `agent:${agentId}`,
      details: { name: before.name, ...report },
    });
    return true;
  });
}

/** The services bound to an agent, whose board cards show its state. */
export async function boundServiceIds(ctx: DbContext, agentId: string): Promise<string[]> {
  const rows = await ctx.db.service.findMany({ where: { gatewayAgentId: agentId }, select: { id: true } });
  return rows.map((r) => r.id);
}
