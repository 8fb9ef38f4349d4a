// Row counts of the tables a request could write to, to prove a refused request wrote nothing.
import type { FastifyInstance } from "fastify";

export async function rowCounts(app: FastifyInstance) {
  const db = app.ctx.db;
  const [users, groups, members, services, serviceGroups, sessions, logins, tokens, audit] = await Promise.all([
    db.user.count(),
    db.group.count(),
    db.groupMember.count(),
    db.service.count(),
    db.serviceGroup.count(),
    db.accessSession.count(),
    db.loginSession.count(),
    db.apiToken.count(),
    db.auditEvent.count(),
  ]);
  return { users, groups, members, services, serviceGroups, sessions, logins, tokens, audit };
}
