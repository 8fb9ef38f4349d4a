import type { FastifyRequest } from "fastify";
import { actorOf, requireAdmin, requireUser } from "../plugins/auth";
import type { Caller } from "../modules/users/users.service";
import type { SessionCaller } from "../modules/sessions/sessions.service";

/** The audit identity of an admin request (401/403 when not an admin). */
export function adminCaller(request: FastifyRequest): Caller {
  return { actor: actorOf(requireAdmin(request)), sourceIp: request.ip };
}

/** The logged-in user making a request (401 when anonymous). */
export function sessionCaller(request: FastifyRequest): SessionCaller {
  return { user: requireUser(request).user, sourceIp: request.ip };
}
