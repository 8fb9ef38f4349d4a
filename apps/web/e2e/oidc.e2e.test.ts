// OIDC login from the login page against a real OpenID Provider (oidc-provider on localhost,
// whose login and consent steps answer by themselves): the provider's button, the way back to
// the page that was asked for, and `?provider=<id>` going straight to the provider.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { startOidcProvider, type TestOidcProvider } from "../../api/test/oidc-provider";
import { chromiumAvailable, freePort, launchBrowser, startServer, type RunningServer } from "./harness";

describe.skipIf(!chromiumAvailable())("OIDC login in Chromium", () => {
  let server: RunningServer;
  let idp: TestOidcProvider;
  let browser: Browser;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startOidcProvider({ postern: base, id: "acme" });
    idp.nextAccount = { sub: "olivia-sub", preferred_username: "olivia", name: "Olivia Ops", email: "olivia@example.com", email_verified: true };
    server = await startServer({
      PORT: String(port),
      POSTERN_PUBLIC_URL: base,
      POSTERN_OIDC_ACME_ISSUER: idp.issuer,
      POSTERN_OIDC_ACME_CLIENT_ID: idp.clientId,
      POSTERN_OIDC_ACME_CLIENT_SECRET: idp.clientSecret,
      POSTERN_OIDC_ACME_NAME: "Acme SSO",
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await idp?.close();
  });

  it("logs in with the provider's button and comes back to the page asked for", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/sessions`);
    await page.waitForURL(/\/login\?returnTo=%2Fsessions$/);
    // Local login is offered beside the provider.
    await page.getByLabel("Username").waitFor();
    await page.getByRole("link", { name: "Continue with Acme SSO" }).click();
    await page.waitForURL(`${server.url}/sessions`);
    await page.getByRole("heading", { name: "My sessions" }).waitFor();
    expect(await page.locator(".whoami").textContent()).toContain("olivia");
    await page.close();
  });

  it("goes straight to the provider with ?provider=<id>", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/login?provider=acme&returnTo=%2Fsessions`);
    await page.waitForURL(`${server.url}/sessions`);
    await page.getByRole("heading", { name: "My sessions" }).waitFor();
    await page.close();
  });

  it("explains a failed provider login", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/login?error=signup_disabled`);
    expect(await page.getByRole("alert").textContent()).toMatch(/sign-up is off/);
    await page.close();
  });
});
