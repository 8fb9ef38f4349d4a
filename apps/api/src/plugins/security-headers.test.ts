// The security headers are helmet's, computed once: every answer (API, refusal, SPA) carries
// them, and the CSP is the one app.ts asks for.
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import securityHeaders, { helmetHeaders } from "./security-headers";

const options = {
  contentSecurityPolicy: {
    directives: { defaultSrc: ["'self'"], connectSrc: ["'self'", "ws:", "wss:"], upgradeInsecureRequests: null },
  },
};

describe("security headers", () => {
  it("are helmet's headers for our options", () => {
    const { set, remove } = helmetHeaders(options);
    expect(set["content-security-policy"]).toMatch(/default-src 'self';/);
    expect(set["content-security-policy"]).toMatch(/connect-src 'self' ws: wss:/);
    expect(set["content-security-policy"]).not.toMatch(/upgrade-insecure-requests/);
    expect(set["x-content-type-options"]).toBe("nosniff");
    expect(set["strict-transport-security"]).toMatch(/max-age=\d+/);
    expect(set["x-frame-options"]).toBe("SAMEORIGIN");
    expect(remove).toContain("x-powered-by");
  });

  it("gives documents the full set and JSON answers (also refusals) the API set", async () => {
    const app = Fastify();
    await app.register(securityHeaders, options);
    app.get("/", async (_request, reply) => reply.type("text/html").send("<!doctype html>"));
    app.get("/api/docs", async (_request, reply) => reply.type("text/html").send("<!doctype html>"));
    app.get("/api/ok", async () => ({ ok: true }));
    app.get("/api/no", async (_request, reply) => reply.code(403).send({ error: { code: "forbidden", message: "no" } }));
    for (const url of ["/", "/api/docs", "/board/anything"]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.headers["content-security-policy"], url).toMatch(/default-src 'self'/);
      expect(res.headers["x-frame-options"], url).toBe("SAMEORIGIN");
      expect(res.headers["x-content-type-options"], url).toBe("nosniff");
    }
    for (const url of ["/api/ok", "/api/no", "/api/missing"]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.headers["content-security-policy"], url).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers["x-content-type-options"], url).toBe("nosniff");
      expect(res.headers["cache-control"], url).toBe("no-store");
      expect(res.headers["strict-transport-security"], url).toMatch(/max-age=\d+/);
      expect(res.headers["x-powered-by"], url).toBeUndefined();
    }
    await app.close();
  });
});
