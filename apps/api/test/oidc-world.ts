// The OIDC test world: two real OpenID Providers (oidc-provider on 127.0.0.1) and Postern
// listening on a real port, plus a fetch-based browser that follows redirects by hand and carries
// cookies the way a browser does (one jar per host, shared across ports).
import { afterEach, beforeEach } from "vitest";
import { ZMe, type TMe } from "@postern/contracts";
import type { Provider } from "@postern/db";
import { buildTestApp, type TestApp } from "./app";
import { freePort, startOidcProvider, type TestOidcProvider } from "./oidc-provider";

/** A cookie jar for 127.0.0.1: name → value (paths ignored: names do not clash here). */
export class Browser {
  cookies = new Map<string, string>();
  visited: string[] = [];

  private store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair = "", ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && new Date(a.split("=")[1] ?? "") < new Date()));
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async get(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: this.header() } });
    this.store(res);
    return res;
  }

  /** Follows redirects until one leaves the two servers' protocol paths; returns the last URL. */
  async follow(url: string, stopAt: (u: URL) => boolean = () => false): Promise<{ url: string; res: Response }> {
    let current = url;
    for (let hop = 0; hop < 20; hop += 1) {
      this.visited.push(current);
      const res = await this.get(current);
      const location = res.headers.get("location");
      if (res.status < 300 || res.status >= 400 || !location) return { url: current, res };
      const next = new URL(location, current);
      if (stopAt(next)) return { url: next.toString(), res };
      current = next.toString();
    }
    throw new Error(`too many redirects: ${this.visited.join(" → ")}`);
  }
}

export const isCallback = (u: URL) => u.pathname.includes("/api/auth/oidc/") && u.pathname.endsWith("/callback");

export interface OidcWorld {
  t: TestApp;
  base: string;
  idpA: TestOidcProvider;
  idpB: TestOidcProvider;
  me(browser: Browser): Promise<{ status: number; body: TMe }>;
  loginEvents(action: string): ReturnType<TestApp["app"]["ctx"]["db"]["auditEvent"]["findMany"]>;
}

/**
 * Registers hooks that give every test a fresh world: provider "a" (groups claim `groups`, links
 * by verified e-mail), provider "auth0" (namespaced groups claim, no sign-up, issuer written with
 * a trailing slash) and provider "down" (nothing listens there).
 */
export function useOidcWorld(provider: Provider): OidcWorld {
  const world = {} as OidcWorld;
  beforeEach(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const idpA = await startOidcProvider({ postern: base, id: "a", extraClaims: ["groups"] });
    const idpB = await startOidcProvider({ postern: base, id: "auth0", extraClaims: ["https://example.com/groups"] });
    const t = await buildTestApp(provider, {
      env: {
        POSTERN_PUBLIC_URL: base,
        POSTERN_OIDC_A_ISSUER: idpA.issuer,
        POSTERN_OIDC_A_CLIENT_ID: idpA.clientId,
        POSTERN_OIDC_A_CLIENT_SECRET: idpA.clientSecret,
        POSTERN_OIDC_A_NAME: "Company SSO",
        POSTERN_OIDC_A_GROUPS_CLAIM: "groups",
        POSTERN_OIDC_A_LINK_BY_EMAIL: "true",
        POSTERN_OIDC_AUTH0_ISSUER: `${idpB.issuer}/`,
        POSTERN_OIDC_AUTH0_CLIENT_ID: idpB.clientId,
        POSTERN_OIDC_AUTH0_CLIENT_SECRET: idpB.clientSecret,
        POSTERN_OIDC_AUTH0_NAME: "Auth0",
        POSTERN_OIDC_AUTH0_GROUPS_CLAIM: "https://example.com/groups",
        POSTERN_OIDC_AUTH0_ALLOW_SIGNUP: "false",
        POSTERN_OIDC_DOWN_ISSUER: `http://127.0.0.1:${await freePort()}`,
        POSTERN_OIDC_DOWN_CLIENT_ID: "nobody",
      },
    });
    await t.app.listen({ port, host: "127.0.0.1" });
    Object.assign(world, { t, base, idpA, idpB });
  });
  afterEach(async () => {
    await world.t.close();
    await world.idpA.close();
    await world.idpB.close();
  });
  world.me = async (browser) => {
    const res = await browser.get(`${world.base}/api/me`);
    // The body is a TMe only with status 200; tests check the status first.
    return { status: res.status, body: (res.status === 200 ? ZMe.parse(await res.json()) : await res.json()) as TMe };
  };
  world.loginEvents = (action) => world.t.app.ctx.db.auditEvent.findMany({ where: { action }, orderBy: { seq: "asc" } });
  return world;
}
