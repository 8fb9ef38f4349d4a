// The relay page against a real relay: a server whose SMTP is a local sink that takes mail for
// one recipient and refuses the other for good, so a message ends partly delivered.
import type { Page } from "@playwright/test";
import { ApiClient, unique } from "./support/api";
import { expect, horizontalOverflow, test } from "./support/fixtures";
import { startServer, type RunningServer } from "./support/server";
import { startSmtpSink, type SmtpSink } from "./support/smtp";

const TAKES = "ops-team-on-call@example.test";
const REFUSES = "nobody-here@example.test";

let sink: SmtpSink;
let server: RunningServer;
let admin: ApiClient;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  sink = await startSmtpSink([TAKES, REFUSES], [REFUSES]);
  server = await startServer(sink.env);
  admin = await ApiClient.login(server.url, server.admin.username, server.admin.password);
});

test.afterAll(async () => {
  await server?.stop();
  await sink?.close();
});

/** Posts messages as a monitor would, with its own relay:send token. */
async function sendMessages(subjects: string[]): Promise<string[]> {
  const { token } = await admin.call<{ token: string }>("POST", "/api/tokens", { name: unique("monitor"), scopes: ["relay:send"] });
  const ids: string[] = [];
  for (const subject of subjects) {
    const res = await fetch(`${server.url}/api/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ subject, message: `${subject}: disk 91% full` }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

async function openRelayPage(page: Page) {
  const [name = "", value = ""] = admin.cookie.split("=", 2);
  await page.context().addCookies([{ name, value, url: server.url }]);
  await page.goto(`${server.url}/admin/messages`);
}

test("a partly delivered message says who has it, and fits a phone", async ({ page }) => {
  const subject = unique("Disk");
  const [id] = await sendMessages([subject]);
  // The queue works in the background: wait until it has given up on the refusing recipient.
  await expect
    .poll(async () => (await admin.call<{ items: { id: string; status: string }[] }>("GET", "/api/messages")).items.find((m) => m.id === id)?.status, {
      timeout: 30_000,
    })
    .toBe("failed");

  await openRelayPage(page);
  const row = page.getByRole("row").filter({ hasText: subject });
  await expect(row.getByTestId("delivered-to")).toHaveText(`delivered to ${TAKES}`);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
});

test("a 'Load more' that fails says so by its button", async ({ page }) => {
  test.setTimeout(120_000);
  // More than one page (50): two monitors, each inside its token's 30 a minute.
  await sendMessages(Array.from({ length: 26 }, () => unique("Ping")));
  await sendMessages(Array.from({ length: 26 }, () => unique("Ping")));
  // Deliveries settle first: the only live updates after the failure are the ones this test makes.
  await expect.poll(async () => (await admin.call<{ queued: number }>("GET", "/api/messages/status")).queued, { timeout: 60_000 }).toBe(0);
  await openRelayPage(page);
  const more = page.getByRole("button", { name: "Load more" });
  await expect(more).toBeVisible();
  // The next page's read (the one with a cursor) fails. Route interception, not a real outage:
  // the first page must load from the same server a moment before.
  await page.route(/\/api\/messages\?.*cursor=/, (route) =>
    route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "service_unavailable", message: "restarting" } }) }),
  );
  await more.click();
  // Said beside the button, in the table's footer, not instead of the list.
  await expect(more.locator("..").getByRole("alert")).toContainText("restarting", { timeout: 15_000 });
  await expect(page.getByRole("row").filter({ hasText: "Ping" }).first()).toBeVisible();
  await expect(more).toBeVisible();
  // A busy relay: a message arrives over the live stream (its row on top, then its delivery). The
  // list changes, but the next page still did not come: the reason stays until a retry.
  const late = unique("Late");
  await sendMessages([late]);
  const lateRow = page.getByRole("row").filter({ hasText: late });
  await expect(lateRow).toBeVisible();
  // Its delivery ends partly refused: "failed", after "queued" (each a live update).
  await expect(lateRow.locator(".status-failed")).toBeVisible({ timeout: 30_000 });
  await expect(more.locator("..").getByRole("alert")).toContainText("restarting");
  await page.unroute(/\/api\/messages\?.*cursor=/);
  await more.click();
  await expect(page.getByRole("alert").filter({ hasText: "restarting" })).toHaveCount(0);
});
