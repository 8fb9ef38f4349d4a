// The one error handler: every failure leaves as `{ error: { code, message, details } }`.
// Failed schemas are answered by the validator (lib/validator.ts), naming each field; anything
// unexpected is logged and hidden from the client.
// (Unknown routes are answered by the web plugin, which also serves the SPA's pages.)
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { errorStatus, type TErrorBody, type TErrorCode, type TFieldIssue } from "@postern/contracts";
import { Prisma } from "@postern/db";
import { AppError } from "../errors";
import { databaseFault } from "../lib/database-fault";
import { refuse } from "../lib/refuse";
import { isTransactionConflict, isVanishedReference } from "../lib/transaction-conflict";
import { databaseInputIssue } from "./database-input-errors";

const fastifyCodes: Record<string, { code: TErrorCode; problem: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "bad_request", problem: "malformed JSON" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "bad_request", problem: "empty, but Content-Type is application/json" },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", problem: "too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", problem: "unsupported Content-Type" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "bad_request", problem: "Content-Length does not match" },
};

/** The columns of a unique violation, from Prisma's meta (classic engine) or the driver adapter's error. */
function uniqueColumns(err: Prisma.PrismaClientKnownRequestError): string[] {
  const target = err.meta?.target;
  if (Array.isArray(target)) return target.map(String);
  if (typeof target === "string") return [target];
  const adapter = err.meta?.driverAdapterError as { cause?: { constraint?: { fields?: string[]; index?: string } } } | undefined;
  const constraint = adapter?.cause?.constraint;
  if (constraint?.fields) return constraint.fields.map((f) => f.replace(/^"|"$/g, ""));
  return constraint?.index ? [constraint.index] : [];
}

/** The request fields behind a unique constraint's columns: a gateway's port, as the body names it. */
function uniqueFields(err: Prisma.PrismaClientKnownRequestError): string[] {
  const columns = uniqueColumns(err);
  if (columns.some((c) => c.includes("gatewayPublicPort"))) return ["gateway.publicPort"];
  return columns;
}

/** The answer to an error that is not an `AppError` (those are answered by `refuse`). */
function toBody(
  err: unknown,
  request: FastifyRequest,
): { status: number; body: TErrorBody; headers?: Record<string, string>; unexpected: boolean; warn?: boolean } {
  const fe = err as FastifyError;
  const known = fe.code ? fastifyCodes[fe.code] : undefined;
  if (known) {
    const problem =
      fe.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? `larger than ${request.routeOptions.bodyLimit ?? "the limit of"} bytes` : known.problem;
    const details: TFieldIssue[] = [{ field: "body", message: problem }];
    return { status: errorStatus[known.code], body: { error: { code: known.code, message: `body: ${problem}`, details } }, unexpected: false };
  }
  const refused = databaseInputIssue(err);
  if (refused) {
    const details: TFieldIssue[] = [refused];
    return {
      status: 400,
      body: { error: { code: "validation_failed", message: `${refused.field}: ${refused.message}`, details } },
      unexpected: false,
    };
  }
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === "P2002") {
      const fields = uniqueFields(err);
      const what = fields.length > 0 ? fields.join(", ") : "a value";
      // Shaped like a validation error, so a form can put "already taken" beside its field.
      const details: TFieldIssue[] = fields.map((field) => ({ field: `body.${field}`, message: "already taken" }));
      const body: TErrorBody = { error: { code: "conflict", message: `${what}: already taken` } };
      if (details.length > 0) body.error.details = details;
      return { status: 409, body, unexpected: false };
    }
    if (err.code === "P2025") {
      return { status: 404, body: { error: { code: "not_found", message: "not found" } }, unexpected: false };
    }
  }
  const fault = databaseFault(err);
  if (fault === "storage_full") {
    const message = "the server's storage is full; changes cannot be saved until space is freed";
    return { status: 503, body: { error: { code: "storage_full", message } }, headers: { "retry-after": "5" }, unexpected: false };
  }
  if (fault === "unavailable") {
    const message = "the database is unavailable; try again shortly";
    return { status: 503, body: { error: { code: "service_unavailable", message } }, headers: { "retry-after": "2" }, unexpected: false };
  }
  if (isTransactionConflict(err)) {
    // Every run of the change met another change head on (retryOnConflict gave up): nothing of it
    // was written, and a moment later it will most likely go through.
    const message = "the change collided with others being made at the same moment and was not saved; try again";
    return { status: 503, body: { error: { code: "service_unavailable", message } }, headers: { "retry-after": "1" }, unexpected: false };
  }
  if (isVanishedReference(err)) {
    // Ran twice (retryOnConflict), and something it refers to without a check of its own (the
    // caller, deleted by an admin at that moment) was still gone. Logged as a warning: a missing
    // check would show here too.
    const message = "something this change refers to was deleted at the same moment; nothing was saved";
    return { status: 409, body: { error: { code: "conflict", message } }, unexpected: false, warn: true };
  }
  if (fe.statusCode === 429) {
    return { status: 429, body: { error: { code: "rate_limited", message: fe.message } }, unexpected: false };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: { code: "bad_request", message: fe.message } }, unexpected: false };
  }
  return {
    status: 500,
    body: { error: { code: "internal", message: "internal error; the server log has the details" } },
    unexpected: true,
  };
}

