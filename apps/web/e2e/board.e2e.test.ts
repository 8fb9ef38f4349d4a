// A member logs in through the login page, starts a session on the board, sees it held with
// a countdown, and ends it — all in Chromium against the real server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import type { TGroup, TService, TSession, TUser } from "@postern/contracts";
import { ApiClient, chromiumAvailable, launchBrowser, startServer, type RunningServer } from "./harness";

describe.skipIf(!chromiumAvailable())("board in Chromium", () => {
  let server: RunningServer;
  let browser: Browser;
  let service: TService;
  const member = { username: "mia", password: "mia-password-1" };

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
    const admin = await ApiClient.login(server.url, server.admin.username, server.admin.password);
    const group = await admin.call<TGroup>("POST", "/api/groups", { name: "support" });
    await admin.call<TUser>("POST", "/api/users", { ...member, groupIds: [group.id] });
    service = await admin.call<TService>("POST", "/api/services", {
      name: "Customer A VPN",
      slug: "customer-a-vpn",
      kind: "vpn",
      exclusive: true,
      maxDurationSeconds: 7200,
      defaultDurationSeconds: 3600,
      groupIds: [group.id],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("logs in, starts a session, shows it on the board, ends it", async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.getByLabel(/username/i).fill(member.username);
    await page.getByLabel(/password/i).fill(member.password);
    await page.getByRole("button", { name: /log in|sign in/i }).click();

    const card = page.getByTestId(`service-card-${service.slug}`);
    await card.waitFor();
    await card.getByRole("button", { name: "Start", exact: true }).click();

    await expect.poll(() => card.getByTestId("holder").textContent()).toContain(member.username);
    const countdown = await card.getByTestId("countdown").textContent();
    expect(countdown).toMatch(/\d+:\d\d/);

    await card.getByRole("button", { name: "End", exact: true }).click();
    await card.getByRole("button", { name: "Start", exact: true }).waitFor();
    expect(await card.getByTestId("holder").count()).toBe(0);
    await page.close();
  });

  it("names the holder on a conflict, queues on the waitlist and takes the offer", async () => {
    const admin = await ApiClient.login(server.url, server.admin.username, server.admin.password);
    const held = await admin.call<TSession>("POST", `/api/services/${service.id}/sessions`, { durationSeconds: 600 });

    const page = await browser.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel("Username").fill(member.username);
    await page.getByLabel("Password").fill(member.password);
    await page.getByRole("button", { name: "Log in" }).click();

    const card = page.getByTestId(`service-card-${service.slug}`);
    await expect.poll(() => card.getByTestId("holder").textContent()).toContain("admin");
    await card.getByRole("button", { name: "Start", exact: true }).click();
    // The API's 409 names the holder; the card says so.
    await expect.poll(() => card.getByRole("alert").textContent()).toMatch(/^Held by admin until /);

    await card.getByRole("button", { name: "Join waitlist" }).click();
    await card.getByText("You are on the waitlist.").waitFor();
    expect(await card.getByTestId("waitlist").textContent()).toContain(member.username);

    // The holder leaves: the line is served and the offer reaches the board (polling, 5 s).
    await admin.call("DELETE", `/api/sessions/${held.id}`);
    await card.getByRole("button", { name: "Accept" }).click({ timeout: 20_000 });
    await expect.poll(() => card.getByTestId("holder").textContent()).toContain(member.username);
    await card.getByRole("button", { name: "End", exact: true }).click();
    await card.getByText("Free").waitFor();
    await page.close();
  });
});
