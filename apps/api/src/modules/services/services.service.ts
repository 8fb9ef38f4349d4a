// Services: listing by visibility, creation, updates and deletion, each one change with its event.
// A change of a service's groups, or its deletion, ends the sessions of those who lose sight of it.
import type { TCreateServiceBody, TUpdateServiceBody } from "@postern/contracts";
import type { Prisma, Tx } from "@postern/db";
import { AppError, badField, notFound } from "../../errors";
import { lockRow, type DbContext } from "../../lib/db-context";
import { runChange, type Origin, type RecordEvent } from "../../lib/run-change";
import { revokeLostAccess } from "../sessions/revocation";
import { lockServiceRules } from "../sessions/sessions.sql";
import { offerLine, type LineRules } from "../sessions/waitlist.service";
import { assertGroupsExist } from "../users/users.service";
import { presentService, serviceInclude, type ServiceRow } from "./services.presenter";
import { assertLengthsAllowed, assertNoDoorlessSessions, assertNoLine, assertNoOverlaps, implicitDefaultSeconds } from "./services.rule-checks";

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
  record: RecordEvent,
  input: TCreateServiceBody,
  minSessionSeconds: number,
): Promise<ServiceRow> {
  assertLengthsAllowed(input, minSessionSeconds);
  await assertSlugFree(tx, input.slug);
  const groupIds = [...new Set(input.groupIds ?? [])];
  await assertGroupsExist(ctx, tx, groupIds, "body.groupIds");
  await assertAgentExists(tx, input.gateway?.agentId);
  await assertGatewayPortFree(tx, input.gateway);
  const defaultDurationSeconds = input.defaultDurationSeconds ?? implicitDefaultSeconds(input.maxDurationSeconds, minSessionSeconds);
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
  record({ type: "service.created", service: presentService(service, { detail: true, now: ctx.now() }) });
  return service;
}

export function createService(ctx: DbContext, origin: Origin, input: TCreateServiceBody, minSessionSeconds: number): Promise<ServiceRow> {
  return runChange(ctx, origin, (tx, record) => createServiceInTx(ctx, tx, record, input, minSessionSeconds));
}

export async function updateService(
  ctx: DbContext,
  origin: Origin,
  id: string,
  input: TUpdateServiceBody,
  lineRules: LineRules,
): Promise<ServiceRow> {
  const { minSessionSeconds } = lineRules;
  return runChange(ctx, origin, async (tx, record) => {
    // Held first, as a deletion and a start hold it: two replacements of the groups at once would
    // otherwise merge into a set neither admin chose.
    await lockRow(ctx, tx, "Service", id);
    const before = await tx.service.findUnique({ where: { id }, include: { groups: true } });
    if (!before) throw notFound("service");
    const previousGroupIds = before.groups.map((g) => g.groupId);
    if (input.slug) await assertSlugFree(tx, input.slug, id);
    // Lengths sent as they are stored (a form sends every field) are no change: older rows stay editable.
    assertLengthsAllowed(
      {
        maxDurationSeconds: input.maxDurationSeconds === before.maxDurationSeconds ? undefined : input.maxDurationSeconds,
        defaultDurationSeconds: input.defaultDurationSeconds === before.defaultDurationSeconds ? undefined : input.defaultDurationSeconds,
      },
      minSessionSeconds,
    );
    const max = input.maxDurationSeconds ?? before.maxDurationSeconds;
    const def = input.defaultDurationSeconds ?? before.defaultDurationSeconds;
    if (def > max) throw badField("body.defaultDurationSeconds", `must not exceed maxDurationSeconds (${max})`);
    if (input.gateway) await assertAgentExists(tx, input.gateway.agentId);
    await assertGatewayPortFree(tx, input.gateway, id);
    if (input.gateway && !before.gatewayAgentId) await assertNoDoorlessSessions(tx, id);
    if (input.requiresApproval === true && !before.requiresApproval) await assertNoLine(tx, id);
    if (input.exclusive === true && !before.exclusive) await assertNoOverlaps(tx, id, ctx.now());
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
      await assertGroupsExist(ctx, tx, groupIds, "body.groupIds");
      await tx.serviceGroup.deleteMany({ where: { serviceId: id } });
      await tx.serviceGroup.createMany({ data: groupIds.map((groupId) => ({ groupId, serviceId: id })) });
    }
    await tx.service.update({ where: { id }, data });
    const groupsChanged = input.groupIds !== undefined;
    if (groupsChanged) await revokeLostAccess(ctx, tx, record, { serviceIds: [id] }, "service_groups_changed", origin.actor, previousGroupIds);
    // Made shared: everyone in its line could have it now, so each is offered it here, as the
    // clock offers a freed service (its rules read back as they now stand, groups included).
    if (input.exclusive === false && before.exclusive) {
      const sql = ctx.sql.within(tx);
      const rules = await lockServiceRules(ctx, sql, id);
      if (rules) await offerLine(ctx, sql, record, rules, lineRules, origin.actor);
    }
    // Read after the revocations, so the service's holder and count are what they are now.
    const service = await tx.service.findUniqueOrThrow({ where: { id }, include: serviceInclude });
    record(
      { type: "service.updated", service: presentService(service, { detail: true, now: ctx.now() }), changed: Object.keys(input) },
      { audience: { previousGroupIds } },
    );
    return service;
  });
}

/** Deletes a service; every open session on it is revoked (and audited) first, whatever its status. */
export async function deleteService(ctx: DbContext, origin: Origin, id: string): Promise<void> {
  await runChange(ctx, origin, async (tx, record) => {
    // The service's row first, then its sessions': the order every change to a session takes
    // (start, extend, end, the waitlist's offers). Revoking first and deleting after was the
    // reverse, and PostgreSQL failed one side of that race as a deadlock.
    await lockRow(ctx, tx, "Service", id);
    const service = await tx.service.findUnique({ where: { id }, include: { groups: true } });
    if (!service) throw notFound("service");
    await revokeLostAccess(ctx, tx, record, { serviceIds: [id], all: true }, "service_deleted", origin.actor);
    await tx.service.delete({ where: { id } });
    record(
      { type: "service.deleted", id, name: service.name, slug: service.slug },
      { audience: { groupIds: service.groups.map((g) => g.groupId) } },
    );
  });
}
