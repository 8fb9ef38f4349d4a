// Request bodies are read as UTF-8 or refused: the application/json parser of every route
// (Fastify's own: proto and constructor poisoning refused, an empty body refused, the route's
// body limit), the text/plain one, and `utf8TextParser` for a route module's own text type (the
// services' text/csv import). Fastify's decoding put U+FFFD in place of bytes that are not UTF-8:
// an old monitor sending ISO-8859-1 had its "é" stored as "�" and answered 202, and a CSV saved in
// ISO-8859-1 imported services named "Caf�". JSON between systems is UTF-8 (RFC 8259, 8.1); for
// text we could only guess at another encoding, so the sender is told instead.
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { AppError } from "../errors";

const utf8 = new TextDecoder("utf-8", { fatal: true });

function charsetOf(contentType: string | undefined): string | undefined {
  return /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? "")?.[1]?.toLowerCase();
}

function bodyError(code: "bad_request" | "unsupported_media_type", problem: string): AppError {
  return new AppError(code, `body: ${problem}`, [{ field: "body", message: problem }]);
}

/** The body as text, or the error naming `body`: 400 for bytes that are not UTF-8, 415 for
 * another declared charset. `format` is what the sender should send (JSON, CSV, text). */
export function decodeUtf8Body(request: FastifyRequest, body: Buffer, format: string): string | AppError {
  const charset = charsetOf(request.headers["content-type"]);
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    return bodyError("unsupported_media_type", `charset ${charset.slice(0, 40)} is not accepted (send ${format} in UTF-8)`);
  }
  try {
    return utf8.decode(body);
  } catch {
    return bodyError("bad_request", `not valid UTF-8 (send ${format} in UTF-8)`);
  }
}

/** A content-type parser (register it with `parseAs: "buffer"`) that hands the route the body as text. */
export function utf8TextParser(format: string) {
  return (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    const text = decodeUtf8Body(request, body as Buffer, format);
    if (text instanceof AppError) done(text, undefined);
    else done(null, text);
  };
}

export default fp(
  async (app: FastifyInstance) => {
    const { onProtoPoisoning = "error", onConstructorPoisoning = "error" } = app.initialConfig;
    const parseJson = app.getDefaultJsonParser(onProtoPoisoning, onConstructorPoisoning);
    app.removeContentTypeParser(["application/json", "text/plain"]);
    app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
      const text = decodeUtf8Body(request, body as Buffer, "JSON");
      if (text instanceof AppError) return done(text, undefined);
      parseJson(request, text, done);
    });
    app.addContentTypeParser("text/plain", { parseAs: "buffer" }, utf8TextParser("text"));
  },
  { name: "utf8-body" },
);
