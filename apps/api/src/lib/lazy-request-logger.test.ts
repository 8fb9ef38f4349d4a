// Each request's child logger is made only when the request writes a line at an enabled level,
// and then carries the request id and the route's own level as a pino child would.
import { PassThrough } from "node:stream";
import Fastify, { LogController } from "fastify";
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { lazyChildLoggerFactory } from "./lazy-request-logger";

async function appWith(level: string) {
  const out = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  out.on("data", (d: Buffer) => lines.push(...d.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
  const logger = pino({ level }, out);
  const child = vi.spyOn(logger, "child");
  const app = Fastify({
    loggerInstance: logger,
    childLoggerFactory: lazyChildLoggerFactory,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get("/quiet", async () => ({ ok: true }));
  app.get("/chatty", async (request) => {
    request.log.debug("below the level");
    request.log.info({ n: 1 }, "written");
    return { enabled: request.log.isLevelEnabled("info"), debug: request.log.isLevelEnabled("debug") };
  });
  app.get("/probe", { logLevel: "warn" }, async (request) => {
    request.log.info("hidden by the route's level");
    request.log.warn("shown");
    return { level: request.log.level };
  });
  app.get("/raised", async (request) => {
    request.log.level = "debug";
    request.log.debug("after raising the level");
    return {};
  });
  await app.ready();
  child.mockClear();
  return { app, lines, child };
}

describe("the lazy request logger", () => {
  it("makes no child for a request that writes nothing", async () => {
    const { app, child, lines } = await appWith("info");
    for (let i = 0; i < 5; i++) expect((await app.inject({ url: "/quiet" })).statusCode).toBe(200);
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
    await app.close();
  });

  it("writes enabled lines through a child that carries the request id, and skips the rest", async () => {
    const { app, child, lines } = await appWith("info");
    const res = await app.inject({ url: "/chatty" });
    expect(res.json()).toEqual({ enabled: true, debug: false });
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: "written", n: 1, level: 30, reqId: expect.any(String) });
    await app.close();
  });

  it("honours the route's own level and a level set on the request", async () => {
    const { app, lines } = await appWith("info");
    expect((await app.inject({ url: "/probe" })).json()).toEqual({ level: "warn" });
    await app.inject({ url: "/raised" });
    expect(lines.map((l) => l.msg)).toEqual(["shown", "after raising the level"]);
    await app.close();
  });

  it("writes nothing when the server's level is silent", async () => {
    const { app, lines } = await appWith("silent");
    expect((await app.inject({ url: "/chatty" })).json()).toEqual({ enabled: false, debug: false });
    expect(lines).toEqual([]);
    await app.close();
  });
});
