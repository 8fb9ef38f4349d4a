// Two people on the board in two browsers: when one starts a session, the other's board shows
// it without a reload, through the live stream (GET /api/live); and when the stream is down
// the board says so plainly.
import { expect, test } from "./support/fixtures";

test("shows a session started in one browser on the other's board without a reload", async ({ factory, newContext, signIn }) => {
  const { members, service } = await factory.team({}, 2);
  const [lena, omar] = await Promise.all([newContext().then((c) => c.newPage()), newContext().then((c) => c.newPage())]);
  await signIn(lena, members[0]!);
  await signIn(omar, members[1]!);
  for (const p of [lena, omar]) await p.locator('[data-live-state="connected"]').waitFor();
  let navigations = 0;
  omar.on("framenavigated", (frame) => {
    if (frame === omar.mainFrame()) navigations += 1;
  });

  const lenaCard = lena.getByTestId(`service-card-${service.slug}`);
  const omarCard = omar.getByTestId(`service-card-${service.slug}`);
  const started = Date.now();
  await lenaCard.getByRole("button", { name: `Start ${service.name}`, exact: true }).click();
  await expect(omarCard.getByTestId("holder").filter({ hasText: members[0]!.username })).toBeVisible({ timeout: 4000 });
  const seenAfterMs = Date.now() - started;

  await lenaCard.getByRole("button", { name: `End ${service.name}`, exact: true }).click();
  await expect(omarCard.getByTestId("holder")).toHaveCount(0, { timeout: 4000 });

  expect(navigations).toBe(0);
  // Well inside the 5 s the board polls at while the stream is down.
  expect(seenAfterMs).toBeLessThan(4000);
});

test("a clear banner says when live updates are off, and it goes when they are back", async ({ page, factory, signIn }) => {
  test.setTimeout(90_000);
  const { member } = await factory.team();
  // Every attempt to open the stream fails while this route is in place.
  let blocked = true;
  await page.routeWebSocket(/\/api\/live/, (ws) => {
    if (blocked) void ws.close({ code: 1011, reason: "test: stream down" });
    else ws.connectToServer();
  });
  await signIn(page, member);
  const banner = page.getByTestId("live-banner");
  await expect(banner).toContainText("Live updates are off", { timeout: 15_000 });
  await expect(page.locator("[data-live-state]")).not.toHaveAttribute("data-live-state", "connected");
  blocked = false;
  await expect(page.locator('[data-live-state="connected"]')).toBeVisible({ timeout: 40_000 });
  await expect(banner).toHaveCount(0);
});

test("a failed refresh while the stream is down keeps the board and what was typed on it", async ({ page, factory, signIn }) => {
  test.setTimeout(90_000);
  const { group, member, service } = await factory.team();
  for (let i = 0; i < 6; i++) await factory.service([group]);
  let down = false;
  let open: { close: (o: { code: number; reason: string }) => Promise<void> } | undefined;
  await page.routeWebSocket(/\/api\/live/, (ws) => {
    if (down) void ws.close({ code: 1011, reason: "test: server restarting" });
    else {
      ws.connectToServer();
      open = ws;
    }
  });
  await signIn(page, member);
  await page.locator('[data-live-state="connected"]').waitFor();
  const search = page.getByRole("searchbox", { name: "Find a service" });
  await search.fill("Service");
  // A restart: the stream drops and the board's reads fail for a while.
  down = true;
  await page.route("**/api/services", (route) =>
    route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "service_unavailable", message: "restarting" } }) }),
  );
  await open?.close({ code: 1012, reason: "test: restart" });
  // The polls meanwhile fail: a quiet line says so, the board and the search stay.
  const notice = page.getByRole("status").filter({ hasText: "Could not refresh" });
  await expect(notice).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("alert")).toHaveCount(0);
  await expect(page.getByTestId(`service-card-${service.slug}`)).toBeVisible();
  await expect(search).toHaveValue("Service");
  // The server is back: the next poll clears the line.
  await page.unroute("**/api/services");
  await expect(notice).toHaveCount(0, { timeout: 15_000 });
});

test("opens the stream from where the board's reads stood, without the board again", async ({ page, factory, signIn, clientOf }) => {
  const { members, service } = await factory.team({}, 2);
  const frames: string[] = [];
  const urls: string[] = [];
  page.on("websocket", (ws) => {
    if (!ws.url().includes("/api/live")) return;
    urls.push(ws.url());
    ws.on("framereceived", ({ payload }) => frames.push(String(payload)));
  });
  await signIn(page, members[0]!);
  const card = page.getByTestId(`service-card-${service.slug}`);
  await expect(card).toBeVisible();
  await page.locator('[data-live-state="connected"]').waitFor();

  // The reads gave the board; the stream resumed after them and said only that it is current.
  expect(urls).toHaveLength(1);
  expect(urls[0]).toMatch(/\/api\/live\?since=\d+$/);
  expect(frames.map((f) => (JSON.parse(f) as { type: string }).type)).not.toContain("snapshot");

  // And it carries what happens next.
  await factory.startSession(await clientOf(members[1]!), service, 600);
  await expect(card.getByTestId("holder").filter({ hasText: members[1]!.username })).toBeVisible({ timeout: 4000 });
});
