// The log format switch: JSON lines when not on a terminal or with POSTERN_LOG_FORMAT=json,
// one readable coloured line per request on a terminal or with POSTERN_LOG_FORMAT=pretty;
// probes and static files stay below info; the first admin's password is never in a log line.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "./config";
import { createLogger, loggableUrl, logFormatOf, recordErrorCodes, RequestLogController, type LogFormat } from "./logger";
import { lazyChildLoggerFactory } from "./lib/lazy-request-logger";
import { refuse } from "./lib/refuse";
import { notFound } from "./errors";
import { createTestDatabase } from "../test/databases";
import { startServe, type ServeProcess } from "../test/serve";

describe("choosing the format", () => {
  it("is pretty on a terminal and JSON elsewhere unless POSTERN_LOG_FORMAT says otherwise", () => {
    expect(logFormatOf({ logFormat: undefined }, true)).toBe("pretty");
    expect(logFormatOf({ logFormat: undefined }, false)).toBe("json");
    expect(logFormatOf({ logFormat: "json" }, true)).toBe("json");
    expect(logFormatOf({ logFormat: "pretty" }, false)).toBe("pretty");
    expect(loadConfig({ POSTERN_LOG_FORMAT: "json" }, "/dev/null").logFormat).toBe("json");
    expect(() => loadConfig({ POSTERN_LOG_FORMAT: "xml" }, "/dev/null")).toThrow('POSTERN_LOG_FORMAT="xml": expected pretty or json');
  });
});

/** A Fastify app with Postern's logger and request lines, writing into a buffer. */
async function appLogging(format: LogFormat) {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString()));
  const logger: FastifyBaseLogger = await createLogger({ logLevel: "info", logFormat: format }, { destination: out, colorize: false });
  const app = Fastify({ loggerInstance: logger, logController: new RequestLogController(), childLoggerFactory: lazyChildLoggerFactory });
  recordErrorCodes(app);
  app.get("/api/things", async () => ({ ok: true }));
  app.get("/api/refused", async (_request, reply) => reply.code(409).send({ error: { code: "conflict", message: "held by alice" } }));
  // A refusal sent by refuse(), with its envelope kept in memory.
  app.get("/api/missing", async (_request, reply) => refuse(reply, notFound("service")));
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/favicon.svg", async (_request, reply) => reply.type("image/svg+xml").send("<svg/>"));
  await app.ready();
  for (const url of ["/api/things", "/api/refused", "/api/missing", "/healthz", "/favicon.svg"]) await app.inject({ url });
  await app.close();
  return text.split("\n").filter((l) => l.trim() !== "");
}

describe("request lines", () => {
  it("JSON: one line per API request, none for probes and static files", async () => {
    const lines = (await appLogging("json")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === "request completed");
    expect(requests.map((l) => [(l.req as { url: string }).url, (l.res as { statusCode: number }).statusCode, l.error])).toEqual([
      ["/api/things", 200, undefined],
      ["/api/refused", 409, "conflict"],
      ["/api/missing", 404, "not_found"],
    ]);
    expect(requests.every((l) => typeof l.responseTime === "number" && typeof l.reqId === "string")).toBe(true);
  });

  it("pretty: `METHOD path status [code] time` on one line", async () => {
    const lines = await appLogging("pretty");
    const requests = lines.filter((l) => / (GET|POST) \//.test(l));
    expect(requests).toHaveLength(3);
    expect(requests[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: GET \/api\/things 200 \d+\.\d ms$/);
    expect(requests[1]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: GET \/api\/refused 409 conflict \d+\.\d ms$/);
    expect(requests[2]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: GET \/api\/missing 404 not_found \d+\.\d ms$/);
    expect(lines.some((l) => l.startsWith("{"))).toBe(false);
  });
});

describe("credentials in URLs", () => {
  it("drops the query of auth routes and redacts token, access_token, code and state anywhere", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => (text += d.toString()));
    const logger: FastifyBaseLogger = await createLogger({ logLevel: "debug", logFormat: "json" }, { destination: out });
    const app = Fastify({ loggerInstance: logger, logController: new RequestLogController() });
    app.get("/api/auth/oidc/:provider/callback", async () => ({ ok: true }));
    app.get("/api/things", async () => ({ ok: true }));
    await app.ready();
    await app.inject({ url: "/api/auth/oidc/acme/callback?code=SECRETCODE1&state=SECRETSTATE1&iss=x" });
    await app.inject({ url: "/api/things?token=SECRETTOKEN1&access_token=SECRETTOKEN2&Code=SECRETCODE2&state=SECRETSTATE2&limit=5" });
    await app.close();
    expect(text).not.toMatch(/SECRET/);
    const urls = text
      .split("\n")
      .filter((l) => l.includes('"request completed"'))
      .map((l) => (JSON.parse(l) as { req: { url: string } }).req.url);
    expect(urls).toEqual([
      "/api/auth/oidc/acme/callback?[redacted]",
      "/api/things?token=[redacted]&access_token=[redacted]&Code=[redacted]&state=[redacted]&limit=5",
    ]);
    expect(loggableUrl("/api/things")).toBe("/api/things");
  });
});

