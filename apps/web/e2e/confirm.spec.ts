// Everything hard to undo asks first — disabling a user (with a reason), forcing a session to end,
// changing a role — and Cancel leaves things as they were.
import { expect, test } from "./support/fixtures";

test("disabling a user asks first and takes a reason", async ({ page, factory, signIn }) => {
  const { member } = await factory.team();
  await signIn(page, "admin", "/admin/users");
  const row = page.getByRole("row", { name: new RegExp(member.username) });
  await row.getByRole("button", { name: `Disable ${member.username}` }).click();
  const dialog = page.getByRole("dialog", { name: `Disable ${member.username}?` });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText("active");
  // Focus returns to the button that opened the dialog.
  await expect(row.getByRole("button", { name: `Disable ${member.username}` })).toBeFocused();

  await row.getByRole("button", { name: `Disable ${member.username}` }).click();
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("left the company");
  await dialog.getByRole("button", { name: "Disable", exact: true }).click();
  await expect(row).toContainText("disabled");
  await expect(row.getByRole("button", { name: `Enable ${member.username}` })).toBeVisible();
});

test("forcing someone's session to end asks first", async ({ page, factory, clientOf, signIn }) => {
  const { member, service } = await factory.team();
  await factory.startSession(await clientOf(member), service, 1800);
  await signIn(page, "admin");
  const card = page.getByTestId(`service-card-${service.slug}`);
  const forceEnd = card.getByRole("button", { name: `Force end ${member.username}'s session on ${service.name}` });
  await forceEnd.click();
  const dialog = page.getByRole("dialog", { name: `End ${member.username}'s session on ${service.name}?` });
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(card.getByTestId("holder")).toContainText(member.username);

  await forceEnd.click();
  await dialog.getByRole("button", { name: "Force end" }).click();
  await expect(card.getByText("Free")).toBeVisible();
});

test("changing a role asks first; Cancel keeps the old role", async ({ page, factory, signIn }) => {
  const { member } = await factory.team();
  await signIn(page, "admin", "/admin/users");
  const role = page.getByRole("combobox", { name: `Role of ${member.username}` });
  await role.selectOption("admin");
  const dialog = page.getByRole("dialog", { name: `Make ${member.username} an admin?` });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(role).toHaveValue("member");

  await role.selectOption("admin");
  await dialog.getByRole("button", { name: "Make admin" }).click();
  await expect(role).toHaveValue("admin");
  await role.selectOption("member");
  await page.getByRole("dialog", { name: `Make ${member.username} a member?` }).getByRole("button", { name: "Make member" }).click();
  await expect(role).toHaveValue("member");
});
