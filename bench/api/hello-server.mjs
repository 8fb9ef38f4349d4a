// The baseline: plain Fastify answering a small JSON hello, nothing else in the way. Same
// Fastify as Postern (resolved from the API's dependencies), same machine, same run.
import { createRequire } from "node:module";
import path from "node:path";
import { keepTickShape } from "../../apps/api/bin/keep-tick-shape.mjs";

// The baseline at its best: the same guard as Postern's entry point, so that a garbage collection
// in this long-lived process does not slow every nextTick (see apps/api/bin/keep-tick-shape.mjs).
await keepTickShape();

const require = createRequire(path.resolve(import.meta.dirname, "../../apps/api/package.json"));
const Fastify = require("fastify");

const app = Fastify({ logger: false });
app.get("/", async () => ({ hello: "world" }));
// The baseline for refused POSTs: Fastify reads and parses the JSON body, and answers a 400 of
// the same shape as Postern's, with no validation, authentication or hooks of its own.
const refusal = { error: { code: "validation_failed", message: "body.durationSeconds: expected a number", details: [{ field: "body.durationSeconds", message: "expected a number" }] } };
app.post("/", async (_request, reply) => reply.code(400).send(refusal));
// A like-for-like neighbour for reads with large answers (50 sessions are about 16 KB): the same
// number of bytes of JSON, encoded once, as Postern sends its cached board.
const padded = new Map();
app.get("/bytes/:n", async (request, reply) => {
  const n = Math.min(1 << 20, Number(request.params.n) || 0);
  let body = padded.get(n);
  if (!body) padded.set(n, (body = Buffer.from(JSON.stringify({ pad: "x".repeat(Math.max(0, n - 10)) }))));
  return reply.type("application/json; charset=utf-8").send(body);
});
await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`listening ${app.server.address().port}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
