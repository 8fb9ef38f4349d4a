// The SPA's static files: served, with index.html for page URLs, and never its source maps.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Fastify from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import web from "./web";

describe("serving the built SPA", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-web-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("serves the bundles but not their source maps", async () => {
    fs.mkdirSync(path.join(dir, "assets"));
    fs.writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>Postern</title>");
    fs.writeFileSync(path.join(dir, "assets", "index-abc.js"), "console.log(1)");
    fs.writeFileSync(path.join(dir, "assets", "index-abc.js.map"), '{"sources":["../src/secret.ts"]}');
    const app = Fastify({ logger: false });
    await app.register(web, { webDir: dir });
    await app.ready();
    expect((await app.inject({ url: "/assets/index-abc.js" })).statusCode).toBe(200);
    const map = await app.inject({ url: "/assets/index-abc.js.map" });
    expect(map.statusCode).toBe(404);
    expect(map.body).not.toContain("secret.ts");
    expect((await app.inject({ url: "/board" })).body).toContain("<title>Postern</title>");
    await app.close();
  });
});
