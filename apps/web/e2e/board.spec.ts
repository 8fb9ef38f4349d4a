// A member on the board: logs in through the login page, starts a session, sees it held with a
// countdown, ends it; a conflict names the holder, the waitlist serves them, and an error about
// a situation that has changed goes away by itself.
import { expect, test } from "./support/fixtures";

test("logs in, starts a session, shows it on the board, ends it", async ({ page, server, factory }) => {
  const { member, service } = await factory.team();
  await page.goto(server.url);
  await expect(page).toHaveTitle("Log in · Postern");
  await page.getByLabel("Username").fill(member.username);
  await page.getByLabel("Password").fill(member.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveTitle("Board · Postern");

  const card = page.getByTestId(`service-card-${service.slug}`);
  await card.getByRole("button", { name: `Start ${service.name}`, exact: true }).click();
  await expect(card.getByTestId("holder")).toContainText(member.username);
  await expect(card.getByTestId("countdown")).toHaveText(/^(1:00:00|59:\d\d)$/);

  await card.getByRole("button", { name: `End ${service.name}`, exact: true }).click();
  await expect(card.getByRole("button", { name: `Start ${service.name}`, exact: true })).toBeVisible();
  await expect(card.getByTestId("holder")).toHaveCount(0);
});

test("names the holder on a conflict, queues on the waitlist and takes the offer", async ({ page, factory, admin, signIn }) => {
  const { member, service } = await factory.team();
  const held = await factory.startSession(admin, service, 600);
  await signIn(page, member);

  const card = page.getByTestId(`service-card-${service.slug}`);
  await expect(card.getByTestId("holder")).toContainText("admin");
  await card.getByRole("button", { name: `Start ${service.name}`, exact: true }).click();
  // The API's 409 names the holder; the card says so.
  await expect(card.getByRole("alert")).toHaveText(/^Held by admin until /);

  await card.getByRole("button", { name: `Join waitlist ${service.name}`, exact: true }).click();
  await expect(card.getByText("You are on the waitlist.")).toBeVisible();
  await expect(card.getByTestId("waitlist")).toContainText(member.username);
  // The holder message was about a situation that no longer holds.
  await expect(card.getByRole("alert")).toHaveCount(0);

  // The holder leaves: the line is served and the offer reaches the board.
  await admin.call("DELETE", `/api/sessions/${held.id}`);
  await card.getByRole("button", { name: `Accept ${service.name}`, exact: true }).click({ timeout: 20_000 });
  await expect(card.getByTestId("holder")).toContainText(member.username);
  await card.getByRole("button", { name: `End ${service.name}`, exact: true }).click();
  await expect(card.getByText("Free")).toBeVisible();
});

test("an error about the holder clears by itself when the holder leaves", async ({ page, factory, admin, signIn }) => {
  const { member, service } = await factory.team();
  const held = await factory.startSession(admin, service, 600);
  await signIn(page, member);
  const card = page.getByTestId(`service-card-${service.slug}`);
  await expect(card.getByTestId("holder")).toContainText("admin");
  await card.getByRole("button", { name: `Start ${service.name}`, exact: true }).click();
  await expect(card.getByRole("alert")).toContainText("Held by admin");

  await admin.call("DELETE", `/api/sessions/${held.id}`);
  await expect(card.getByText("Free")).toBeVisible();
  await expect(card.getByRole("alert")).toHaveCount(0);
});

test("a booking shows when it starts and how long it lasts", async ({ page, factory, clientOf, signIn }) => {
  const { member, service } = await factory.team({ maxDurationSeconds: 4 * 3600 });
  const startsAt = new Date(Date.now() + 3 * 3600_000).toISOString();
  await (await clientOf(member)).call("POST", `/api/services/${service.id}/sessions`, { durationSeconds: 5400, startsAt });
  await signIn(page, member);
  const booking = page.getByTestId(`service-card-${service.slug}`).getByTestId("booking");
  await expect(booking).toContainText("for 1 h 30 min");
  await expect(booking.locator("time")).toHaveText(/in 3 hours?|in 3 hr/);
  await expect(booking.locator("time")).toHaveAttribute("title", /\d{1,2}:\d\d/);
});

test("the board switches to a compact list and remembers it", async ({ page, factory, signIn }) => {
  const { member, service } = await factory.team();
  await signIn(page, member);
  await page.getByRole("button", { name: "List" }).click();
  const row = page.getByRole("row", { name: new RegExp(service.name) });
  await row.getByRole("button", { name: `Start ${service.name}`, exact: true }).click();
  await expect(row).toContainText(member.username);
  await page.reload();
  await expect(page.getByRole("button", { name: "List" })).toHaveAttribute("aria-pressed", "true");
  await page.getByRole("row", { name: new RegExp(service.name) }).getByRole("button", { name: `End ${service.name}`, exact: true }).click();
  await expect(page.getByRole("row", { name: new RegExp(service.name) })).toContainText("Free");
});

test("a kind filter whose last service leaves the board can still be undone", async ({ page, factory, admin, signIn }) => {
  const { group, member, service: vpn } = await factory.team({ kind: "vpn" });
  const web = await factory.service([group], { kind: "web" });
  await signIn(page, member);
  await page.locator('[data-live-state="connected"]').waitFor();
  await page.getByRole("group", { name: "Kind" }).getByRole("button", { name: "VPN" }).click();
  await expect(page.getByTestId(`service-card-${web.slug}`)).toHaveCount(0);
  // The only VPN service is deleted (or no longer shared with the member's group): the Kind
  // buttons go with the second kind, and so does their filter.
  await admin.call("DELETE", `/api/services/${vpn.id}`);
  await expect(page.getByTestId(`service-card-${vpn.slug}`)).toHaveCount(0);
  await expect(page.getByTestId(`service-card-${web.slug}`)).toBeVisible();
  await expect(page.getByText("No service matches.")).toHaveCount(0);
});

test("a search the board no longer offers no longer hides services", async ({ page, factory, admin, signIn }) => {
  const { group, member, service } = await factory.team();
  const other = await factory.service([group]);
  for (let i = 0; i < 5; i++) await factory.service([group]);
  await signIn(page, member);
  await page.locator('[data-live-state="connected"]').waitFor();
  await page.getByRole("searchbox", { name: "Find a service" }).fill("nothing by this name");
  await expect(page.getByText("No service matches.")).toBeVisible();
  // Down to six services: the search box goes, and its words with it.
  await admin.call("DELETE", `/api/services/${other.id}`);
  await expect(page.getByRole("searchbox", { name: "Find a service" })).toHaveCount(0);
  await expect(page.getByTestId(`service-card-${service.slug}`)).toBeVisible();
});

test("counts down on the server's clock when this computer's runs ten minutes fast", async ({ page, factory, admin, signIn }) => {
  const { member, service } = await factory.team();
  // The browser's clock only: the server's stays right.
  await page.clock.install({ time: Date.now() + 10 * 60_000 });
  await factory.startSession(admin, service, 15 * 60);
  await signIn(page, member);
  const card = page.getByTestId(`service-card-${service.slug}`);
  // 15 minutes left, not the 5 this computer's clock would make of it.
  await expect(card.getByTestId("countdown")).toHaveText(/^(15:00|14:\d\d)$/);
});
