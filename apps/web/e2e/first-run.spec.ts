// A new admin on an empty install sets up a team from the board's checklist, following its
// links, without reading the README.
import { ApiClient } from "./support/api";
import { expect, horizontalOverflow, test } from "./support/fixtures";
import { startServer, type RunningServer } from "./support/server";

// A fresh install of its own: the shared server already has groups and services.
let server: RunningServer;
test.beforeAll(async () => {
  test.setTimeout(120_000);
  server = await startServer();
});
test.afterAll(async () => {
  await server?.stop();
});

test("the checklist leads from an empty install to a usable board", async ({ page }) => {
  const admin = await ApiClient.login(server.url, server.admin.username, server.admin.password);
  const [name = "", value = ""] = admin.cookie.split("=", 2);
  await page.context().addCookies([{ name, value, url: server.url }]);
  await page.goto(server.url);

  const checklist = page.getByTestId("first-run");
  await expect(checklist.getByRole("heading", { name: "Set up Postern" })).toBeVisible();
  await expect(checklist).toContainText("0 of 4 done");
  expect(await horizontalOverflow(page)).toBe(0);

  // Step 1 through its link.
  await checklist.getByRole("link", { name: "Make a group" }).click();
  await expect(page).toHaveURL(/\/admin\/groups$/);
  await page.getByLabel("New group name").fill("support");
  await page.getByRole("button", { name: "Create group" }).click();
  await expect(page.getByTestId("group-support")).toBeVisible();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Board" }).click();
  await expect(checklist).toContainText("1 of 4 done");
  await expect(checklist.getByRole("listitem").filter({ hasText: "Make a group" })).toContainText("(done)");

  // Step 2 through its link: a user in the group.
  await checklist.getByRole("link", { name: "Add people to it" }).click();
  const form = page.getByRole("form", { name: "New user" });
  await form.getByLabel("Username").fill("mia");
  await form.getByLabel("Password").fill("mia-password-1");
  await form.getByLabel("support").check();
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByRole("status")).toContainText("Created mia.");

  // Step 3 through its link: a service the group may use.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Board" }).click();
  await checklist.getByRole("link", { name: "Add a service the group may use" }).click();
  await page.getByRole("button", { name: "New service" }).click();
  const service = page.getByRole("form", { name: "New service" });
  await service.getByLabel("Name", { exact: true }).fill("Customer VPN");
  await service.getByLabel("support").check();
  await service.getByRole("button", { name: "Create service" }).click();
  await expect(page.getByRole("row", { name: /Customer VPN/ })).toBeVisible();

  // Done: the checklist steps aside and the board shows the service.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Board" }).click();
  await expect(page.getByTestId("service-card-customer-vpn")).toBeVisible();
  await expect(checklist).toHaveCount(0);
});
