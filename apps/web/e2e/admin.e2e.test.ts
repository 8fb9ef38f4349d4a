// An admin opens a deep link to the admin pages (served as the SPA by the server), logs in,
// creates a service with the form, finds it on the board and uses it; a reload of a client-side
// route keeps working.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { chromiumAvailable, launchBrowser, startServer, type RunningServer } from "./harness";

describe.skipIf(!chromiumAvailable())("admin pages in Chromium", () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("creates a service in the admin page and it appears on the board", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/admin/services`);
    await page.waitForURL(/\/login\?returnTo=%2Fadmin%2Fservices$/);
    await page.getByLabel("Username").fill(server.admin.username);
    await page.getByLabel("Password").fill(server.admin.password);
    await page.getByRole("button", { name: /log in/i }).click();
    await page.waitForURL(`${server.url}/admin/services`);

    await page.getByRole("button", { name: "New service" }).click();
    const form = page.getByRole("form", { name: "New service" });
    await form.getByLabel("Name", { exact: true }).fill("Team Nextcloud");
    expect(await form.getByLabel("Slug").inputValue()).toBe("team-nextcloud");
    await form.getByLabel("Kind").selectOption("web");
    await form.getByLabel("Description").fill("Files for the support team");
    await form.getByLabel("Maximum duration (minutes)").fill("120");
    await form.getByLabel("Default duration (minutes)").fill("30");
    await form.getByLabel(/exclusive/i).check();
    await form.getByRole("button", { name: "Create service" }).click();
    await page.getByRole("row", { name: /Team Nextcloud/ }).waitFor();

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Board" }).click();
    const card = page.getByTestId("service-card-team-nextcloud");
    await card.waitFor();
    expect(await card.textContent()).toContain("Files for the support team");
    expect(await card.getByRole("combobox").inputValue()).toBe("1800");
    await card.getByRole("button", { name: "Start", exact: true }).click();
    await expect.poll(() => card.getByTestId("holder").textContent()).toContain("admin");
    expect(await card.getByTestId("countdown").textContent()).toMatch(/^(30:00|29:\d\d)$/);

    // A client-side route survives a reload: the server answers it with the SPA.
    await page.getByRole("link", { name: "My sessions" }).click();
    await page.reload();
    await page.getByRole("heading", { name: "My sessions" }).waitFor();
    const row = page.getByRole("row", { name: /Team Nextcloud/ });
    await row.getByRole("button", { name: "End", exact: true }).click();
    await expect.poll(() => row.textContent()).toContain("ended");
    await page.close();
  });

  it("creates an API token whose secret is shown once and works until revoked", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/admin/tokens`);
    await page.getByLabel("Username").fill(server.admin.username);
    await page.getByLabel("Password").fill(server.admin.password);
    await page.getByRole("button", { name: /log in/i }).click();

    await page.getByLabel("Token name").fill("monitor");
    await page.getByLabel("sessions:write").check();
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = await page.getByTestId("token-secret").inputValue();
    expect(secret.length).toBeGreaterThan(20);

    const asToken = () => fetch(`${server.url}/api/sessions`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await asToken()).status).toBe(200);

    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.getByTestId("token-secret").count()).toBe(0);
    const row = page.getByRole("row", { name: /monitor/ });
    expect(await row.textContent()).toContain("sessions:read, sessions:write");
    page.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: "Revoke monitor" }).click();
    await row.getByText("revoked").waitFor();
    expect((await asToken()).status).toBe(401);
    await page.close();
  });
});
