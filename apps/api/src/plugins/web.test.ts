// The SPA's static files: served, with index.html for page URLs, and never its source maps.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
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

  it("sends the smallest copy the client accepts, and lets it keep what is named by its content", async () => {
    const site = fs.mkdtempSync(path.join(dir, "site-"));
    fs.mkdirSync(path.join(site, "assets"));
    const js = `export const board = ${JSON.stringify("x".repeat(4000))};`;
    const html = `<!doctype html><title>Postern</title><script type="module" src="/assets/app-1a2b.js"></script>${" ".repeat(600)}`;
    const write = (name: string, text: string) => {
      fs.writeFileSync(path.join(site, name), text);
      fs.writeFileSync(path.join(site, `${name}.br`), zlib.brotliCompressSync(text));
      fs.writeFileSync(path.join(site, `${name}.gz`), zlib.gzipSync(text));
    };
    write("assets/app-1a2b.js", js);
    write("index.html", html);
    fs.writeFileSync(path.join(site, "favicon.svg"), "<svg/>");
    const app = Fastify({ logger: false });
    await app.register(web, { webDir: site });
    await app.ready();
    const get = (url: string, encoding?: string) =>
      app.inject({ url, headers: encoding === undefined ? {} : { "accept-encoding": encoding } });

    const br = await get("/assets/app-1a2b.js", "gzip, deflate, br, zstd");
    expect(br.statusCode).toBe(200);
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers["content-type"]).toMatch(/^application\/javascript/);
    expect(br.headers.vary).toBe("Accept-Encoding");
    expect(br.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(zlib.brotliDecompressSync(br.rawPayload).toString()).toBe(js);
    expect(br.rawPayload.length).toBeLessThan(js.length / 10);

    const gz = await get("/assets/app-1a2b.js", "gzip");
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(zlib.gunzipSync(gz.rawPayload).toString()).toBe(js);

    for (const encoding of [undefined, "identity"]) {
      const plain = await get("/assets/app-1a2b.js", encoding);
      expect(plain.headers["content-encoding"]).toBeUndefined();
      expect(plain.body).toBe(js);
      expect(plain.headers.vary).toBe("Accept-Encoding");
    }

    // The page that names the assets is checked at every visit, however it is reached.
    for (const url of ["/", "/board", "/admin/audit"]) {
      const page = await get(url, "br");
      expect(page.statusCode, url).toBe(200);
      expect(page.headers["content-type"], url).toMatch(/^text\/html/);
      expect(page.headers["content-encoding"], url).toBe("br");
      expect(page.headers["cache-control"], url).toBe("no-cache");
      expect(zlib.brotliDecompressSync(page.rawPayload).toString(), url).toBe(html);
    }
    const icon = await get("/favicon.svg", "br");
    expect(icon.headers["content-encoding"]).toBeUndefined();
    expect(icon.headers["cache-control"]).toBe("no-cache");

    // The compressed copies are encodings of their files, not files of their own.
    for (const url of ["/assets/app-1a2b.js.br", "/assets/app-1a2b.js.gz", "/index.html.br"]) {
      const copy = await get(url, "br");
      expect(copy.statusCode, url).toBe(404);
      expect(copy.json().error.code, url).toBe("not_found");
    }
    await app.close();
  });
});
