// OIDC login from the login page against a real OpenID Provider (oidc-provider on localhost,
// whose login and consent steps answer by themselves): the provider's button, the way back to
// the page that was asked for, and `?provider=<id>` going straight to the provider.
import { startOidcProvider, type TestOidcProvider } from "../../api/test/oidc-provider";
import { expect, test } from "./support/fixtures";
import { freePort, startServer, type RunningServer } from "./support/server";

// Its own server: the provider must be configured at start, with a known port for redirect URIs.
let server: RunningServer;
let idp: TestOidcProvider;

test.beforeAll(async () => {
  test.setTimeout(120_000);
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
});

test.afterAll(async () => {
  await server?.stop();
  await idp?.close();
});

test("logs in with the provider's button and comes back to the page asked for", async ({ page }) => {
  await page.goto(`${server.url}/sessions`);
  await page.waitForURL(/\/login\?returnTo=%2Fsessions$/);
  // Local login is offered beside the provider.
  await expect(page.getByLabel("Username")).toBeVisible();
  await page.getByRole("link", { name: "Continue with Acme SSO" }).click();
  await page.waitForURL(`${server.url}/sessions`);
  await expect(page.getByRole("heading", { name: "My sessions" })).toBeVisible();
  await expect(page.locator(".whoami")).toContainText("olivia");
  // An OIDC user has no Postern password to change.
  await page.locator(".whoami").click();
  await expect(page.getByText("there is no Postern password to change")).toBeVisible();
});

test("goes straight to the provider with ?provider=<id>", async ({ page }) => {
  await page.goto(`${server.url}/login?provider=acme&returnTo=%2Fsessions`);
  await page.waitForURL(`${server.url}/sessions`);
  await expect(page.getByRole("heading", { name: "My sessions" })).toBeVisible();
});

test("explains a failed provider login", async ({ page }) => {
  await page.goto(`${server.url}/login?error=signup_disabled`);
  await expect(page.getByRole("alert")).toContainText("sign-up is off");
});
