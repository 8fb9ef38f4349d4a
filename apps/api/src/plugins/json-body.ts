// The application/json parser of every route: Fastify's own (proto and constructor poisoning
// refused, an empty body refused, the route's body limit), given only UTF-8. Fastify's decoding
// put U+FFFD in place of bytes that are not UTF-8: an old monitor sending ISO-8859-1 had its "é"
// stored as "�" and answered 202. JSON exchanged between systems is UTF-8 (RFC 8259, 8.1).
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { AppError } from "../errors";

const utf8 = new TextDecoder("utf-8", { fatal: true });

const notUtf8 = new AppError("bad_request", "body: not valid UTF-8 (send JSON in UTF-8)", [
  { field: "body", message: "not valid UTF-8 (send JSON in UTF-8)" },
]);

function charsetOf(contentType: string | undefined): string | undefined {
  return /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? "")?.[1]?.toLowerCase();
}

function otherCharset(charset: string): AppError {
  const problem = `charset ${charset.slice(0, 40)} is not accepted (send JSON in UTF-8)`;
  return new AppError("unsupported_media_type", `body: ${problem}`, [{ field: "body", message: problem }]);
}

export default fp(
  async (app: FastifyInstance) => {
    const { onProtoPoisoning = "error", onConstructorPoisoning = "error" } = app.initialConfig;
    const parseJson = app.getDefaultJsonParser(onProtoPoisoning, onConstructorPoisoning);
    app.removeContentTypeParser("application/json");
    app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
      const charset = charsetOf(request.headers["content-type"]);
      if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") return done(otherCharset(charset), undefined);
      let text: string;
      try {
        text = utf8.decode(body as Buffer);
      } catch {
        return done(notUtf8, undefined);
      }
      parseJson(request, text, done);
    });
  },
  { name: "json-body" },
);
