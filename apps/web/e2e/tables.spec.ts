// Tables keep their borders (row actions used to be `display: flex` on the cell), and on a phone
// they become cards whose buttons are on screen: My sessions and the board's list view.
import { expect, horizontalOverflow, test } from "./support/fixtures";

test("rows with action buttons keep one straight bottom border on a wide screen", async ({ page, factory, signIn }, info) => {
  test.skip(info.project.name !== "desktop", "tables are cards on a phone");
  await factory.team();
  await signIn(page, "admin", "/admin/services");
  const rows = page.locator("table.data-table tbody tr");
  await expect(rows.first()).toBeVisible();
  const ragged = await rows.evaluateAll((trs) =>
    trs.flatMap((tr) => {
      const cells = [...tr.children] as HTMLElement[];
      const bottoms = new Set(cells.map((c) => Math.round(c.getBoundingClientRect().bottom)));
      const displays = new Set(cells.map((c) => getComputedStyle(c).display));
      return bottoms.size === 1 && displays.size === 1 && displays.has("table-cell") ? [] : [tr.textContent ?? ""];
    }),
  );
  expect(ragged).toEqual([]);
});

test("on a phone, My sessions fits the screen and its Extend and End buttons are on it", async ({ page, factory, clientOf, signIn }, info) => {
  test.skip(info.project.name !== "mobile", "a phone-sized check");
  const { member, service } = await factory.team({ name: "A service with a rather long name for a phone" });
  await factory.startSession(await clientOf(member), service, 1800);
  await signIn(page, member, "/sessions");
  const row = page.getByRole("row", { name: new RegExp(service.name) });
  for (const verb of ["Extend", "End"]) {
    const box = await row.getByRole("button", { name: `${verb} ${service.name}`, exact: true }).boundingBox();
    expect(box, `${verb} button`).not.toBeNull();
    expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(390);
  }
  expect(await horizontalOverflow(page)).toBe(0);
});

test("on a phone, the board's list view fits the screen when a service is held", async ({ page, factory, clientOf, signIn }, info) => {
  test.skip(info.project.name !== "mobile", "a phone-sized check");
  // Held, with a link: the most actions a row has (duration, Extend, End, Open).
  const { member, service } = await factory.team({ url: "https://files.example.com", kind: "web" });
  await factory.startSession(await clientOf(member), service, 600);
  await signIn(page, member);
  await page.getByRole("button", { name: "List" }).click();
  const row = page.getByRole("row", { name: new RegExp(service.name) });
  for (const name of [`Extend ${service.name}`, `End ${service.name}`, `Open ${service.name} (new tab)`]) {
    const box = await row.getByRole(name.startsWith("Open") ? "link" : "button", { name, exact: true }).boundingBox();
    expect(box, name).not.toBeNull();
    expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(390);
  }
  // Neither the table's own scroller nor the page scrolls sideways.
  expect(await page.locator(".board-list").evaluate((el) => el.scrollWidth - el.clientWidth)).toBe(0);
  expect(await horizontalOverflow(page)).toBe(0);
});

test("on a phone, a long username wraps instead of pushing the board, the account and the users list sideways", async ({ page, factory, clientOf, signIn }, info) => {
  test.skip(info.project.name !== "mobile", "a phone-sized check");
  // Usernames have no spaces and may be 64 characters; e-mail addresses are often long, and
  // without a hyphen a browser finds no place to break one.
  const group = await factory.group();
  const username = `maximiliana.konstantinopoulou.wittgenstein.${Math.random().toString(36).slice(2, 8)}@ops.example`;
  const person = await factory.person({ username, displayName: "Maximiliana Konstantinopoulou", groups: [group] });
  const held = await factory.service([group]);
  const approval = await factory.service([group], { requiresApproval: true });
  const client = await clientOf(person);
  await factory.startSession(client, held, 1800);
  await client.call("POST", `/api/services/${approval.id}/sessions`, { durationSeconds: 3600 });
  const scrollers = () => page.locator(".table-wrap").evaluateAll((els) => els.map((el) => el.scrollWidth - el.clientWidth));

  // The admin's board: the holder on the card, the approval asked for, who is waiting.
  await signIn(page, "admin");
  await expect(page.getByTestId("holder").filter({ hasText: username })).toBeVisible();
  await expect(page.getByRole("button", { name: "Approve" }).first()).toBeVisible();
  expect(await horizontalOverflow(page)).toBe(0);

  await page.goto(page.url().replace(/\/$/, "/admin/users"));
  await expect(page.getByRole("row").filter({ hasText: username })).toBeVisible();
  expect(await horizontalOverflow(page)).toBe(0);
  expect(await scrollers()).toEqual([0]);

  await page.context().clearCookies();
  await signIn(page, person, "/account");
  await expect(page.getByText(username, { exact: true })).toBeVisible();
  expect(await horizontalOverflow(page)).toBe(0);
});

test("on a desktop, a long username in the audit trail wraps instead of pushing the details out of view", async ({ page, factory, clientOf, signIn }, info) => {
  test.skip(info.project.name !== "desktop", "a desktop-sized check");
  const group = await factory.group();
  const username = `maximiliana.konstantinopoulou.wittgenstein.${Math.random().toString(36).slice(2, 8)}@ops.example`;
  const person = await factory.person({ username, groups: [group] });
  const service = await factory.service([group]);
  await factory.startSession(await clientOf(person), service, 1800);

  await signIn(page, "admin", "/audit");
  await expect(page.getByRole("row").filter({ hasText: username }).first()).toBeVisible();
  const scrollers = await page.locator(".table-wrap").evaluateAll((els) => els.map((el) => el.scrollWidth - el.clientWidth));
  expect(scrollers).toEqual([0]);
});
