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
import { limitKeyOf } from "../../lib/client-key";
import { actorOf, requirePrincipal } from "../../plugins/auth";
import { presentMessage } from "./relay.presenter";
import { enqueueMessage, findMessages, relayStatus } from "./relay.service";

/** Messages per minute per token (or per login), in each API instance: the SPEC's per-token limit. */
export const RELAY_RATE_LIMIT = 30;
/** Messages per minute per user across all their personal tokens and logins: a member can mint
 * relay:send tokens, and each would otherwise bring another 30. Service tokens, which only an
 * admin creates, are limited per token alone. */
export const RELAY_USER_RATE_LIMIT = 4 * RELAY_RATE_LIMIT;

function senderKeyOf(request: FastifyRequest): string {
  const p = request.principal;
  if (p?.token) return `relay:token:${p.token.id}`;
  return `relay:user:${p?.user?.id ?? limitKeyOf(request.ip)}`;
}

function ownerKeyOf(request: FastifyRequest): string {
  const p = request.principal;
  return p?.user ? `relay:owner:${p.user.id}` : senderKeyOf(request);
}

const sendConfig = { access: "user" as const, scope: "relay:send" as const, rateLimited: true };

export default async function relayRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // One pair of limiters for both sending routes (a route's own rateLimit config counts apart, so
  // the two routes gave each token twice its allowance). Counted after authorisation (the auth
  // plugin's onRequest hook runs before any route's own hooks), so a rejected token uses up
  // nobody's allowance. Asked in turn here: the plugin's own handlers let one limiter run per
  // request.
  const limiters = [
    { of: "this token", count: app.createRateLimit({ max: RELAY_RATE_LIMIT, timeWindow: "1 minute", keyGenerator: senderKeyOf }) },
    { of: "your account", count: app.createRateLimit({ max: RELAY_USER_RATE_LIMIT, timeWindow: "1 minute", keyGenerator: ownerKeyOf }) },
  ];
  const limited = async (request: FastifyRequest) => {
    for (const { of, count } of limiters) {
      const counted = await count(request);
      if (counted.isAllowed || !counted.isExceeded) continue;
      const retryAfterSeconds = Math.max(1, counted.ttlInSeconds);
      throw new AppError(
        "rate_limited",
        `too many messages from ${of} (at most ${counted.max} a minute); try again in ${retryAfterSeconds} seconds`,
        { retryAfterSeconds },
        { "retry-after": String(retryAfterSeconds) },
      );
    }
  };

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
      preValidation: limited,
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
      preValidation: limited,
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
