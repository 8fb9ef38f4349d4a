// Who is asking, in the forms the service functions take: the origin of a change (audit actor and
// address) and the viewer (a user and whether this credential carries admin rights).
import type { FastifyRequest } from "fastify";
import { actorOf, isAdmin, requirePrincipal, requireUser } from "../plugins/auth";
import type { Viewer } from "../modules/services/services.visibility";
import type { SessionCaller } from "../modules/sessions/sessions.service";
import type { Origin } from "./run-change";

/** The audit identity and address of a request (401 when anonymous); the request learns the seq
 * of what it changed, for its answer (live/live.seq.ts). */
export function originOf(request: FastifyRequest): Origin {
  return {
    actor: actorOf(requirePrincipal(request)),
    sourceIp: request.ip,
    reached: (seq) => {
      if (seq > request.changeSeq) request.changeSeq = seq;
    },
  };
}

/** The user looking, with admin rights only when both their role and their credential carry them. */
export function viewerOf(request: FastifyRequest): Viewer {
  const principal = requireUser(request);
  return { user: principal.user, admin: isAdmin(principal) };
}

export function sessionCaller(request: FastifyRequest): SessionCaller {
  return { viewer: viewerOf(request), origin: originOf(request) };
}
