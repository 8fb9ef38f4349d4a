// Compressed answers: the encoding the client prefers among Brotli and gzip, only from 1 KB, for
// strings and streams, with Vary kept whole.
import Fastify from "fastify";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compressAnswers } from "./compress-answers";

describe("compressAnswers", () => {
  const big = "row,of,a,long,export\r\n".repeat(200);
  const app = Fastify({ logger: false });
  beforeAll(async () => {
    await app.register(async (scoped) => {
      compressAnswers(scoped);
      scoped.get("/big", (_req, reply) => reply.type("text/plain").send(big));
      scoped.get("/small", (_req, reply) => reply.type("text/plain").send("short"));
      scoped.get("/stream", (_req, reply) => reply.type("text/csv").send(Readable.from(big.match(/.{1,50}/gs)!)));
      scoped.get("/vary", (_req, reply) => reply.header("vary", "Origin").type("text/plain").send(big));
    });
    app.get("/outside", (_req, reply) => reply.type("text/plain").send(big));
    await app.ready();
  });
  afterAll(() => app.close());

  const get = (url: string, encoding?: string) => app.inject({ url, headers: encoding === undefined ? {} : { "accept-encoding": encoding } });

  it("picks the encoding the client accepts and prefers", async () => {
    const cases: [string | undefined, string | undefined][] = [
      [undefined, undefined],
      ["identity", undefined],
      ["gzip, deflate, br", "br"],
      ["gzip", "gzip"],
      ["br;q=0, gzip", "gzip"],
      ["gzip;q=0.5, br;q=0.9", "br"],
      ["deflate", undefined],
    ];
    for (const [accepted, expected] of cases) {
      const res = await get("/big", accepted);
      expect(res.headers["content-encoding"], String(accepted)).toBe(expected);
      expect(res.headers.vary, String(accepted)).toBe("Accept-Encoding");
      const body = expected === "br" ? zlib.brotliDecompressSync(res.rawPayload) : expected === "gzip" ? zlib.gunzipSync(res.rawPayload) : res.rawPayload;
      expect(body.toString(), String(accepted)).toBe(big);
      if (expected) expect(Number(res.headers["content-length"] ?? res.rawPayload.length)).toBeLessThan(big.length / 10);
    }
  });

  it("leaves small bodies and routes outside its scope alone, and keeps other Vary entries", async () => {
    expect((await get("/small", "br")).headers["content-encoding"]).toBeUndefined();
    expect((await get("/small", "br")).body).toBe("short");
    const outside = await get("/outside", "br");
    expect(outside.headers["content-encoding"]).toBeUndefined();
    expect(outside.headers.vary).toBeUndefined();
    expect((await get("/vary", "gzip")).headers.vary).toBe("Origin, Accept-Encoding");
  });

  it("compresses a stream as it goes", async () => {
    const res = await get("/stream", "br");
    expect(res.headers["content-encoding"]).toBe("br");
    expect(res.headers["content-type"]).toMatch(/^text\/csv/);
    expect(zlib.brotliDecompressSync(res.rawPayload).toString()).toBe(big);
  });
});
