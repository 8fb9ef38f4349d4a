// Refusing without Fastify's error path. A refusal we decided ourselves (an AppError) needs none of
// it: no onError hooks, no search for an error handler, no deleting of headers already set (which
// turns the reply's header object into a slow dictionary), no promise dance over the handler's
// return value. And a refusal's envelope is the same few strings again and again ("log in first",
// "service not found"), so it is serialised once. The error handler (plugins/error-handler.ts)
// answers with the same envelope for everything else; what a client receives is the same either way.
//
// Also, an async handler that throws before its first await hands Fastify a promise that is
// already rejected, and Node's bookkeeping for a rejection with no handler yet was about a tenth
// of a refused start's CPU: hot refusals are sent, not thrown.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { TErrorBody } from "@postern/contracts";
import type { AppError } from "../errors";

const envelopes = new Map<string, string>();
/** Messages may name what was asked for; the bound keeps odd ones from piling up. */
const MAX_ENVELOPES = 512;

/** Envelopes per refusal: where the same refusal is given again (a constant such as "only the
 * session's holder or an admin may change it", the board's clash with one's own session, a
 * repeated validation failure), found without building or hashing its text. */
const made = new WeakMap<AppError, string>();

/** `{ error: { code, message, details? } }` as JSON, from memory where it was made before. */
export function envelopeOf(err: AppError): string {
  let json = made.get(err);
  if (json !== undefined) return json;
  if (err.details !== undefined) {
    const body: TErrorBody = { error: { code: err.code, message: err.message, details: err.details as never } };
    json = JSON.stringify(body);
  } else {
    const key = `${err.code}\n${err.message}`;
    json = envelopes.get(key);
    if (json === undefined) {
      if (envelopes.size >= MAX_ENVELOPES) envelopes.clear();
      json = JSON.stringify({ error: { code: err.code, message: err.message } } satisfies TErrorBody);
      envelopes.set(key, json);
    }
  }
  made.set(err, json);
  return json;
}

/** Logs a refusal as the error handler logs other errors. A refusal's wording is for debugging:
 * the request's own line already has the status and the code. A 5xx we chose (the relay is off,
 * the tunnel did not open) is a dependency that is down, worth a warning. */
export function logRefusal(request: FastifyRequest, err: AppError): void {
  if (err.statusCode >= 500) request.log.warn({ code: err.code, status: err.statusCode }, err.message);
  else request.log.debug({ code: err.code, status: err.statusCode }, err.message);
}

/** Answers a refusal now: from a route (return what this returns) or from a callback-style hook
 * (and then do not call `done`: the hooks left are skipped, onSend and onResponse still run). */
export function refuse(reply: { send(payload: never): unknown }, err: AppError): FastifyReply {
  const r = reply as unknown as FastifyReply;
  logRefusal(r.request, err);
  if (err.headers) void r.headers(err.headers);
  // With its charset: Fastify would otherwise append it to the header on every answer.
  return r.code(err.statusCode).type("application/json; charset=utf-8").send(envelopeOf(err));
}

/** For a callback-style hook: answers the refusal, now or once its promise settles, or goes on
 * (`done`) when there is none. No promise when the answer is known at once. */
export function refuseOrContinue(reply: FastifyReply, refusal: AppError | null | Promise<AppError | null>, done: (err?: Error) => void): void {
  if (refusal instanceof Promise) {
    refusal.then((r) => (r ? void refuse(reply, r) : done()), (err: unknown) => done(err as Error));
  } else if (refusal) refuse(reply, refusal);
  else done();
}