/** `script` gives the process a pseudo-terminal, as an operator's shell would. */
function onTerminal(command: string[]): string[] {
  const quoted = command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return ["script", "-qfec", quoted, "/dev/null"];
}

describe("postern serve's output", () => {
  const dirs: string[] = [];
  const drops: (() => Promise<void>)[] = [];
  let server: ServeProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  afterAll(async () => {
    for (const drop of drops) await drop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function serve(env: Record<string, string>, terminal: boolean): Promise<{ lines: string[]; password: string }> {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "postern-logs-"));
    dirs.push(cwd);
    // A stand-in for the built SPA, so /favicon.svg is a static file served.
    const webDir = path.join(cwd, "web");
    fs.mkdirSync(webDir);
    fs.writeFileSync(path.join(webDir, "index.html"), "<!doctype html><title>Postern</title>");
    fs.writeFileSync(path.join(webDir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    const database = await createTestDatabase("sqlite");
    drops.push(database.drop);
    server = await startServe({
      cwd,
      env: { DATABASE_URL: database.url, POSTERN_DATA_DIR: cwd, POSTERN_WEB_DIR: webDir, POSTERN_LOG_LEVEL: "info", ...env },
      wrap: terminal ? onTerminal : undefined,
    });
    await server.waitForOutput("Postern is serving");
    for (const url of ["/api/auth/providers", "/healthz", "/readyz", "/favicon.svg", "/"]) {
      expect((await fetch(`${server.url}${url}`)).status, url).toBe(200);
    }
    await server.waitForOutput("/api/auth/providers");
    await server.stop();
    const output = server.stdout();
    const password = /password {2}(\S+)/.exec(output)?.[1] ?? "";
    expect(password).not.toBe("");
    return { lines: output.split(/\r?\n/).filter((l) => l.trim() !== ""), password };
  }

  /** The first-start banner: plain text lines, standing apart from the log lines. */
  const bannerLine = /^ {2}(First start|This password| {2}(open|username|password) )/;

  it("writes JSON lines when stdout is not a terminal, and the banner outside them", { timeout: 180_000 }, async () => {
    const { lines, password } = await serve({}, false);
    const logLines = lines.filter((l) => !bannerLine.test(l));
    expect(lines.filter((l) => bannerLine.test(l))).toHaveLength(5);
    const parsed = logLines.map((l) => JSON.parse(l) as { msg: string; req?: { url: string } });
    expect(parsed.filter((l) => l.msg === "request completed").map((l) => l.req?.url)).toEqual(["/api/auth/providers"]);
    expect(logLines.some((l) => l.includes(password))).toBe(false);
  });

  it("writes coloured one-line entries on a terminal", { timeout: 180_000 }, async () => {
    const { lines, password } = await serve({}, true);
    expect(lines.some((l) => l.startsWith("{"))).toBe(false);
    // eslint-disable-next-line no-control-regex
    const plain = lines.map((l) => l.replace(/\u001b\[[0-9;]*m/g, ""));
    expect(plain.filter((l) => / GET \//.test(l))).toEqual([expect.stringMatching(/INFO: GET \/api\/auth\/providers 200 \d+\.\d ms$/)]);
    expect(lines.some((l) => l.includes("\u001b["))).toBe(true);
    expect(plain.filter((l) => l.includes(password) && !bannerLine.test(l))).toEqual([]);
  });

  it("writes JSON on a terminal with POSTERN_LOG_FORMAT=json", { timeout: 180_000 }, async () => {
    const { lines } = await serve({ POSTERN_LOG_FORMAT: "json" }, true);
    const logLines = lines.filter((l) => !bannerLine.test(l));
    expect(logLines.length).toBeGreaterThan(3);
    for (const line of logLines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
  });
});
