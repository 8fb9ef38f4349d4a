// Services: listing by visibility, creation, updates and deletion, each audited.
import type { TCreateServiceBody, TUpdateServiceBody } from "@postern/contracts";
import type { Prisma, Tx } from "@postern/db";
import { AppError, badField, notFound } from "../../errors";
import { writeAudit } from "../audit/audit.service";
import { inTransaction, type DbContext } from "../../lib/db-context";
import { assertGroupsExist, type Caller } from "../users/users.service";
import type { UserWithGroups } from "../users/users.presenter";
import { serviceInclude, type ServiceRow } from "./services.presenter";
import { canSeeService, visibleServicesWhere } from "./services.visibility";

export function findServices(ctx: DbContext, user: UserWithGroups): Promise<ServiceRow[]> {
  return ctx.db.service.findMany({
    where: visibleServicesWhere(user),
    include: serviceInclude,
    orderBy: [{ connectionMain: "asc" }, { name: "asc" }],
  });
}

/** A service the user may see, or 404 (a hidden service is indistinguishable from none). */
export async function findVisibleService(ctx: DbContext, user: UserWithGroups, id: string): Promise<ServiceRow> {
  const service = await ctx.db.service.findUnique({ where: { id }, include: serviceInclude });
  if (!service || !canSeeService(user, service.groups.map((g) => g.groupId))) throw notFound("service");
  return service;
}

async function assertAgentExists(tx: Tx, agentId: string | undefined): Promise<void> {
  if (agentId && !(await tx.agent.findUnique({ where: { id: agentId }, select: { id: true } }))) {
    throw badField("body.gateway.agentId", `unknown agent id ${agentId}`);
  }
}

/** One public port and protocol forwards to one place: a second binding would never be applied. */
async function assertGatewayPortFree(tx: Tx, gateway: TCreateServiceBody["gateway"] | null | undefined, exceptId?: string): Promise<void> {
  if (!gateway) return;
  const other = await tx.service.findFirst({
    where: {
      gatewayAgentId: gateway.agentId,
      gatewayPublicPort: gateway.publicPort,
      gatewayProtocol: gateway.protocol,
      ...(exceptId ? { id: { not: exceptId } } : {}),
    },
    select: { name: true },
  });
  if (other) {
    throw new AppError("conflict", `body.gateway.publicPort: ${gateway.protocol} port ${gateway.publicPort} on this gateway already forwards to the service "${other.name}"`);
  }
}

async function assertSlugFree(tx: Tx, slug: string, exceptId?: string): Promise<void> {
  const other = await tx.service.findUnique({ where: { slug }, select: { id: true } });
  if (other && other.id !== exceptId) throw new AppError("conflict", `slug "${slug}" is already used by another service`);
}

function gatewayData(g: TCreateServiceBody["gateway"] | null | undefined) {
  if (g === undefined) return {};
  return {
    gatewayAgentId: g?.agentId ?? null,
    gatewayPublicPort: g?.publicPort ?? null,
    gatewayLanHost: g?.lanHost ?? null,
    gatewayLanPort: g?.lanPort ?? null,
    gatewayProtocol: g?.protocol ?? null,
  };
}

export async function createServiceInTx(
  ctx: DbContext,
  tx: Tx,
  caller: Caller,
  input: TCreateServiceBody,
): Promise<ServiceRow> {
  await assertSlugFree(tx, input.slug);
  const groupIds = [...new Set(input.groupIds ?? [])];
  await assertGroupsExist(tx, groupIds, "body.groupIds");
  await assertAgentExists(tx, input.gateway?.agentId);
  await assertGatewayPortFree(tx, input.gateway);
  const defaultDurationSeconds = input.defaultDurationSeconds ?? Math.min(3600, input.maxDurationSeconds);
  const service = await tx.service.create({
    data: {
      name: input.name,
      slug: input.slug,
      description: input.description,
      kind: input.kind,
      url: input.url,
      connectionMain: input.connection?.main,
      connectionSub: input.connection?.sub,
      exclusive: input.exclusive ?? false,
      requiresApproval: input.requiresApproval ?? false,
      defaultDurationSeconds,
      maxDurationSeconds: input.maxDurationSeconds,
      ...gatewayData(input.gateway),
      groups: { create: groupIds.map((groupId) => ({ groupId })) },
    },
    include: serviceInclude,
  });
  await writeAudit(ctx, tx, {
    actor: caller.actor,
    action: "service.created",
    target: `service:${service.id}`,
    serviceId: service.id,
    sourceIp: caller.sourceIp,
    details: { name: service.name, slug: service.slug, exclusive: service.exclusive, groupIds },
  });
  return service;
}

