// The audit trail reads in names (people, groups, services), shows seconds, says whether the hash
// chain is intact, and keeps the admin tabs.
import { expect, test } from "./support/fixtures";

test("rows name people and groups, times have seconds, the chain is verified", async ({ page, factory, admin, signIn }) => {
  const group = await factory.group();
  const person = await factory.person();
  await admin.call("POST", `/api/groups/${group.id}/members/${person.user.id}`);
  await signIn(page, "admin", "/admin/audit");
  await expect(page.getByRole("navigation", { name: "Admin sections" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name: "Audit" })).toHaveClass(/active/);

  const filters = page.getByRole("form", { name: "Audit filters" });
  await filters.getByLabel("Action").fill("group.member_added");
  await filters.getByRole("button", { name: "Apply filters" }).click();
  const row = page.getByRole("row").filter({ hasText: person.username }).first();
  await expect(row).toContainText(group.name);
  await expect(row).not.toContainText(person.user.id);
  await expect(row).not.toContainText(group.id);
  await expect(row.locator("time")).toHaveText(/\d:\d\d:\d\d/);

  const chain = page.getByTestId("chain");
  await expect(chain).toContainText(/Intact: all [\d,]+ events chain correctly/);
  await chain.getByRole("button", { name: "Verify now" }).click();
  await expect(chain).toContainText("Intact");
});

test("the old /audit link lands on the admin tab", async ({ page, signIn }) => {
  await signIn(page, "admin", "/audit");
  await expect(page).toHaveURL(/\/admin\/audit$/);
  await expect(page.getByRole("heading", { name: "Tamper check" })).toBeVisible();
});

test("a failed refresh keeps the events on screen and says so quietly", async ({ page, factory, signIn }) => {
  const group = await factory.group();
  await signIn(page, "admin", "/admin/audit");
  const events = page.getByRole("table", { name: "Audit events" });
  await expect(events.getByRole("row").filter({ hasText: group.name }).first()).toBeVisible();
  // The server restarting: the list's reads fail (only them; the chain check and names still answer).
  await page.route(/\/api\/audit(\?|$)/, (route) =>
    route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "service_unavailable", message: "restarting" } }) }),
  );
  // Coming back to the tab refreshes the list in the background.
  const tabs = page.getByRole("navigation", { name: "Admin sections" });
  await tabs.getByRole("link", { name: "Users" }).click();
  await tabs.getByRole("link", { name: "Audit" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Could not refresh (restarting)" })).toBeVisible({ timeout: 15_000 });
  await expect(events.getByRole("row").filter({ hasText: group.name }).first()).toBeVisible();
  await expect(page.getByRole("alert")).toHaveCount(0);
});
