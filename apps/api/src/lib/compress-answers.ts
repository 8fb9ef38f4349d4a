// Compression for the few answers worth it: Brotli or gzip, as the client's Accept-Encoding asks,
// for bodies of 1 KB and more, strings and streams alike. Added to one plugin's scope (the
// audit's pages and exports), where each answer is made for its request. The board's reads,
// serialised once per version, are compressed once per version too (send-json.ts), not here.
// Not @fastify/compress: its MIME database alone added 5 MB to every server's idle memory, for
// two admin routes.
import negotiate from "@fastify/accept-negotiator";
import type { FastifyInstance, FastifyReply } from "fastify";
import { Readable, pipeline } from "node:stream";
import zlib from "node:zlib";

export type Encoding = "br" | "gzip";
const ENCODINGS: Encoding[] = ["br", "gzip"];
/** Below this, the headers and a round trip dwarf what compression saves. */
export const MIN_BYTES = 1024;
/** Made per request, so fast settings: Brotli's quality 4 is about gzip's speed, and smaller. */
const BROTLI: zlib.BrotliOptions = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } };

/** What a browser sends is one of a handful of strings, the same on every request. */
const negotiated = new Map<string, Encoding | null>();
const MAX_NEGOTIATED = 64;

/** The encoding to answer a request's Accept-Encoding with; null for none (identity). */
export function encodingFor(accepted: string | undefined): Encoding | null {
  if (!accepted) return null;
  let encoding = negotiated.get(accepted);
  if (encoding === undefined) {
    encoding = (negotiate(accepted, ENCODINGS) as Encoding | null) ?? null;
    if (negotiated.size >= MAX_NEGOTIATED) negotiated.clear();
    negotiated.set(accepted, encoding);
  }
  return encoding;
}

/** Caches must keep one copy per encoding: the answer depends on the request's Accept-Encoding. */
export function varyOnEncoding(reply: FastifyReply): void {
  const vary = reply.getHeader("vary");
  if (vary === undefined) void reply.header("vary", "Accept-Encoding");
  else if (!/\baccept-encoding\b/i.test(String(vary))) void reply.header("vary", `${String(vary)}, Accept-Encoding`);
}

function encoded(reply: FastifyReply, encoding: string): void {
  void reply.header("content-encoding", encoding);
  void reply.removeHeader("content-length");
}

export function compressAnswers(app: FastifyInstance): void {
  app.addHook("onSend", (request, reply, payload, done) => {
    if (payload === null || payload === undefined || reply.getHeader("content-encoding") !== undefined) return done(null, payload);
    varyOnEncoding(reply);
    const encoding = encodingFor(request.headers["accept-encoding"]);
    if (!encoding) return done(null, payload);

    if (typeof payload === "string" || Buffer.isBuffer(payload)) {
      const body = typeof payload === "string" ? Buffer.from(payload) : payload;
      if (body.length < MIN_BYTES) return done(null, payload);
      const finish = (err: Error | null, out: Buffer) => {
        if (err) return done(err);
        encoded(reply, encoding);
        done(null, out);
      };
      if (encoding === "br") zlib.brotliCompress(body, BROTLI, finish);
      else zlib.gzip(body, finish);
      return;
    }
    if (payload instanceof Readable) {
      encoded(reply, encoding);
      const compressor = encoding === "br" ? zlib.createBrotliCompress(BROTLI) : zlib.createGzip();
      // A source that fails half-way (the database gone during an export) ends the answer cut
      // short, as it would uncompressed; the error is logged, not sent.
      return done(null, pipeline(payload, compressor, (err) => err && request.log.warn({ err }, "compressed answer cut short")));
    }
    done(null, payload);
  });
}
