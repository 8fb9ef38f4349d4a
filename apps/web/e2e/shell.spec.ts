// The app shell: a light/dark/system switch that is remembered, page titles per route, and
// skeletons while data loads.
import { expect, horizontalOverflow, test } from "./support/fixtures";

test("the theme switch picks light or dark, is remembered, and can follow the system again", async ({ page, factory, signIn }) => {
  const { member } = await factory.team();
  await page.emulateMedia({ colorScheme: "light" });
  await signIn(page, member);
  const html = page.locator("html");
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await background();

  await page.getByRole("radio", { name: "Dark" }).check();
  await expect(html).toHaveAttribute("data-theme", "dark");
  expect(await background()).not.toBe(light);
  await page.reload();
  await expect(page.getByRole("radio", { name: "Dark" })).toBeChecked();
  expect(await background()).not.toBe(light);

  await page.getByRole("radio", { name: "System" }).check();
  await expect(html).not.toHaveAttribute("data-theme", /.+/);
  expect(await background()).toBe(light);
});

test("each route has its own title", async ({ page, signIn }) => {
  await signIn(page, "admin");
  await expect(page).toHaveTitle("Board · Postern");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "My sessions" }).click();
  await expect(page).toHaveTitle("My sessions · Postern");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await expect(page).toHaveTitle("Users · Admin · Postern");
});

test("the board shows skeletons, not 'Loading…', while its data is on the way", async ({ page, factory, signIn }) => {
  const { member, service } = await factory.team();
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  await page.route("**/api/services", async (route) => {
    await held;
    await route.continue();
  });
  // The live snapshot would fill the board too: hold it back as well.
  await page.routeWebSocket(/\/api\/live/, async (ws) => {
    await held;
    ws.connectToServer();
  });
  await signIn(page, member);
  const skeleton = page.getByTestId("skeleton");
  await expect(skeleton).toBeVisible();
  await expect(skeleton).toHaveAttribute("aria-busy", "true");
  await expect(page.getByText("Loading…")).toHaveCount(0);
  release();
  await expect(page.getByTestId(`service-card-${service.slug}`)).toBeVisible();
  await expect(skeleton).toHaveCount(0);
});

test("the app's files arrive compressed, and the next visit asks only for the page", async ({ page, factory, signIn, server }) => {
  const { member, service } = await factory.team();
  const assets: { url: string; encoding?: string; cacheControl?: string }[] = [];
  page.on("response", (res) => {
    if (new URL(res.url()).pathname.startsWith("/assets/"))
      assets.push({ url: res.url(), encoding: res.headers()["content-encoding"], cacheControl: res.headers()["cache-control"] });
  });
  await signIn(page, member);
  await expect(page.getByTestId(`service-card-${service.slug}`)).toBeVisible();
  // Chromium accepts Brotli: every script and style sheet came as the build's .br copy.
  expect(assets.filter((a) => /\.(?:js|css)$/.test(a.url)).length).toBeGreaterThanOrEqual(3);
  for (const a of assets) {
    expect(a.encoding, a.url).toBe("br");
    expect(a.cacheControl, a.url).toBe("public, max-age=31536000, immutable");
  }

  // The same browser opens the board again: the assets come from its cache without a question to
  // the server; only the page (no-cache) and the data go over the network.
  const again = await page.context().newPage();
  const cdp = await page.context().newCDPSession(again);
  await cdp.send("Network.enable");
  const fromCache = new Set<string>();
  const overNetwork: string[] = [];
  cdp.on("Network.requestServedFromCache", (e) => fromCache.add(e.requestId));
  cdp.on("Network.responseReceived", (e) => {
    if (!e.response.fromDiskCache && !fromCache.has(e.requestId)) overNetwork.push(new URL(e.response.url).pathname);
  });
  await again.goto(`${server.url}/`);
  await expect(again.getByTestId(`service-card-${service.slug}`)).toBeVisible();
  expect(overNetwork).toContain("/");
  expect(overNetwork.filter((p) => p.startsWith("/assets/"))).toEqual([]);
  await again.close();
});

test("the board's data is asked for together with the caller, not a round trip after", async ({ page, factory, signIn }) => {
  const { member, service } = await factory.team();
  // /api/me is held until the board's own requests have left: without them it would wait for good.
  const asked: string[] = [];
  let bothAsked: () => void = () => undefined;
  const boardAsked = new Promise<void>((r) => (bothAsked = r));
  page.on("request", (req) => {
    const { pathname, search } = new URL(req.url());
    if (pathname === "/api/services" || (pathname === "/api/sessions" && search === "?active=true")) asked.push(pathname);
    if (asked.length >= 2) bothAsked();
  });
  await page.route("**/api/me", async (route) => {
    await boardAsked;
    await route.continue();
  });
  await signIn(page, member);
  await expect(page.getByTestId(`service-card-${service.slug}`)).toBeVisible();
  expect(asked.sort()).toEqual(["/api/services", "/api/sessions"]);
});

