// OIDC logins while the ngrok tunnel is open and POSTERN_PUBLIC_URL is not set: the provider sends
// the browser back to the address the login started at, where its state cookie is. A teammate on
// the LAN and one on the tunnel's URL sign in at once; neither is sent to the other's address.
import { afterEach, describe, expect, it } from "vitest";
import { publicUrlOf } from "../../config";
import { buildTestApp, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";
import { startOidcProvider, type TestOidcProvider } from "../../../test/oidc-provider";
import type { Forwarder } from "../tunnel/tunnel.manager";

const TUNNEL_URL = "https://postern-test.ngrok.app";

describe.each(providers)("OIDC with the tunnel open (%s)", { timeout: 60_000 }, (provider) => {
  let t: TestApp | undefined;
  let idp: TestOidcProvider | undefined;
  afterEach(async () => {
    await t?.close();
    await idp?.close();
    t = idp = undefined;
  });

  it("sends each browser back to the address its login started at", async () => {
    idp = await startOidcProvider({ postern: TUNNEL_URL, id: "a" });
    t = await buildTestApp(provider, {
      env: {
        NGROK_AUTHTOKEN: "authtoken-1",
        POSTERN_OIDC_A_ISSUER: idp.issuer,
        POSTERN_OIDC_A_CLIENT_ID: idp.clientId,
        POSTERN_OIDC_A_CLIENT_SECRET: idp.clientSecret,
      },
    });
    const direct = await t.app.listen({ port: 0, host: "127.0.0.1" });
    // Stand-in for ngrok's cloud (unreachable here): it only tells us where ngrok would forward.
    let forwardTo = "";
    const forward: Forwarder = async ({ addr }) => {
      forwardTo = addr;
      return { url: () => TUNNEL_URL, close: async () => {} };
    };
    t.app.tunnel.useForwarder(forward);
    expect((await t.app.tunnel.open()).state).toBe("open");

    const redirectUriOf = async (base: string) => {
      const res = await fetch(`${base}/api/auth/oidc/a/start`, { redirect: "manual" });
      expect(res.status).toBe(302);
      return new URL(res.headers.get("location") ?? "").searchParams.get("redirect_uri");
    };
    expect(await redirectUriOf(`http://${forwardTo}`)).toBe(`${TUNNEL_URL}/api/auth/oidc/a/callback`);
    expect(await redirectUriOf(direct)).toBe(`${publicUrlOf(t.config)}/api/auth/oidc/a/callback`);
  });
});
