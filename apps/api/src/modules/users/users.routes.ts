import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  ZCreateGroupBody,
  ZCreateUserBody,
  ZDeleteUserQuery,
  ZGroup,
  ZGroupMemberParams,
  ZIdParams,
  ZUpdateGroupBody,
  ZUpdateUserBody,
  ZUser,
} from "@postern/contracts";
import { forbidden, type AppError } from "../../errors";
import { originOf } from "../../lib/caller";
import { requirePrincipal } from "../../plugins/auth";
import { createGroup, deleteGroup, renameGroup, setGroupMember } from "./groups.service";
import { presentGroup, presentUser } from "./users.presenter";
import { createUser, deleteUser, updateUser } from "./users.service";
import { listGroups, listUsers } from "./users.sql";

/**
 * What an API token may not grant: anything that would outlive the token. A password, admin
 * rights, an account enabled again; and, while a provider links a first login to the user with the
 * same verified e-mail (POSTERN_OIDC_<ID>_LINK_BY_EMAIL), an e-mail address, which would let
 * whoever holds that mailbox log in as the user. An edit sends the address the user already has
 * along with other fields (the SPA's form does): that is no new grant, so the update itself judges
 * it against the stored row (`newEmailRefused`).
 */
function grantRefusal(
  request: FastifyRequest,
  body: { password?: string; role?: string; disabled?: boolean; email?: string | null },
  emailLinksLogins: boolean,
): AppError | undefined {
  if (!requirePrincipal(request).scopes) return undefined;
  const field =
    body.password !== undefined
      ? "password"
      : body.role === "admin"
        ? "role"
        : body.disabled === false
          ? "disabled"
          : emailLinksLogins && typeof body.email === "string"
            ? "email"
            : undefined;
  if (!field) return undefined;
  const what = {
    password: "set a password",
    role: "make an admin",
    disabled: "enable a user",
    email: "set an e-mail address while an identity provider links logins by it",
  }[field];
  return forbidden(`body.${field}: an API token cannot ${what}; an admin signed in can`);
}

export default async function usersRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = { access: "admin" } as const;
  const emailLinksLogins = app.config.oidc.some((p) => p.linkByEmail);

  r.get("/api/users", { config: admin, schema: { response: { 200: z.array(ZUser) } } }, async () =>
    (await listUsers(app.ctx)).map(presentUser),
  );

  r.post("/api/users", { config: admin, schema: { body: ZCreateUserBody, response: { 201: ZUser } } }, async (request, reply) => {
    const refusal = grantRefusal(request, request.body, emailLinksLogins);
    if (refusal) throw refusal;
    return reply.code(201).send(presentUser(await createUser(app.ctx, originOf(request), request.body)));
  });

  r.patch(
    "/api/users/:id",
    { config: admin, schema: { params: ZIdParams, body: ZUpdateUserBody, response: { 200: ZUser } } },
    async (request) => {
      const refusal = grantRefusal(request, request.body, false);
      if (refusal) throw refusal;
      const newEmailRefused = emailLinksLogins && !!requirePrincipal(request).scopes;
      return presentUser(await updateUser(app.ctx, originOf(request), request.params.id, request.body, "admin", { newEmailRefused }));
    },
  );

  r.delete("/api/users/:id", { config: admin, schema: { params: ZIdParams, querystring: ZDeleteUserQuery } }, async (request, reply) => {
    await deleteUser(app.ctx, originOf(request), request.params.id, request.query.reason);
    return reply.code(204).send();
  });

  r.get("/api/groups", { config: admin, schema: { response: { 200: z.array(ZGroup) } } }, async () =>
    (await listGroups(app.ctx)).map(presentGroup),
  );

  r.post("/api/groups", { config: admin, schema: { body: ZCreateGroupBody, response: { 201: ZGroup } } }, async (request, reply) =>
    reply.code(201).send(presentGroup(await createGroup(app.ctx, originOf(request), request.body.name))),
  );

  r.patch(
    "/api/groups/:id",
    { config: admin, schema: { params: ZIdParams, body: ZUpdateGroupBody, response: { 200: ZGroup } } },
    async (request) => presentGroup(await renameGroup(app.ctx, originOf(request), request.params.id, request.body.name)),
  );

  r.delete("/api/groups/:id", { config: admin, schema: { params: ZIdParams } }, async (request, reply) => {
    await deleteGroup(app.ctx, originOf(request), request.params.id);
    return reply.code(204).send();
  });

  for (const [method, member] of [["post", true], ["delete", false]] as const) {
    r[method](
      "/api/groups/:id/members/:userId",
      { config: admin, schema: { params: ZGroupMemberParams, response: { 200: ZGroup } } },
      async (request) =>
        presentGroup(await setGroupMember(app.ctx, originOf(request), request.params.id, request.params.userId, member)),
    );
  }
}
