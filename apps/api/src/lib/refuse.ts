// Refusing from a route without throwing. An async handler that throws before its first await
// hands Fastify a promise that is already rejected, and Node's bookkeeping for a rejection with no
// handler yet was about a tenth of a refused start's CPU. Hot refusals (those decided from memory)
// are sent instead; the error handler still writes the envelope.
import type { FastifyReply } from "fastify";
import type { AppError } from "../errors";

export function refuse(reply: { send(payload: never): unknown }, err: AppError): FastifyReply {
  return (reply as unknown as FastifyReply).send(err);
}
