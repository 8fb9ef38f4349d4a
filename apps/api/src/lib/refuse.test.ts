import { PassThrough } from "node:stream";
import Fastify, { LogController } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, badField, notFound } from "../errors";
import errorHandler from "../plugins/error-handler";
import { envelopeOf, refuse } from "./refuse";

// A refusal sent from a route or a hook and the same refusal thrown through Fastify's error path
// must reach the client alike: status, headers and envelope.
describe("refuse", () => {
  const app = Fastify({ logger: false });
  const busy = () => new AppError("service_unavailable", "try again shortly", undefined, { "retry-after": "2" });
  const cases = { missing: () => notFound("service"), field: () => badField("body.durationSeconds", "expected a number"), busy };

  beforeAll(async () => {
    await app.register(errorHandler);
    for (const [name, make] of Object.entries(cases)) {
      app.get(`/sent/${name}`, async (_request, reply) => refuse(reply, make()));
      app.get(`/thrown/${name}`, async () => {
        throw make();
      });
      app.get(`/hook/${name}`, { onRequest: (_request, reply) => void refuse(reply, make()) }, async () => "never");
    }
    await app.ready();
  });
  afterAll(() => app.close());

  it.each(Object.keys(cases))("answers %s alike whether sent, thrown or refused from a hook", async (name) => {
    const [sent, ...others] = await Promise.all(["sent", "thrown", "hook"].map((way) => app.inject({ url: `/${way}/${name}` })));
    for (const res of [sent!, ...others]) {
      expect(res.statusCode).toBe(sent!.statusCode);
      expect(res.body).toBe(sent!.body);
      expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(res.headers["retry-after"]).toBe(name === "busy" ? "2" : undefined);
    }
    const err = cases[name as keyof typeof cases]();
    expect(sent!.statusCode).toBe(err.statusCode);
    expect(sent!.json()).toEqual({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
  });

  it("logs a refusal at debug and a 5xx it chose at warn, as the error handler does", async () => {
    const out = new PassThrough();
    const lines: { level: number; msg: string; code?: string }[] = [];
    out.on("data", (d: Buffer) => lines.push(...d.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l) as never)));
    const logged = Fastify({ loggerInstance: pino({ level: "debug" }, out), logController: new LogController({ disableRequestLogging: true }) });
    await logged.register(errorHandler);
    logged.get("/missing", async (_request, reply) => refuse(reply, notFound("service")));
    logged.get("/busy", async (_request, reply) => refuse(reply, busy()));
    await logged.inject({ url: "/missing" });
    await logged.inject({ url: "/busy" });
    await logged.close();
    expect(lines.map((l) => [l.level, l.code, l.msg])).toEqual([
      [20, "not_found", "service not found"],
      [40, "service_unavailable", "try again shortly"],
    ]);
  });

  it("serialises a refusal without details once, and one with details every time", () => {
    expect(envelopeOf(notFound("service"))).toBe(envelopeOf(notFound("service")));
    expect(envelopeOf(notFound("service"))).toBe('{"error":{"code":"not_found","message":"service not found"}}');
    expect(JSON.parse(envelopeOf(badField("body.x", "required")))).toEqual({
      error: { code: "validation_failed", message: "body.x: required", details: [{ field: "body.x", message: "required" }] },
    });
  });
});
