// Every message in the user's words, beside the field it is about: the form's labels and units
// (minutes, not `defaultDurationSeconds` in seconds), whether the browser or the API caught it.
import { unique } from "./support/api";
import { expect, test } from "./support/fixtures";

test("the service form speaks minutes and labels, beside each field", async ({ page, factory, signIn }) => {
  const taken = await factory.service([]);
  await signIn(page, "admin", "/admin/services");
  await page.getByRole("button", { name: "New service" }).click();
  const form = page.getByRole("form", { name: "New service" });
  await form.getByLabel("Name", { exact: true }).fill(unique("Limits"));
  await form.getByLabel("Maximum duration (minutes)").fill("600000");
  await form.getByLabel("Default duration (minutes)").fill("");
  await form.getByRole("button", { name: "Create service" }).click();
  await expect(form.getByLabel("Maximum duration (minutes)")).toHaveAccessibleDescription(/must be at most 527,040 minutes \(366 d\)/);
  await expect(form.getByLabel("Default duration (minutes)")).toHaveAccessibleDescription(/must be a number/);
  // The cursor goes to the first field to fix.
  await expect(form.getByLabel("Default duration (minutes)")).toBeFocused();
  await expect(form).not.toContainText("Seconds");

  await form.getByLabel("Maximum duration (minutes)").fill("60");
  await form.getByLabel("Default duration (minutes)").fill("90");
  await form.getByRole("button", { name: "Create service" }).click();
  await expect(form.getByLabel("Default duration (minutes)")).toHaveAccessibleDescription(/must not exceed the maximum duration/);

  // Caught by the API (a slug in use): still beside its field.
  await form.getByLabel("Default duration (minutes)").fill("30");
  await form.getByLabel("Slug").fill(taken.slug);
  await form.getByRole("button", { name: "Create service" }).click();
  await expect(form.getByLabel("Slug")).toHaveAccessibleDescription(/already used by another service/);
});

test("the user form names the field and says what is wrong with it", async ({ page, factory, signIn }) => {
  const existing = await factory.person();
  await signIn(page, "admin", "/admin/users");
  const form = page.getByRole("form", { name: "New user" });
  await form.getByLabel("Username").fill("mia jensen!");
  await form.getByLabel("Password").fill("short");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByLabel("Username")).toHaveAccessibleDescription(/letters, digits and \. _ @ - only/);
  await expect(form.getByLabel("Password")).toHaveAccessibleDescription(/at least 8 characters/);
  await expect(form).not.toContainText("body.");

  await form.getByLabel("Username").fill(existing.username);
  await form.getByLabel("Password").fill("long-enough-password");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByLabel("Username")).toHaveAccessibleDescription(/already taken/);
});

test("a wrong date range is shown beside To, and no CSV is offered for it", async ({ page, signIn }) => {
  await signIn(page, "admin", "/admin/audit");
  const filters = page.getByRole("form", { name: "Audit filters" });
  await filters.getByLabel("From", { exact: true }).fill("2030-01-01");
  await filters.getByLabel("To", { exact: true }).fill("2020-01-01");
  await filters.getByRole("button", { name: "Apply filters" }).click();
  await expect(filters.getByLabel("To", { exact: true })).toHaveAccessibleDescription(/must be after From/);
  await expect(page.getByText("querystring")).toHaveCount(0);
  await expect(page.getByRole("link", { name: /Download 2030-01-01/ })).toHaveCount(0);

  await filters.getByLabel("To", { exact: true }).fill("2030-01-31");
  await filters.getByRole("button", { name: "Apply filters" }).click();
  await expect(page.getByRole("link", { name: "Download 2030-01-01 – 2030-01-31 as CSV" })).toBeVisible();
});
