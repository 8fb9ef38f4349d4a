// Turns a committed change (plugins/changes.ts) into a live event and its audience, using the
// same presenters as the REST routes so live and REST data never disagree.
import { ZSessionEvent, type TLiveEvent } from "@postern/contracts";
import type { DbContext } from "../../lib/db-context";
import type { Change } from "../../plugins/changes";
import { presentMessage } from "../relay/relay.presenter";
import { presentService, serviceInclude } from "../services/services.presenter";
import { presentSession } from "../sessions/sessions.presenter";
import { presentUser, userInclude } from "../users/users.presenter";
import type { Audience } from "./live.audience";

export interface PendingEvent {
  event: TLiveEvent;
  audience: Audience;
}

async function serviceGroupIds(ctx: DbContext, serviceId: string): Promise<string[]> {
  const rows = await ctx.db.serviceGroup.findMany({ where: { serviceId }, select: { groupId: true } });
  return rows.map((r) => r.groupId);
}

/** The events a change produces (none for changes the board does not show). */
export async function eventsOf(ctx: DbContext, change: Change): Promise<PendingEvent[]> {
  switch (change.kind) {
    case "session": {
      // A verb the contract does not know yet would break clients' parsing: leave it out.
      if (!ZSessionEvent.options.some((o) => o.shape.type.value === `session.${change.verb}`)) return [];
      const event = { type: `session.${change.verb}`, session: presentSession(change.session), addedSeconds: 0, position: 0 } as TLiveEvent;
      return [{ event, audience: { to: "groups", groupIds: await serviceGroupIds(ctx, change.session.serviceId) } }];
    }
    case "service": {
      if (change.verb === "deleted") {
        return [{ event: { type: "service.deleted", id: change.serviceId }, audience: { to: "all" } }];
      }
      const row = await ctx.db.service.findUnique({ where: { id: change.serviceId }, include: serviceInclude });
      if (!row) return [{ event: { type: "service.deleted", id: change.serviceId }, audience: { to: "all" } }];
      const service = presentService(row);
      // A change of groups may hide the service from some members: they are told it is gone.
      return [
        {
          event: change.verb === "created" ? { type: "service.created", service } : { type: "service.updated", service, changed: [] },
          audience: { to: "groups", groupIds: service.groupIds, others: { type: "service.deleted", id: service.id } },
        },
      ];
    }
    case "user":
    case "group": {
      if (change.kind === "user" && change.verb === "created") return [];
      const user = await ctx.db.user.findUnique({ where: { id: change.userId }, include: userInclude });
      if (!user) return [];
      if (user.disabled) return [{ event: { type: "user.disabled", userId: user.id }, audience: { to: "all" } }];
      return [{ event: { type: "user.updated", user: presentUser(user), changed: [] }, audience: { to: "admins" } }];
    }
    case "message":
      return [{ event: { type: `message.${change.verb}`, message: presentMessage(change.message) }, audience: { to: "admins" } }];
    case "tunnel":
      return [{ event: { type: `tunnel.${change.verb}`, tunnel: change.tunnel }, audience: { to: "all" } }];
    default:
      return [];
  }
}
