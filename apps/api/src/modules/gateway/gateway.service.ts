// Gateway agents: who they are, what rules they should hold, and what they report back.
// The desired rules are always computed from the database, so any API instance gives the same
// answer and nothing is lost across restarts.
import type { TDomainEvent, TGatewayRule } from "@postern/contracts";
import type { Agent, SqlRunner } from "@postern/db";
import { AppError } from "../../errors";
import type { Actor } from "../audit/audit.service";
import type { DbContext } from "../../lib/db-context";
import { runChange, runSqlChange, SYSTEM } from "../../lib/run-change";
import { holderMaySeeSql } from "../services/services.visibility";
import { tokenWorks } from "../tokens/tokens.service";
import { agentStatusColumns, agentStatusOf, presentRule, type AgentRow, type AgentStatusRow, type RuleRow } from "./gateway.presenter";

/** One active session's door on a service bound to the agent, whose holder may still see it
 * (`holderMaySee`, in SQL: not disabled, and an admin or in one of the service's groups). */
const desiredRules = `SELECT s."id", s."sourceIp", s."expiresAt", v."id" AS "serviceId", v."gatewayProtocol", v."gatewayPublicPort", v."gatewayLanHost", v."gatewayLanPort"
FROM "AccessSession" s
JOIN "Service" v ON v."id" = s."serviceId"
JOIN "User" u ON u."id" = s."userId"
WHERE v."gatewayAgentId" = ? AND s."status" = 'active' AND s."expiresAt" > ? AND s."sourceIp" IS NOT NULL
  AND ${holderMaySeeSql("u", `v."id"`)}
ORDER BY s."expiresAt", s."id"`;

/**
 * The rules agent `agentId` should hold now: one per active, unexpired session with a source
 * address on a service bound to it, whose holder may still see the service. (Revocation ends
 * such sessions when the right goes; checking again here means nothing booked earlier can open a
 * door for someone who lost the right by any path.) One plain statement: this runs after every
 * change to a bound service, and Prisma's nested includes made it six.
 */
export async function findDesiredRules(ctx: DbContext, agentId: string): Promise<TGatewayRule[]> {
  const rows = await ctx.sql.read((sql) => sql.all<RuleRow>(desiredRules, [agentId, ctx.now()]));
  return rows.map(presentRule).filter((r): r is TGatewayRule => r !== null);
}

type AgentEventType = "agent.connected" | "agent.disconnected" | "agent.rules_applied";

async function agentStatusRow(sql: SqlRunner, agentId: string): Promise<AgentStatusRow> {
  const row = await sql.get<AgentStatusRow>(`SELECT ${agentStatusColumns} FROM "Agent" WHERE "id" = ?`, [agentId]);
  if (!row) throw new Error(`agent ${agentId} is not in the database`);
  return row;
}

/** The agent's status (`row`, as the change leaves it) and bound services, as an agent event carries them. */
async function agentEventBase(ctx: DbContext, sql: SqlRunner, row: AgentStatusRow) {
  const services = await sql.all<{ id: string }>(`SELECT "id" FROM "Service" WHERE "gatewayAgentId" = ?`, [row.id]);
  return { agent: agentStatusOf(row, ctx.now()), serviceIds: services.map((s) => s.id) };
}

function agentEvent<T extends AgentEventType>(type: T, base: Awaited<ReturnType<typeof agentEventBase>>, extra: object): TDomainEvent {
  return { type, ...base, ...extra } as TDomainEvent;
}

/** Every agent by name, each with the services bound to it by name: two plain statements. */
export function findAgents(ctx: DbContext): Promise<AgentRow[]> {
  return ctx.sql.read(async (sql) => {
    const agents = await sql.all<Agent>(
      `SELECT "id", "name", "tokenId", "online", "lastSeenAt", "rulesApplied", "rulesDesired", "lastError", "createdAt" FROM "Agent" ORDER BY "name"`,
    );
    const services = await sql.all<{ agentId: string; id: string; name: string; slug: string }>(
      `SELECT "gatewayAgentId" AS "agentId", "id", "name", "slug" FROM "Service" WHERE "gatewayAgentId" IS NOT NULL ORDER BY "name"`,
    );
    const listed = new Map<string, AgentRow>(agents.map((a) => [a.id, { ...a, services: [] }]));
    // A service bound after the first statement (PostgreSQL reads each afresh) may name an agent not listed.
    for (const { agentId, ...service } of services) listed.get(agentId)?.services.push(service);
    return [...listed.values()];
  });
}

export interface AgentHello {
  name: string;
  driver: string;
  version?: string;
  token: { id: string; name: string };
  ip: string;
}

const tokenActor = (token: { id: string; name: string }): Actor => ({ id: `token:${token.id}`, username: `token:${token.name}`, kind: "token" });

/**
 * Records an agent's connection, creating its row on first contact. A name stays bound to the
 * token that first claimed it while that token is valid, so one agent token cannot pose as
 * another gateway.
 */
