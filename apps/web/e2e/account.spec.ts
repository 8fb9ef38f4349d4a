// The user's own account: changing the password (other logins end), and what a disabled user
// is told when they are logged out and when they try to log in again.
import { ApiClient } from "./support/api";
import { expect, hasRoute, test } from "./support/fixtures";

test("a member changes their password; mistakes show beside the fields", async ({ page, factory, server, signIn }) => {
  test.skip(!(await hasRoute(server.url, "POST", "/api/me/password")), "needs POST /api/me/password (arriving on main)");
  const person = await factory.person();
  await signIn(page, person, "/account");
  const form = page.getByRole("form", { name: "Change your password" });
  await form.getByLabel("Current password").fill(person.password);
  await form.getByLabel("New password", { exact: true }).fill("short");
  await form.getByLabel("New password again").fill("different");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByLabel("New password", { exact: true })).toHaveAccessibleDescription(/at least 8 characters/);
  await expect(form.getByLabel("New password again")).toHaveAccessibleDescription(/does not match/);

  await form.getByLabel("New password", { exact: true }).fill("a-much-better-password");
  await form.getByLabel("New password again").fill("a-much-better-password");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByRole("status")).toContainText("Password changed.");
  await ApiClient.login(server.url, person.username, "a-much-better-password");
});

test("a member logged out by being disabled is told so on the login page", async ({ page, factory, admin, signIn }) => {
  const { member } = await factory.team();
  await signIn(page, member);
  await expect(page.locator('[data-live-state="connected"]')).toBeVisible();
  await admin.call("PATCH", `/api/users/${member.user.id}`, { disabled: true });
  await page.waitForURL(/\/login/, { timeout: 45_000 });
  await expect(page.getByRole("alert")).toContainText(/disabled your account|Your login has ended/);
});

test("a disabled user who logs in is told the account is disabled, not that the password is wrong", async ({ page, factory, admin, server }) => {
  const person = await factory.person();
  await admin.call("PATCH", `/api/users/${person.user.id}`, { disabled: true, reason: "on leave" });
  await page.goto(`${server.url}/login`);
  await page.getByLabel("Username").fill(person.username);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Your account is disabled. Ask an admin to enable it.");
  // A wrong password still says only that.
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
});
