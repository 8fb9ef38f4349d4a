// Every page, in both themes: zero serious or critical axe-core violations (WCAG 2.2 A/AA), no
// sideways scrolling (the phone project is 390 px wide), and its own tab title.
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import type { Person } from "./support/api";
import { expect, horizontalOverflow, test } from "./support/fixtures";
import { APP_PAGES } from "./support/pages";

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
}

let member: Person;

test.beforeEach(async ({ factory, clientOf, admin }) => {
  if (member) return;
  // Enough data that every page has rows to check: a session, a booking, a token, a waitlist.
  const team = await factory.team({ name: "Sweep VPN", url: "https://vpn.example.com" }, 2);
  member = team.member;
  await factory.service([team.group], { name: "Sweep Web", kind: "web", exclusive: false, requiresApproval: true });
  const booked = await factory.service([team.group], { name: "Sweep TCP", kind: "tcp" });
  const asMember = await clientOf(member);
  await asMember.call("POST", `/api/services/${booked.id}/sessions`, { durationSeconds: 1800, startsAt: new Date(Date.now() + 3600_000).toISOString() });
  await factory.startSession(asMember, team.service, 1800);
  await asMember.call("POST", "/api/tokens", { name: "sweep-token", scopes: ["sessions:read"] });
  await factory.startSession(admin, team.service, 600).catch(() => undefined);
  await (await clientOf(team.members[1]!)).call("POST", `/api/services/${team.service.id}/waitlist`, {});
});

for (const p of APP_PAGES) {
  const stored = Object.entries(p.stored ?? {});
  test(`${p.path} as ${p.as}${stored.map(([k, v]) => `, ${k}=${v}`).join("")}`, async ({ page, server, signIn }) => {
    if (stored.length > 0) {
      await page.addInitScript((entries) => {
        for (const [k, v] of entries) localStorage.setItem(k, v);
      }, stored);
    }
    if (p.as === "nobody") await page.goto(`${server.url}${p.path}`);
    else await signIn(page, p.as === "admin" ? "admin" : member, p.path);
    await expect(page.getByText(p.ready, { exact: false }).first()).toBeVisible();
    await expect(page.getByTestId("skeleton")).toHaveCount(0);
    await expect(page).toHaveTitle(p.title);
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      expect(await horizontalOverflow(page), `sideways scroll in px (${scheme})`).toBe(0);
      expect(await seriousViolations(page), `axe, ${scheme} theme`).toEqual([]);
    }
  });
}