export async function connectAgent(ctx: DbContext, hello: AgentHello): Promise<Agent> {
  return runChange(ctx, { actor: tokenActor(hello.token), sourceIp: hello.ip }, async (tx, record) => {
    const now = ctx.now();
    // Revoked after the socket was let in and before it could be told (its revocation's event
    // came before the socket listened for it): refused here instead of served until it drops.
    const own = await tx.apiToken.findUnique({ where: { id: hello.token.id }, select: { revokedAt: true, expiresAt: true } });
    if (!own || !tokenWorks(own, now)) {
      throw new AppError("unauthorized", "this agent token has been revoked or has expired");
    }
    const existing = await tx.agent.findUnique({ where: { name: hello.name } });
    if (existing?.tokenId && existing.tokenId !== hello.token.id) {
      const owner = await tx.apiToken.findUnique({ where: { id: existing.tokenId } });
      if (owner && tokenWorks(owner, now)) {
        throw new AppError("forbidden", `the agent name "${hello.name}" belongs to another agent token`);
      }
    }
    const agent = existing
      ? await tx.agent.update({
          where: { id: existing.id },
          data: { online: true, lastSeenAt: now, tokenId: hello.token.id },
        })
      : await tx.agent.create({ data: { name: hello.name, online: true, lastSeenAt: now, tokenId: hello.token.id } });
    record(agentEvent("agent.connected", await agentEventBase(ctx, ctx.sql.within(tx), agent), { driver: hello.driver, version: hello.version }), {
      details: { created: !existing },
    });
    return agent;
  });
}

export async function disconnectAgent(ctx: DbContext, agentId: string, reason: string): Promise<void> {
  await runSqlChange(ctx, SYSTEM, async (sql, record) => {
    const now = ctx.now();
    const row = { ...(await agentStatusRow(sql, agentId)), online: false, lastSeenAt: now };
    sql.send(`UPDATE "Agent" SET "online" = ?, "lastSeenAt" = ? WHERE "id" = ?`, [false, now, agentId]);
    record(agentEvent("agent.disconnected", await agentEventBase(ctx, sql, row), { reason }));
  });
}

/** A heartbeat: keeps `lastSeenAt` fresh so a dead instance's agents read as offline. */
export async function touchAgent(ctx: DbContext, agentId: string): Promise<void> {
  const row = await ctx.sql.read((sql) => sql.get<{ online: unknown }>(`SELECT "online" FROM "Agent" WHERE "id" = ?`, [agentId]));
  if (row && !row.online) return markOnline(ctx, agentId);
  await ctx.sql.transaction((sql) => sql.run(`UPDATE "Agent" SET "lastSeenAt" = ?, "online" = ? WHERE "id" = ?`, [ctx.now(), true, agentId]));
}

/** An agent found marked offline while its socket here answers (an older socket of it closed on
 * another instance): online again, with the event that tells the board. */
async function markOnline(ctx: DbContext, agentId: string): Promise<void> {
  await runSqlChange(ctx, SYSTEM, async (sql, record) => {
    const now = ctx.now();
    const before = await agentStatusRow(sql, agentId);
    sql.send(`UPDATE "Agent" SET "online" = ?, "lastSeenAt" = ? WHERE "id" = ?`, [true, now, agentId]);
    if (before.online) return;
    record(agentEvent("agent.connected", await agentEventBase(ctx, sql, { ...before, online: true, lastSeenAt: now }), {}), {
      details: { reason: "seen online again after an older connection closed" },
    });
  });
}

export interface ApplyReport {
  desired: number;
  applied: number;
  added: number;
  removed: number;
  error?: string;
}

/** Stores what the agent reports; a change of its doors (rules added or removed, counts, error)
 * is recorded as `agent.rules_applied`. Plain SQL: a report follows every door opened or closed. */
export async function recordApplied(ctx: DbContext, agentId: string, report: ApplyReport): Promise<void> {
  await runSqlChange(ctx, SYSTEM, async (sql, record) => {
    const before = await agentStatusRow(sql, agentId);
    const now = ctx.now();
    // A report comes over a live socket: an agent marked offline by an older socket's close (on
    // another instance, after it reconnected here) is online again.
    const after = { ...before, online: true, rulesApplied: report.applied, rulesDesired: report.desired, lastError: report.error ?? null, lastSeenAt: now };
    sql.send(`UPDATE "Agent" SET "online" = ?, "rulesApplied" = ?, "rulesDesired" = ?, "lastError" = ?, "lastSeenAt" = ? WHERE "id" = ?`, [
      true,
      after.rulesApplied,
      after.rulesDesired,
      after.lastError,
      now,
      agentId,
    ]);
    const changed =
      !before.online || before.rulesApplied !== after.rulesApplied || before.rulesDesired !== after.rulesDesired || before.lastError !== after.lastError;
    if (!changed && report.added === 0 && report.removed === 0) return;
    record(agentEvent("agent.rules_applied", await agentEventBase(ctx, sql, after), { added: report.added, removed: report.removed }));
  });
}
