// Browser smoke test of a running Postern: Chromium logs in through the login page, starts a
// session on the board and ends it. The container workflow runs it through nginx in front of
// the compose stack; the test suite runs it against a local compiled server.
//
//   POSTERN_SMOKE_URL=http://localhost:8080 POSTERN_SMOKE_USER=admin POSTERN_SMOKE_PASSWORD=… \
//     [POSTERN_CHROMIUM=/usr/bin/google-chrome] node scripts/browser-smoke.mjs
//
// Chromium: POSTERN_CHROMIUM, else /usr/bin/chromium, else /usr/bin/google-chrome.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

// playwright-core is a dependency of the web app, whose browser tests use it too.
const requireFromWeb = createRequire(path.resolve(import.meta.dirname, "../apps/web/package.json"));
const { chromium } = requireFromWeb("playwright-core");

const base = (process.env.POSTERN_SMOKE_URL ?? "http://localhost:8080").replace(/\/+$/, "");
const username = process.env.POSTERN_SMOKE_USER ?? "admin";
const password = process.env.POSTERN_SMOKE_PASSWORD;
const executablePath = [process.env.POSTERN_CHROMIUM, "/usr/bin/chromium", "/usr/bin/google-chrome"].find((p) => p && fs.existsSync(p));

let step = "start";
const ok = (text) => process.stdout.write(`browser smoke: ✓ ${text}\n`);
function fail(message) {
  process.stderr.write(`browser smoke: ✗ ${step}: ${message}\n`);
  process.exit(1);
}
if (!password) fail("set POSTERN_SMOKE_PASSWORD to the password of an admin");
if (!executablePath) fail("no Chromium: set POSTERN_CHROMIUM (Debian: apt-get install chromium)");

// The service is made through the API, so the page has something of this run to show.
step = "prepare a service";
const login = await fetch(`${base}/api/auth/login`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ username, password }),
});
if (login.status !== 200) fail(`API login answered ${login.status}`);
const apiHeaders = { cookie: (login.headers.get("set-cookie") ?? "").split(";")[0], "x-postern-csrf": "1" };
const slug = `browser-smoke-${randomBytes(4).toString("hex")}`;
const created = await fetch(`${base}/api/services`, {
  method: "POST",
  headers: { ...apiHeaders, "content-type": "application/json" },
  body: JSON.stringify({ name: `Browser smoke ${slug}`, slug, kind: "web", exclusive: true, maxDurationSeconds: 3600, defaultDurationSeconds: 600 }),
});
if (created.status !== 201) fail(`POST /api/services answered ${created.status}: ${await created.text()}`);
const service = await created.json();
// The board's buttons are named for their service ("Start Browser smoke …"), so a screen reader
// user hears which card they act on.
const startName = `Start ${service.name}`;
const endName = `End ${service.name}`;

const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);

  step = "log in";
  await page.goto(base);
  await page.getByLabel(/username/i).fill(username);
  await page.getByLabel(/password/i).fill(password);
  await page.getByRole("button", { name: /log in|sign in/i }).click();
  const card = page.getByTestId(`service-card-${slug}`);
  await card.waitFor().catch(() => fail(`the board did not show ${slug} after logging in (at ${page.url()})`));
  ok(`logged in through the login page; the board shows ${slug}`);

  step = "start a session";
  await card.getByRole("button", { name: startName, exact: true }).click();
  await card.getByTestId("holder").filter({ hasText: username }).waitFor().catch(() => fail("the card never named the holder"));
  ok("started a session from the board; the card names the holder");

  step = "end the session";
  await card.getByRole("button", { name: endName, exact: true }).click();
  await card.getByRole("button", { name: startName, exact: true }).waitFor().catch(() => fail("the card did not become free again"));
  ok("ended it; the service is free again");
} finally {
  await browser.close();
  await fetch(`${base}/api/services/${service.id}`, { method: "DELETE", headers: apiHeaders });
}
process.stdout.write("browser smoke: all good\n");