export function createService(ctx: DbContext, caller: Caller, input: TCreateServiceBody): Promise<ServiceRow> {
  return inTransaction(ctx, (tx) => createServiceInTx(ctx, tx, caller, input));
}

export async function updateService(
  ctx: DbContext,
  caller: Caller,
  id: string,
  input: TUpdateServiceBody,
): Promise<ServiceRow> {
  return inTransaction(ctx, async (tx) => {
    const before = await tx.service.findUnique({ where: { id } });
    if (!before) throw notFound("service");
    if (input.slug) await assertSlugFree(tx, input.slug, id);
    const max = input.maxDurationSeconds ?? before.maxDurationSeconds;
    const def = input.defaultDurationSeconds ?? before.defaultDurationSeconds;
    if (def > max) throw badField("body.defaultDurationSeconds", `must not exceed maxDurationSeconds (${max})`);
    if (input.gateway) await assertAgentExists(tx, input.gateway.agentId);
    await assertGatewayPortFree(tx, input.gateway, id);
    const data: Prisma.ServiceUpdateInput = {
      name: input.name,
      slug: input.slug,
      description: input.description,
      kind: input.kind,
      url: input.url,
      exclusive: input.exclusive,
      requiresApproval: input.requiresApproval,
      defaultDurationSeconds: input.defaultDurationSeconds,
      maxDurationSeconds: input.maxDurationSeconds,
      ...(input.connection !== undefined
        ? { connectionMain: input.connection?.main ?? null, connectionSub: input.connection?.sub ?? null }
        : {}),
    };
    const { gatewayAgentId, ...gatewayRest } = gatewayData(input.gateway);
    Object.assign(data, gatewayRest);
    if (gatewayAgentId !== undefined) {
      data.gatewayAgent = gatewayAgentId ? { connect: { id: gatewayAgentId } } : { disconnect: true };
    }
    if (input.groupIds) {
      const groupIds = [...new Set(input.groupIds)];
      await assertGroupsExist(tx, groupIds, "body.groupIds");
      await tx.serviceGroup.deleteMany({ where: { serviceId: id } });
      await tx.serviceGroup.createMany({ data: groupIds.map((groupId) => ({ groupId, serviceId: id })) });
    }
    const service = await tx.service.update({ where: { id }, data, include: serviceInclude });
    await writeAudit(ctx, tx, {
      actor: caller.actor,
      action: "service.updated",
      target: `service:${id}`,
      serviceId: id,
      sourceIp: caller.sourceIp,
      details: { name: service.name, changed: Object.keys(input) },
    });
    return service;
  });
}

/** Deletes a service; its open sessions are ended first (and audited) so nothing is lost silently. */
export async function deleteService(ctx: DbContext, caller: Caller, id: string): Promise<void> {
  await inTransaction(ctx, async (tx) => {
    const service = await tx.service.findUnique({ where: { id } });
    if (!service) throw notFound("service");
    const open = await tx.accessSession.findMany({
      where: { serviceId: id, status: { in: ["active", "pending", "scheduled"] } },
      select: { id: true },
    });
    for (const s of open) {
      await writeAudit(ctx, tx, {
        actor: caller.actor,
        action: "session.ended",
        target: `session:${s.id}`,
        serviceId: id,
        sessionId: s.id,
        sourceIp: caller.sourceIp,
        details: { cause: "service deleted" },
      });
    }
    await tx.service.delete({ where: { id } });
    await writeAudit(ctx, tx, {
      actor: caller.actor,
      action: "service.deleted",
      target: `service:${id}`,
      serviceId: id,
      sourceIp: caller.sourceIp,
      details: { name: service.name, slug: service.slug, endedSessions: open.map((s) => s.id) },
    });
  });
}
