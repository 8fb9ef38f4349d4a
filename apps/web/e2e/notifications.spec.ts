// What happens to *you* is told to you: a toast when an admin ends your session or decides your
// request; a waitlist offer changes the tab's title and, with permission, raises a browser
// notification. The notes are the signed-in user's: the next one on the same tab does not see them.
import { expect, test } from "./support/fixtures";

type Shown = { title: string; body?: string }[];

test("a toast says an admin ended your session", async ({ page, factory, admin, clientOf, signIn }) => {
  const { member, service } = await factory.team();
  const session = await factory.startSession(await clientOf(member), service, 1800);
  await signIn(page, member);
  await expect(page.locator('[data-live-state="connected"]')).toBeVisible();
  await admin.call("DELETE", `/api/sessions/${session.id}`);
  await expect(page.getByTestId("toast")).toContainText(`admin ended your session on ${service.name}`);
  await page.getByRole("button", { name: `Dismiss: admin ended your session on ${service.name}` }).click();
  await expect(page.getByTestId("toast")).toHaveCount(0);
});

test("toasts say a request was approved, and another denied", async ({ page, factory, admin, signIn }) => {
  const { member, service } = await factory.team({ requiresApproval: true });
  await signIn(page, member);
  await expect(page.locator('[data-live-state="connected"]')).toBeVisible();
  const card = page.getByTestId(`service-card-${service.slug}`);

  await card.getByRole("button", { name: `Request ${service.name}`, exact: true }).click();
  // Focus moves to the control that replaced the button.
  await expect(card.getByRole("button", { name: `Cancel request ${service.name}`, exact: true })).toBeFocused();
  const [first] = await admin.call<{ id: string; userId: string; status: string }[]>("GET", `/api/sessions?active=true&serviceId=${service.id}`);
  await admin.call("POST", `/api/sessions/${first!.id}/approve`);
  await expect(page.getByTestId("toast").filter({ hasText: `Your request for ${service.name} was approved` })).toBeVisible();
  await card.getByRole("button", { name: `End ${service.name}`, exact: true }).click();

  await card.getByRole("button", { name: `Request ${service.name}`, exact: true }).click();
  await expect(card.getByText(/is waiting for an admin/)).toBeVisible();
  const [second] = await admin.call<{ id: string }[]>("GET", `/api/sessions?active=true&serviceId=${service.id}`);
  await admin.call("POST", `/api/sessions/${second!.id}/deny`);
  await expect(page.getByTestId("toast").filter({ hasText: `Your request for ${service.name} was denied` })).toBeVisible();
});

test("a waitlist offer changes the tab title and raises a browser notification", async ({ page, factory, admin, signIn }) => {
  const { member, service } = await factory.team();
  // A stand-in for the browser's Notification (headless Chromium shows none), permission given,
  // and a tab in the background.
  await page.addInitScript(() => {
    const shown: { title: string; body?: string }[] = [];
    class FakeNotification {
      static permission = "granted";
      static requestPermission = async () => "granted";
      constructor(title: string, options?: { body?: string }) {
        shown.push({ title, body: options?.body });
      }
    }
    Object.assign(window, { Notification: FakeNotification, shownNotifications: shown });
    document.hasFocus = () => false;
  });
  const held = await factory.startSession(admin, service, 600);
  await signIn(page, member);
  const card = page.getByTestId(`service-card-${service.slug}`);
  await card.getByRole("button", { name: `Join waitlist ${service.name}`, exact: true }).click();
  await expect(card.getByText("You are on the waitlist.")).toBeVisible();
  await expect(page).toHaveTitle("Board · Postern");

  await admin.call("DELETE", `/api/sessions/${held.id}`);
  await expect(page).toHaveTitle(`Your turn: ${service.name} — Board · Postern`);
  await expect(page.getByTestId("toast")).toContainText(`Your turn: ${service.name} is free`);
  const shown = await page.evaluate(() => (window as unknown as { shownNotifications: Shown }).shownNotifications);
  expect(shown.map((n) => n.title)).toContain(`Your turn: ${service.name} is free`);

  await card.getByRole("button", { name: `Accept ${service.name}`, exact: true }).click();
  await expect(page).toHaveTitle("Board · Postern");
});

test("a toast about the last user does not stay on screen for the next one", async ({ page, factory, clientOf, signIn }) => {
  const { members, service } = await factory.team({}, 2);
  const [lena, omar] = members as [NonNullable<(typeof members)[0]>, NonNullable<(typeof members)[0]>];
  const asOmar = await clientOf(omar);
  const held = await factory.startSession(asOmar, service, 600);
  await (await clientOf(lena)).call("POST", `/api/services/${service.id}/waitlist`, {});
  await signIn(page, lena);
  await page.locator('[data-live-state="connected"]').waitFor();
  await asOmar.call("DELETE", `/api/sessions/${held.id}`);
  await expect(page.getByTestId("toast")).toContainText(`Your turn: ${service.name} is free`, { timeout: 15_000 });

  // Lena logs out (her note goes with her) and Omar logs in on the same tab.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveTitle("Log in · Postern");
  await expect(page.getByTestId("toast")).toHaveCount(0);
  await page.getByLabel("Username").fill(omar.username);
  await page.getByLabel("Password").fill(omar.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveTitle("Board · Postern");
  await expect(page.getByTestId("toast")).toHaveCount(0);
});
