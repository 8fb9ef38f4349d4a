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
