// What one visibility class's board holds, read from committed state in plain SQL (see
// @postern/db sql.ts) in the shapes the presenters take: four statements in one turn of the
// connection. Prisma's two reads with their includes were eight statements and most of the
// 5–7 ms of CPU a board cost each time a change dropped it (or every 5 s, once it shows a gateway).
import type { Service, ServiceGroup, SqlRunner, SqlValue } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { agentStatusColumns, type AgentStatusRow } from "../gateway/gateway.presenter";
import type { VisibilityClass } from "../live/live.audience";
import type { ServiceRow } from "../services/services.presenter";
import type { SessionRow } from "../sessions/sessions.presenter";
import { inGroupsSql } from "../services/services.visibility";
import { selectSessions } from "../sessions/sessions.sql";
import { groupBy } from "./board.view";

const SERVICE_COLUMNS = [
  "id",
  "name",
  "slug",
  "description",
  "kind",
  "url",
  "connectionMain",
  "connectionSub",
  "exclusive",
  "requiresApproval",
  "defaultDurationSeconds",
  "maxDurationSeconds",
  "gatewayAgentId",
  "gatewayPublicPort",
  "gatewayLanHost",
  "gatewayLanPort",
  "gatewayProtocol",
  "createdAt",
  "updatedAt",
] as const satisfies readonly (keyof Service)[];

const serviceSelect = SERVICE_COLUMNS.map((c) => `v."${c}"`).join(", ");

export interface BoardRows {
  /** The class's services, by connection then name, each with its groups, agent and active sessions. */
  services: ServiceRow[];
  /** Every open session on them, newest request first. */
  sessions: SessionRow[];
}

/** Started first; then by id, so the exclusive holder is the same whichever database answers. */
const byStart = (a: SessionRow, b: SessionRow) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function readBoard(ctx: DbContext, cls: VisibilityClass): Promise<BoardRows> {
  return ctx.sql.read(async (sql) => {
    const groupIds = cls.admin ? null : [...cls.groupIds];
    if (groupIds?.length === 0) return { services: [], sessions: [] };
    const visible = groupIds ? ` WHERE ${inGroupsSql(`v."id"`, groupIds)}` : "";
    const params: SqlValue[] = groupIds ?? [];
    // Ordered as Prisma's orderBy would be, each database placing a null connection its own way.
    const services = await sql.all<Service>(`SELECT ${serviceSelect} FROM "Service" v${visible} ORDER BY v."connectionMain" ASC, v."name" ASC`, params);
    if (services.length === 0) return { services: [], sessions: [] };
    const groups = await sql.all<ServiceGroup>(
      `SELECT g."serviceId", g."groupId" FROM "ServiceGroup" g JOIN "Service" v ON v."id" = g."serviceId"${visible} ORDER BY g."serviceId", g."groupId"`,
      params,
    );
    const agents = services.some((s) => s.gatewayAgentId) ? await readAgents(sql) : new Map<string, AgentStatusRow>();
    const sessions = await selectSessions(ctx, sql, { groupIds, open: true }, null);
    const groupsOf = groupBy(groups, (g) => g.serviceId);
    const activeOn = groupBy(
      sessions.filter((s) => s.status === "active"),
      (s) => s.serviceId,
    );
    return {
      services: services.map((s) => ({
        ...s,
        groups: groupsOf.get(s.id) ?? [],
        gatewayAgent: s.gatewayAgentId ? (agents.get(s.gatewayAgentId) ?? null) : null,
        sessions: (activeOn.get(s.id) ?? []).sort(byStart),
      })),
      sessions,
    };
  });
}

async function readAgents(sql: SqlRunner): Promise<Map<string, AgentStatusRow>> {
  const rows = await sql.all<AgentStatusRow>(`SELECT ${agentStatusColumns} FROM "Agent"`);
  return new Map(rows.map((a) => [a.id, a]));
}
