import type { FastifyReply } from "fastify";

/**
 * Sends a body that is already JSON (a cached, pre-serialised read). Fastify sends a string as it
 * is, without running the route's response serialiser again: that is the point.
 */
export function sendJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.type("application/json; charset=utf-8").send(json);
}
