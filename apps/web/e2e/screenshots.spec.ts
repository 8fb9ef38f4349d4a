// Writes the README's screenshots (apps/web/screenshots/) from a small team's install, so they
// always show the app as it is: the board, an admin page and the audit trail on a laptop, and
// the board on a phone.
import path from "node:path";
import type { Page } from "@playwright/test";
import type { TGroup, TService } from "@postern/contracts";
import { ApiClient, Factory } from "./support/api";
import { expect, test } from "./support/fixtures";
import { startServer, type RunningServer } from "./support/server";

const OUT = path.resolve(import.meta.dirname, "../screenshots");
let server: RunningServer;

// One set of pictures per run: the laptop project takes the phone picture in a phone-sized context.
test.skip(({ isMobile }) => isMobile, "taken once, by the desktop project");
test.beforeAll(async () => {
  test.setTimeout(120_000);
  server = await startServer();
  const admin = await ApiClient.login(server.url, server.admin.username, server.admin.password);
  const f = new Factory(admin);
  const support = await f.group("support");
  const ops = await f.group("ops");
  const mia = await f.person({ username: "mia", displayName: "Mia Jensen", groups: [support, ops] });
  const omar = await f.person({ username: "omar", displayName: "Omar Haddad", groups: [support] });
  await f.person({ username: "lena", displayName: "Lena Petit", groups: [ops] });
  const service = (name: string, kind: TService["kind"], groups: TGroup[], extra: Partial<TService> = {}) =>
    f.service(groups, { name, kind, description: undefined, ...extra });
  const vpnA = await service("Customer A VPN", "vpn", [support], { connection: { main: "vpn main 1", sub: "vpn sub 1" } });
  const vpnB = await service("Customer B VPN", "vpn", [support], { connection: { main: "vpn main 2" } });
  await service("Customer C VPN", "vpn", [support], { requiresApproval: true, connection: { main: "vpn main 3" } });
  const cloud = await service("Nextcloud", "web", [support, ops], {
    exclusive: false,
    url: "https://cloud.example.com",
    description: "Team files and calendars",
  });
  await service("OctoPrint", "web", [ops], { description: "The 3D printer in the lab" });
  await service("Build server SSH", "tcp", [ops], { maxDurationSeconds: 4 * 3600 });
  const asMia = await ApiClient.login(server.url, "mia", mia.password);
  const asOmar = await ApiClient.login(server.url, "omar", omar.password);
  await f.startSession(asMia, vpnA, 3600);
  await f.startSession(asOmar, cloud, 1800);
  await asOmar.call("POST", `/api/services/${vpnB.id}/sessions`, { durationSeconds: 5400, startsAt: new Date(Date.now() + 2 * 3600_000).toISOString() });
  await asOmar.call("POST", `/api/services/${vpnA.id}/waitlist`, { durationSeconds: 1800 });
});

test.afterAll(async () => {
  await server?.stop();
});

async function signInAsAdmin(page: Page, to: string) {
  const admin = await ApiClient.login(server.url, server.admin.username, server.admin.password);
  const [name = "", value = ""] = admin.cookie.split("=", 2);
  await page.context().addCookies([{ name, value, url: server.url }]);
  // The first-run checklist is for a new install; these pictures show one in use.
  await page.addInitScript(() => localStorage.setItem("postern.firstRun.dismissed", "1"));
  await page.goto(`${server.url}${to}`);
  await page.locator('[data-live-state="connected"]').waitFor();
}

test("board, admin and audit on a laptop; the board on a phone in the dark theme", async ({ page, browser }) => {
  await signInAsAdmin(page, "/");
  await expect(page.getByTestId("service-card-customer-a-vpn").getByTestId("holder")).toContainText("Mia");
  await page.screenshot({ path: path.join(OUT, "board.png") });

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("link", { name: "Groups" }).click();
  await expect(page.getByTestId("group-support")).toBeVisible();
  await page.screenshot({ path: path.join(OUT, "admin.png") });

  await page.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name: "Audit" }).click();
  await expect(page.getByTestId("chain")).toContainText("Intact");
  await page.screenshot({ path: path.join(OUT, "audit.png") });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: "dark" });
  const mobile = await phone.newPage();
  await signInAsAdmin(mobile, "/");
  await expect(mobile.getByTestId("service-card-customer-a-vpn").getByTestId("holder")).toContainText("Mia");
  await mobile.screenshot({ path: path.join(OUT, "mobile.png") });
  await phone.close();
});
