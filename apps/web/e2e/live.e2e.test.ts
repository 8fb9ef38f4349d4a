// Two people on the board in two browser contexts: when one starts a session, the other's
// board shows it without a reload, through the live stream (GET /api/live).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { TGroup, TService, TUser } from "@postern/contracts";
import { ApiClient, chromiumAvailable, launchBrowser, startServer, type RunningServer } from "./harness";

/** The live hook runs only once the app shell calls useLiveUpdates() (src/live/index.ts). */
function liveMounted(): boolean {
  const src = path.resolve(import.meta.dirname, "../src");
  const files = fs.readdirSync(src, { recursive: true, encoding: "utf8" });
  return files.some(
    (f) => /\.tsx?$/.test(f) && !f.startsWith("live") && fs.readFileSync(path.join(src, f), "utf8").includes("useLiveUpdates("),
  );
}

describe.skipIf(!chromiumAvailable() || !liveMounted())("live board in Chromium", () => {
  let server: RunningServer;
  let browser: Browser;
  let service: TService;
  const contexts: BrowserContext[] = [];
  const people = [
    { username: "lena", password: "lena-password-1" },
    { username: "omar", password: "omar-password-1" },
  ];

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
    const admin = await ApiClient.login(server.url, server.admin.username, server.admin.password);
    const group = await admin.call<TGroup>("POST", "/api/groups", { name: "support" });
    for (const p of people) await admin.call<TUser>("POST", "/api/users", { ...p, groupIds: [group.id] });
    service = await admin.call<TService>("POST", "/api/services", {
      name: "Customer B VPN",
      slug: "customer-b-vpn",
      kind: "vpn",
      exclusive: true,
      maxDurationSeconds: 7200,
      defaultDurationSeconds: 3600,
      groupIds: [group.id],
    });
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await server?.stop();
  });

  async function boardOf(person: { username: string; password: string }): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByLabel(/username/i).fill(person.username);
    await page.getByLabel(/password/i).fill(person.password);
    await page.getByRole("button", { name: /log in|sign in/i }).click();
    await page.getByTestId(`service-card-${service.slug}`).waitFor();
    await page.locator('[data-live-state="connected"]').waitFor();
    return page;
  }

  it("shows a session started in one browser on the other's board without a reload", async () => {
    const lena = await boardOf(people[0]!);
    const omar = await boardOf(people[1]!);
    let navigations = 0;
    omar.on("framenavigated", (frame) => {
      if (frame === omar.mainFrame()) navigations += 1;
    });

    const lenaCard = lena.getByTestId(`service-card-${service.slug}`);
    const omarCard = omar.getByTestId(`service-card-${service.slug}`);
    const started = Date.now();
    await lenaCard.getByRole("button", { name: "Start", exact: true }).click();
    await omarCard.getByTestId("holder").filter({ hasText: "lena" }).waitFor({ timeout: 4000 });
    const seenAfterMs = Date.now() - started;

    await lenaCard.getByRole("button", { name: "End", exact: true }).click();
    await expect.poll(() => omarCard.getByTestId("holder").count(), { timeout: 4000 }).toBe(0);

    expect(navigations).toBe(0);
    // Well inside the 5 s the board used to poll at.
    expect(seenAfterMs).toBeLessThan(4000);
  });
});
