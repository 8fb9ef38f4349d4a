// Keyboard only: start, extend and end a session from the board without the mouse, and the
// focus stays where the user is when the buttons change (it used to drop to <body>).
import { expect, tabTo, test } from "./support/fixtures";

test("start, extend and end with the keyboard; the focus follows", async ({ page, factory, signIn }) => {
  const { member, service } = await factory.team({ maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 1800 });
  await signIn(page, member);
  const card = page.getByTestId(`service-card-${service.slug}`);
  const start = card.getByRole("button", { name: `Start ${service.name}`, exact: true });
  const extend = card.getByRole("button", { name: `Extend ${service.name}`, exact: true });
  const end = card.getByRole("button", { name: `End ${service.name}`, exact: true });

  await tabTo(page, start);
  await page.keyboard.press("Enter");
  await expect(card.getByTestId("holder")).toContainText(member.username);
  await expect(extend).toBeFocused();

  const before = await card.getByTestId("countdown").getAttribute("datetime");
  await page.keyboard.press("Enter");
  await expect(card.getByTestId("countdown")).not.toHaveAttribute("datetime", before ?? "");
  await expect(extend).toBeFocused();
  // The live event can show the change before the request has settled; the buttons wait for it.
  await expect(extend).not.toHaveAttribute("aria-disabled", "true");

  await tabTo(page, end);
  await page.keyboard.press("Enter");
  await expect(card.getByText("Free")).toBeVisible();
  await expect(start).toBeFocused();
});

test("extend and end on My sessions with the keyboard; the focus stays on the row", async ({ page, factory, clientOf, signIn }) => {
  const { member, service } = await factory.team({ maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 1800 });
  const session = await factory.startSession(await clientOf(member), service, 1800);
  await signIn(page, member, "/sessions");
  const row = page.getByRole("row", { name: new RegExp(service.name) });
  const extend = row.getByRole("button", { name: `Extend ${service.name}`, exact: true });
  await tabTo(page, extend);
  await page.keyboard.press("Enter");
  await expect(row.getByTestId("countdown")).toHaveText(/^(1:00:00|59:\d\d)$/);
  await expect(extend).toBeFocused();
  await expect(extend).not.toHaveAttribute("aria-disabled", "true");
  await tabTo(page, row.getByRole("button", { name: `End ${service.name}`, exact: true }));
  await page.keyboard.press("Enter");
  await expect(row.getByText("ended")).toBeVisible();
  await expect(page.locator(`[data-focus="status-${session.id}"]`)).toBeFocused();
});
