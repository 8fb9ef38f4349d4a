// An admin opens a deep link to the admin pages, logs in, creates a service with the form, finds
// it on the board and uses it; a reload of a client-side route keeps working; tokens are shown
// once and stop working when revoked.
import { expect, test } from "./support/fixtures";
import { unique } from "./support/api";

test("creates a service in the admin page and it appears on the board", async ({ page, server }) => {
  const name = unique("Team Nextcloud");
  await page.goto(`${server.url}/admin/services`);
  await page.waitForURL(/\/login\?returnTo=%2Fadmin%2Fservices$/);
  await page.getByLabel("Username").fill(server.admin.username);
  await page.getByLabel("Password").fill(server.admin.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${server.url}/admin/services`);
  await expect(page).toHaveTitle("Services · Admin · Postern");

  await page.getByRole("button", { name: "New service" }).click();
  const form = page.getByRole("form", { name: "New service" });
  await form.getByLabel("Name", { exact: true }).fill(name);
  const slug = await form.getByLabel("Slug").inputValue();
  expect(slug).toBe(name.toLowerCase().replace(/ /g, "-"));
  await form.getByLabel("Kind").selectOption("web");
  await form.getByLabel("Description").fill("Files for the support team");
  await form.getByLabel("Maximum duration (minutes)").fill("120");
  await form.getByLabel("Default duration (minutes)").fill("30");
  await form.getByLabel(/exclusive/i).check();
  await form.getByRole("button", { name: "Create service" }).click();
  await expect(page.getByRole("row", { name: new RegExp(name) })).toBeVisible();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Board" }).click();
  const card = page.getByTestId(`service-card-${slug}`);
  await expect(card).toContainText("Files for the support team");
  await expect(card.getByRole("combobox", { name: `Duration for ${name}` })).toHaveValue("1800");
  await card.getByRole("button", { name: `Start ${name}`, exact: true }).click();
  await expect(card.getByTestId("holder")).toContainText("admin");
  await expect(card.getByTestId("countdown")).toHaveText(/^(30:00|29:\d\d)$/);

  // A client-side route survives a reload: the server answers it with the SPA.
  await page.getByRole("link", { name: "My sessions" }).click();
  await page.reload();
  await expect(page.getByRole("heading", { name: "My sessions" })).toBeVisible();
  const row = page.getByRole("row", { name: new RegExp(name) });
  await row.getByRole("button", { name: `End ${name}`, exact: true }).click();
  await expect(row).toContainText("ended");
});

test("creates an API token whose secret is shown once and works until revoked", async ({ page, server, signIn }) => {
  const name = unique("monitor");
  await signIn(page, "admin", "/admin/tokens");
  await page.getByLabel("Token name").fill(name);
  await expect(page.getByText("Start, extend and end sessions")).toBeVisible();
  await page.getByLabel("sessions:write").check();
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = await page.getByTestId("token-secret").inputValue();
  expect(secret.length).toBeGreaterThan(20);

  const asToken = () => fetch(`${server.url}/api/sessions`, { headers: { authorization: `Bearer ${secret}` } });
  expect((await asToken()).status).toBe(200);

  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByTestId("token-secret")).toHaveCount(0);
  const row = page.getByRole("row", { name: new RegExp(name) });
  await expect(row).toContainText("sessions:read, sessions:write");
  await row.getByRole("button", { name: `Revoke ${name}`, exact: true }).click();
  const dialog = page.getByRole("dialog", { name: `Revoke ${name}?` });
  await dialog.getByRole("button", { name: "Revoke token" }).click();
  // Revoked tokens fold away under "Revoked".
  await expect(page.getByRole("row", { name: new RegExp(name) })).toBeHidden();
  await page.getByText(/^Revoked \(\d+\)$/).click();
  await expect(page.getByRole("row", { name: new RegExp(name) })).toContainText("revoked");
  expect((await asToken()).status).toBe(401);
});
