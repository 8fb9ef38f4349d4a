// The one error handler: every failure leaves as `{ error: { code, message, details } }`.
// Validation problems name the field; anything unexpected is logged and hidden from the client.
// (Unknown routes are answered by the web plugin, which also serves the SPA's pages.)
import type { FastifyError, FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { errorStatus, type TErrorBody, type TErrorCode, type TFieldIssue } from "@postern/contracts";
import { Prisma } from "@postern/db";
import { AppError } from "../errors";

const fastifyCodes: Record<string, { code: TErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "bad_request", message: "body: malformed JSON" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "bad_request", message: "body: empty, but Content-Type is application/json" },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "body: too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "body: unsupported Content-Type" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "bad_request", message: "body: Content-Length does not match" },
};

function fieldIssues(err: FastifyError): TFieldIssue[] {
  const context = err.validationContext ?? "body";
  return (err.validation ?? []).map((v) => {
    const params = v.params as { issue?: { path?: PropertyKey[]; message?: string } } | undefined;
    const issuePath = params?.issue?.path ?? v.instancePath.split("/").filter(Boolean);
    const field = [context, ...issuePath.map(String)].join(".");
    return { field, message: params?.issue?.message ?? v.message ?? "invalid" };
  });
}

function toBody(err: unknown): { status: number; body: TErrorBody; headers?: Record<string, string>; unexpected: boolean } {
  if (err instanceof AppError) {
    const body: TErrorBody = { error: { code: err.code, message: err.message } };
    if (err.details !== undefined) body.error.details = err.details;
    return { status: err.statusCode, body, headers: err.headers, unexpected: false };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const details = fieldIssues(fe);
    const message = details.map((d) => `${d.field}: ${d.message}`).join("; ");
    return { status: 400, body: { error: { code: "validation_failed", message, details } }, unexpected: false };
  }
  const known = fe.code ? fastifyCodes[fe.code] : undefined;
  if (known) {
    return { status: errorStatus[known.code], body: { error: known }, unexpected: false };
  }
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === "P2002") {
      const target = (err.meta?.target as string[] | string | undefined) ?? "value";
      return {
        status: 409,
        body: { error: { code: "conflict", message: `${String(target)} is already taken` } },
        unexpected: false,
      };
    }
    if (err.code === "P2025") {
      return { status: 404, body: { error: { code: "not_found", message: "not found" } }, unexpected: false };
    }
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

export default fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err, request, reply) => {
      const { status, body, headers, unexpected } = toBody(err);
      if (unexpected) request.log.error({ err }, "unhandled error");
      else request.log.info({ code: body.error.code, status }, body.error.message);
      if (headers) void reply.headers(headers);
      return reply.code(status).type("application/json").send(body);
    });
  },
  { name: "error-handler" },
);
