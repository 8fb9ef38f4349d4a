// Extend offers only what the service allows now (its maximum counts from now), each session on
// My sessions has its own choice bounded by its own service, and an extend choice never carries
// into the next Start.
import type { Locator } from "@playwright/test";
import { expect, test } from "./support/fixtures";

const optionTexts = (select: Locator) => select.locator("option").allTextContents();

test("the board offers only extensions the service's maximum allows, then says it is at the maximum", async ({ page, factory, signIn }) => {
  const { member, service } = await factory.team({ maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
  await signIn(page, member);
  const card = page.getByTestId(`service-card-${service.slug}`);
  await card.getByRole("button", { name: `Start ${service.name}`, exact: true }).click();
  const picker = card.getByRole("combobox", { name: `Extend ${service.name} by` });
  // 30 min running of a 1 h maximum: at most 30 more minutes (the old picker offered 1 h).
  await expect.poll(() => optionTexts(picker)).toEqual(["15 min", "30 min (longest allowed)"]);
  await picker.selectOption({ label: "30 min (longest allowed)" });
  await card.getByRole("button", { name: `Extend ${service.name}`, exact: true }).click();
  await expect(card.getByTestId("extend-limit")).toHaveText("At the 1 h maximum");
  await expect(card.getByRole("alert")).toHaveCount(0);
});

test("an extend choice does not carry into the next Start", async ({ page, factory, signIn }) => {
  const { member, service } = await factory.team({ maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 1800 });
  await signIn(page, member);
  const card = page.getByTestId(`service-card-${service.slug}`);
  await card.getByRole("button", { name: `Start ${service.name}`, exact: true }).click();
  await card.getByRole("combobox", { name: `Extend ${service.name} by` }).selectOption("900");
  await card.getByRole("button", { name: `Extend ${service.name}`, exact: true }).click();
  await expect(card.getByTestId("countdown")).toHaveText(/^(45:00|44:\d\d)$/);
  await card.getByRole("button", { name: `End ${service.name}`, exact: true }).click();
  await expect(card.getByRole("combobox", { name: `Duration for ${service.name}` })).toHaveValue("1800");
});

test("My sessions: each running session has its own extend, bounded by its own service", async ({ page, factory, clientOf, signIn }) => {
  const group = await factory.group();
  const member = await factory.person({ groups: [group] });
  const short = await factory.service([group], { maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
  const long = await factory.service([group], { maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 3600 });
  const api = await clientOf(member);
  await factory.startSession(api, short, 1800);
  await factory.startSession(api, long, 3600);
  await signIn(page, member, "/sessions");

  const shortRow = page.getByRole("row", { name: new RegExp(short.name) });
  const longRow = page.getByRole("row", { name: new RegExp(long.name) });
  await expect.poll(() => optionTexts(shortRow.getByRole("combobox"))).toEqual(["15 min", "30 min (longest allowed)"]);
  await expect.poll(() => optionTexts(longRow.getByRole("combobox"))).toEqual(["15 min", "30 min", "1 h", "2 h", "3 h (longest allowed)"]);

  await longRow.getByRole("combobox").selectOption({ label: "2 h" });
  await longRow.getByRole("button", { name: `Extend ${long.name}`, exact: true }).click();
  await expect(longRow.getByTestId("countdown")).toHaveText(/^(3:00:00|2:59:\d\d)$/);
  await expect(page.getByRole("alert")).toHaveCount(0);
});
