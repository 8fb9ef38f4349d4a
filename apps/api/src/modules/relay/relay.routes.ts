// The monitoring relay: monitors post a message (token scope relay:send), it is stored and
// queued at once (202), and the worker e-mails it. Admins list messages and the relay status.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import {
  MESSAGE_BODY_LIMIT,
  ZListMessagesQuery,
  ZMessagePage,
  ZMessageQueued,
  ZPlaceMessageBody,
  ZRelayStatus,
  ZSendMessageBody,
  type TSendMessageBody,
} from "@postern/contracts";
import { AppError } from "../../errors";
import { actorOf, requirePrincipal } from "../../plugins/auth";
import { presentMessage } from "./relay.presenter";
import { enqueueMessage, findMessages, relayStatus } from "./relay.service";

/** Messages per minute per token (or per user, for a login), in each API instance. */
export const RELAY_RATE_LIMIT = 30;

function rateKeyOf(request: FastifyRequest): string {
  const p = request.principal;
  if (p?.token) return `relay:token:${p.token.id}`;
  return `relay:user:${p?.user?.id ?? request.ip}`;
}

const sendConfig = {
  access: "user" as const,
  scope: "relay:send" as const,
  // Counted after authorisation (the auth plugin's onRequest hook, which runs before any
  // route's own hooks), so a rejected token does not use up anyone's allowance.
  rateLimit: { max: RELAY_RATE_LIMIT, timeWindow: "1 minute", hook: "preValidation" as const, keyGenerator: rateKeyOf },
};

export default async function relayRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  async function send(request: FastifyRequest, body: TSendMessageBody, via: string) {
    const principal = requirePrincipal(request);
    const { settings } = app.relay;
    if (!settings.enabled) throw new AppError("service_unavailable", settings.reason);
    const row = await enqueueMessage(
      app.ctx,
      { actor: actorOf(principal), sourceIp: request.ip, tokenId: principal.token?.id, via },
      body,
    );
    return { id: row.id, status: "queued" as const };
  }

  r.post(
    "/api/messages",
    {
      config: sendConfig,
      bodyLimit: MESSAGE_BODY_LIMIT,
      schema: { body: ZSendMessageBody, response: { 202: ZMessageQueued } },
    },
    async (request, reply) => reply.code(202).send(await send(request, request.body, "messages")),
  );

  // Compatibility with the older tools' scripts (`x-access-tokens` header, `{ message }`).
  r.post(
    "/api/placeMessage",
    {
      config: sendConfig,
      bodyLimit: MESSAGE_BODY_LIMIT,
      schema: { body: ZPlaceMessageBody, response: { 202: ZMessageQueued } },
    },
    async (request, reply) => reply.code(202).send(await send(request, request.body, "placeMessage")),
  );

  r.get(
    "/api/messages",
    { config: { access: "admin" }, schema: { querystring: ZListMessagesQuery, response: { 200: ZMessagePage } } },
    async (request) => {
      const { rows, nextCursor } = await findMessages(app.ctx, request.query);
      return { items: rows.map(presentMessage), nextCursor };
    },
  );

  r.get(
    "/api/messages/status",
    { config: { access: "admin" }, schema: { response: { 200: ZRelayStatus } } },
    async () => relayStatus(app.ctx, app.relay.settings),
  );
}
