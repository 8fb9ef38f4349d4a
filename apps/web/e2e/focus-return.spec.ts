// The usual dialog and disclosure focus: a shown token secret takes the focus (its Copy button),
// and closing an edit form (saved or cancelled) returns the focus to the control that opened it.
import { unique } from "./support/api";
import { expect, test } from "./support/fixtures";

test("a new token's Copy button has the focus; Done returns it to Create token", async ({ page, signIn }) => {
  await signIn(page, "admin", "/admin/tokens");
  await page.getByLabel("Token name").fill(unique("monitor"));
  await page.getByRole("button", { name: "Create token" }).press("Enter");
  await expect(page.getByRole("button", { name: "Copy" })).toBeFocused();
  await page.getByRole("button", { name: "Done" }).press("Enter");
  await expect(page.getByRole("button", { name: "Create token" })).toBeFocused();
});

test("closing a user's edit form returns the focus to its Edit button", async ({ page, factory, signIn }) => {
  const { username } = await factory.person();
  await signIn(page, "admin", "/admin/users");
  const edit = page.getByRole("button", { name: `Edit ${username}`, exact: true });
  await edit.press("Enter");
  const form = page.getByRole("form", { name: `Edit ${username}` });
  await form.getByRole("button", { name: "Cancel" }).press("Enter");
  await expect(edit).toBeFocused();

  await edit.press("Enter");
  await form.getByLabel("Display name").fill("Mia Jensen");
  await form.getByRole("button", { name: "Save changes" }).press("Enter");
  await expect(form).toHaveCount(0);
  await expect(edit).toBeFocused();
});

test("closing a group's rename form returns the focus to its Rename button", async ({ page, factory, signIn }) => {
  const group = await factory.group();
  await signIn(page, "admin", "/admin/groups");
  const rename = page.getByRole("button", { name: `Rename ${group.name}`, exact: true });
  await rename.press("Enter");
  await page.getByRole("button", { name: "Cancel" }).press("Enter");
  await expect(rename).toBeFocused();

  await rename.press("Enter");
  const renamed = unique("renamed");
  await page.getByLabel(`New name for ${group.name}`).fill(renamed);
  await page.getByLabel(`New name for ${group.name}`).press("Enter");
  await expect(page.getByRole("button", { name: `Rename ${renamed}`, exact: true })).toBeFocused();
});

test("closing a service form returns the focus to Edit, New service or Import", async ({ page, factory, signIn }) => {
  const service = await factory.service([]);
  await signIn(page, "admin", "/admin/services");
  const edit = page.getByRole("button", { name: `Edit ${service.name}`, exact: true });
  await edit.press("Enter");
  const form = page.getByRole("form", { name: `Edit ${service.name}` });
  await form.getByRole("button", { name: "Cancel" }).press("Enter");
  await expect(edit).toBeFocused();

  await edit.press("Enter");
  await form.getByRole("button", { name: "Save changes" }).press("Enter");
  await expect(form).toHaveCount(0);
  await expect(edit).toBeFocused();

  const create = page.getByRole("button", { name: "New service" });
  await create.press("Enter");
  await page.getByRole("form", { name: "New service" }).getByRole("button", { name: "Cancel" }).press("Enter");
  await expect(create).toBeFocused();

  const importCsv = page.getByRole("button", { name: "Import from CSV" });
  await importCsv.press("Enter");
  await page.getByRole("button", { name: "Cancel" }).press("Enter");
  await expect(importCsv).toBeFocused();
});