/**
 * Fastify's `frameworkErrors` option: errors met before any route runs (a URL whose
 * percent-encoding is not UTF-8, `%uD800`) leave in the same envelope. Every builder of the app
 * (`buildServer`, the tests' `buildTestApp`) passes it to `Fastify()`.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const bad = err.code === "FST_ERR_BAD_URL";
  const details: TFieldIssue[] = [{ field: "url", message: "not a valid URL (percent-encoding must spell UTF-8)" }];
  const body: TErrorBody = bad
    ? { error: { code: "bad_request", message: `url: ${details[0]!.message}`, details } }
    : toBody(err, request).body;
  void reply.code(bad ? 400 : errorStatus[body.error.code]).type("application/json").send(body);
}

/** What an error status means, for answers that left a route without a body (see below). */
const bareStatusCodes: Record<number, TErrorCode> = { 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited" };

export default fp(
  async (app: FastifyInstance) => {
    // A plugin may answer a refusal with no body at all: the websocket plugin answers a plain GET
    // on `/api/live` with a bare 404. Every refusal still leaves in the envelope.
    // Callback style: it runs on every answer, and an async hook costs a promise each time.
    app.addHook("onSend", (request, reply, payload, done) => {
      if (reply.statusCode < 400 || (payload !== undefined && payload !== null && payload !== "")) return done(null, payload);
      const code = bareStatusCodes[reply.statusCode] ?? "bad_request";
      const ws = reply.statusCode === 404 && request.routeOptions.url !== undefined;
      const message = ws ? "this route is a websocket: connect with Upgrade: websocket" : code.replace(/_/g, " ");
      void reply.type("application/json");
      done(null, JSON.stringify({ error: { code, message } } satisfies TErrorBody));
    });

    app.setErrorHandler((err, request, reply) => {
      // A refusal we chose: the same answer as `refuse` gives (its envelope comes from memory).
      if (err instanceof AppError) {
        refuse(reply, err);
        return;
      }
      const { status, body, headers, unexpected, warn } = toBody(err, request);
      // A database fault is logged once per outage by the health tracker, not once per request.
      const fault = status === 503 ? databaseFault(err) : undefined;
      if (fault && app.hasDecorator("dbHealth")) app.dbHealth.noticed(err);
      if (unexpected) request.log.error({ err }, "unhandled error");
      // A refusal is already on the request's own log line (status and code); its wording is
      // for debugging. A dependency that is down is worth a warning.
      else if (warn) request.log.warn({ err, code: body.error.code, status }, body.error.message);
      else if (status >= 500 && !fault) request.log.warn({ code: body.error.code, status }, body.error.message);
      else request.log.debug({ code: body.error.code, status }, body.error.message);
      if (headers) void reply.headers(headers);
      // Serialised here: the envelope is one shape, and Fastify's lookup of a serialiser for
      // the status (there is none) cost as much as the rest of a refusal.
      return reply.code(status).type("application/json").send(JSON.stringify(body));
    });
  },
  { name: "error-handler" },
);
