// Importing services from CSV (`main;sub` lines), as `postern service import` does.
import { unique } from "./support/api";
import { expect, test } from "./support/fixtures";

test("imports services from pasted lines and reports skipped ones", async ({ page, factory, signIn }) => {
  const group = await factory.group();
  const a = unique("vpn customer");
  const b = unique("vpn customer");
  await signIn(page, "admin", "/admin/services");
  await page.getByRole("button", { name: "Import from CSV" }).click();
  const form = page.getByRole("form", { name: "Import services" });
  await form.getByLabel("Lines").fill(`${a};vpn sub 1\n${b}\n;no main\n`);
  await form.getByLabel("Maximum duration (minutes)").fill("120");
  await form.getByLabel(group.name).check();
  await form.getByRole("button", { name: "Import" }).click();
  await expect(form.getByRole("status")).toContainText("Created 2 services");
  await expect(form.getByRole("status")).toContainText("Line 3 skipped");
  await form.getByRole("button", { name: "Done" }).click();
  await expect(page.getByRole("row", { name: new RegExp(b) })).toContainText(group.name);
  await expect(page.getByRole("row", { name: new RegExp(b) })).toContainText("max 2 h");
});