test("the admin pages are fetched only by an admin heading for them", async ({ page, factory, signIn }) => {
  const { member, service } = await factory.team();
  const scripts: string[] = [];
  page.on("request", (req) => {
    const { pathname } = new URL(req.url());
    if (pathname.startsWith("/assets/") && pathname.endsWith(".js")) scripts.push(pathname);
  });
  const adminChunk = () => scripts.filter((p) => /\/admin-[^/]*\.js$/.test(p));
  await signIn(page, member);
  await expect(page.getByTestId(`service-card-${service.slug}`)).toBeVisible();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "My sessions" }).click();
  await expect(page).toHaveTitle("My sessions · Postern");
  expect(scripts.length).toBeGreaterThan(0);
  expect(adminChunk()).toEqual([]);

  // An admin: not with the board either, but as soon as the pointer is on an admin link.
  await page.context().clearCookies();
  await signIn(page, "admin");
  await expect(page.getByTestId(`service-card-${service.slug}`)).toBeVisible();
  expect(adminChunk()).toEqual([]);
  const adminLink = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" });
  await adminLink.hover();
  await expect.poll(() => adminChunk().length).toBe(1);
  await adminLink.click();
  await expect(page).toHaveTitle("Users · Admin · Postern");
  await page.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name: "Audit" }).click();
  await expect(page).toHaveTitle(/Audit/);
  expect(adminChunk()).toHaveLength(1);
});

test("admin pages that cannot be fetched leave the shell and offer a reload", async ({ page, signIn }) => {
  // As after an upgrade while the tab stayed open: the old chunk is gone.
  await page.route(/\/assets\/admin-[^/]*\.js$/, (route) => route.fulfill({ status: 404, body: "" }));
  await signIn(page, "admin");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toContainText("The admin pages could not be loaded");
  await expect(page.getByRole("navigation", { name: "Admin sections" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();

  await page.unroute(/\/assets\/admin-[^/]*\.js$/);
  // Another tab asks for the pages again, and the message goes with the page it was about.
  const tabs = page.getByRole("navigation", { name: "Admin sections" });
  await tabs.getByRole("link", { name: "Groups" }).click();
  await expect(page).toHaveTitle("Groups · Admin · Postern");
  await expect(page.getByRole("alert")).toHaveCount(0);
  // The tab that failed stays failed until a reload (React keeps a lazy page's failure).
  await tabs.getByRole("link", { name: "Users" }).click();
  await expect(alert).toContainText("The admin pages could not be loaded");
  await alert.getByRole("button", { name: "Reload" }).click();
  await expect(page).toHaveTitle("Users · Admin · Postern");
});

test("a logout the server did not confirm says so and keeps the login; the next one logs out", async ({ page, factory, signIn }) => {
  const { member } = await factory.team();
  await signIn(page, member);
  // The database was down for a moment: the login still stands, and a reload would show it.
  await page.route("**/api/auth/logout", (route) =>
    route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "service_unavailable", message: "the database is not answering" } }) }),
  );
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("alert")).toContainText("Not logged out");
  await expect(page).not.toHaveURL(/\/login/);

  await page.unroute("**/api/auth/logout");
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.reload();
  await expect(page).toHaveURL(/\/login/);
});

test("on a phone, the admin tab of the page shown is in view, however the page was reached", async ({ page, signIn }, info) => {
  test.skip(info.project.name !== "mobile", "the tabs scroll sideways only on a phone");
  const tabs = page.getByRole("navigation", { name: "Admin sections" });
  const inView = async (name: string) => {
    const [strip, tab] = await Promise.all([tabs.boundingBox(), tabs.getByRole("link", { name, exact: true }).boundingBox()]);
    return Boolean(strip && tab && tab.x >= strip.x - 1 && tab.x + tab.width <= strip.x + strip.width + 1);
  };
  // The main navigation's Audit link opens the last tab, far past a phone's width.
  await signIn(page, "admin");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
  await expect(page).toHaveTitle(/Audit/);
  await expect.poll(() => inView("Audit")).toBe(true);
  // And back: the main Admin link opens the first tab again.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await expect(page).toHaveTitle("Users · Admin · Postern");
  await expect.poll(() => inView("Users")).toBe(true);
  expect(await horizontalOverflow(page)).toBe(0);
});
