// The Playwright fixtures every browser test uses: one real server per worker (fresh SQLite
// database), an admin API client, data factories, and signing a browser in as anyone without
// going through the login form (which has its own tests). Uncaught page errors fail the test.
import { test as base, expect, type BrowserContext, type Locator, type Page } from "@playwright/test";
import { ApiClient, Factory, type Person } from "./api";
import { startServer, type RunningServer } from "./server";

export { expect };

interface WorkerFixtures {
  server: RunningServer;
  admin: ApiClient;
  factory: Factory;
  /** Logged-in API clients, one login per person per worker (logins are rate limited). */
  clientOf: (who: Person | "admin") => Promise<ApiClient>;
}

interface TestFixtures {
  /** Puts the person's login cookie into the page's context and opens `path`. */
  signIn: (page: Page, who: Person | "admin", path?: string) => Promise<void>;
  /** A second, separate browser (its own cookies) for the same test. */
  newContext: () => Promise<BrowserContext>;
  pageErrors: string[];
}

/** Logs in, waiting out the login rate limit (20 a minute from one address) when a run hits it. */
async function login(url: string, username: string, password: string): Promise<ApiClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ApiClient.login(url, username, password);
    } catch (err) {
      if (attempt >= 6 || !String(err).includes(": 429 ")) throw err;
      await new Promise((r) => setTimeout(r, 10_000));
    }
  }
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  server: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const server = await startServer();
      await use(server);
      await server.stop();
    },
    { scope: "worker", timeout: 120_000 },
  ],
  clientOf: [
    async ({ server }, use) => {
      const cache = new Map<string, Promise<ApiClient>>();
      await use((who) => {
        const [username, password] = who === "admin" ? [server.admin.username, server.admin.password] : [who.username, who.password];
        let client = cache.get(username);
        if (!client) {
          client = login(server.url, username, password);
          cache.set(username, client);
        }
        return client;
      });
    },
    { scope: "worker" },
  ],
  admin: [async ({ clientOf }, use) => use(await clientOf("admin")), { scope: "worker" }],
  factory: [async ({ admin }, use) => use(new Factory(admin)), { scope: "worker" }],

  signIn: async ({ server, clientOf }, use) => {
    await use(async (page, who, path = "/") => {
      const client = await clientOf(who);
      const [name = "", value = ""] = client.cookie.split("=", 2);
      await page.context().addCookies([{ name, value, url: server.url }]);
      await page.goto(`${server.url}${path}`);
    });
  },
  newContext: async ({ browser }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async () => {
      const c = await browser.newContext();
      contexts.push(c);
      return c;
    });
    for (const c of contexts) await c.close();
  },
  pageErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await use(errors);
      expect(errors, "uncaught errors in the page").toEqual([]);
    },
    { auto: true },
  ],
});

/** The page's content is no wider than its window (nothing to scroll sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** Presses Tab until `target` has the focus, as a keyboard user would get there. */
export async function tabTo(page: Page, target: Locator, maxPresses = 40): Promise<void> {
  for (let i = 0; i < maxPresses; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${target.toString()}`);
}

/**
 * Whether the server has a route yet (some arrive on main while this branch is built): an
 * unknown route answers 404 "no route …", a known one anything else.
 */
export async function hasRoute(baseUrl: string, method: string, path: string): Promise<boolean> {
  const res = await fetch(`${baseUrl}${path}`, { method, headers: { "x-postern-csrf": "1" } });
  if (res.status !== 404) return true;
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  return !body?.error?.message?.startsWith("no route");
}
