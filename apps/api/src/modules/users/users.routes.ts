import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  ZCreateGroupBody,
  ZCreateUserBody,
  ZGroup,
  ZGroupMemberParams,
  ZIdParams,
  ZUpdateUserBody,
  ZUser,
} from "@postern/contracts";
import { adminCaller } from "../../lib/caller";
import { requireAdmin } from "../../plugins/auth";
import { createGroup, findGroups, setGroupMember } from "./groups.service";
import { presentGroup, presentUser } from "./users.presenter";
import { createUser, findUsers, updateUser } from "./users.service";

export default async function usersRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get("/api/users", { config: { access: "admin" }, schema: { response: { 200: z.array(ZUser) } } }, async (request) => {
    requireAdmin(request);
    return (await findUsers(app.ctx)).map(presentUser);
  });

  r.post("/api/users", { config: { access: "admin" }, schema: { body: ZCreateUserBody, response: { 201: ZUser } } }, async (request, reply) => {
    const user = await createUser(app.ctx, adminCaller(request), request.body);
    return reply.code(201).send(presentUser(user));
  });

  r.patch(
    "/api/users/:id",
    { config: { access: "admin" }, schema: { params: ZIdParams, body: ZUpdateUserBody, response: { 200: ZUser } } },
    async (request) => {
      const user = await updateUser(app.ctx, adminCaller(request), request.params.id, request.body);
      app.changes.announce({ kind: "user", verb: user.disabled ? "disabled" : "updated", userId: user.id });
      return presentUser(user);
    },
  );

  r.get("/api/groups", { config: { access: "admin" }, schema: { response: { 200: z.array(ZGroup) } } }, async (request) => {
    requireAdmin(request);
    return (await findGroups(app.ctx)).map(presentGroup);
  });

  r.post("/api/groups", { config: { access: "admin" }, schema: { body: ZCreateGroupBody, response: { 201: ZGroup } } }, async (request, reply) => {
    const group = await createGroup(app.ctx, adminCaller(request), request.body.name);
    return reply.code(201).send(presentGroup(group));
  });

  r.post(
    "/api/groups/:id/members/:userId",
    { config: { access: "admin" }, schema: { params: ZGroupMemberParams, response: { 200: ZGroup } } },
    async (request) => {
      const group = await setGroupMember(app.ctx, adminCaller(request), request.params.id, request.params.userId, true);
      app.changes.announce({ kind: "group", verb: "member_added", groupId: group.id, userId: request.params.userId });
      return presentGroup(group);
    },
  );

  r.delete(
    "/api/groups/:id/members/:userId",
    { config: { access: "admin" }, schema: { params: ZGroupMemberParams, response: { 200: ZGroup } } },
    async (request) => {
      const group = await setGroupMember(app.ctx, adminCaller(request), request.params.id, request.params.userId, false);
      app.changes.announce({ kind: "group", verb: "member_removed", groupId: group.id, userId: request.params.userId });
      return presentGroup(group);
    },
  );
}
