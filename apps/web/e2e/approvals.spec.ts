// Approving or denying from the keyboard: the decided request leaves the list, and the focus
// goes on to the next request (or to the list's empty-state text when none is left) instead of <body>.
import { expect, tabTo, test } from "./support/fixtures";

test("approve and deny with the keyboard; the focus moves on to what is left", async ({ page, factory, clientOf, signIn }) => {
  const { members, service } = await factory.team({ requiresApproval: true, exclusive: false }, 2);
  const [mia, omar] = members as [(typeof members)[0], (typeof members)[0]];
  await factory.startSession(await clientOf(mia), service, 1800);
  await factory.startSession(await clientOf(omar), service, 1800);
  await signIn(page, "admin");
  const approvals = page.getByRole("region", { name: "Pending approvals" });
  const approveMia = approvals.getByRole("button", { name: `Approve ${mia.username}'s request for ${service.name}` });
  const approveOmar = approvals.getByRole("button", { name: `Approve ${omar.username}'s request for ${service.name}` });
  const denyOmar = approvals.getByRole("button", { name: `Deny ${omar.username}'s request for ${service.name}` });

  // Whichever comes first in the list is decided first; the other is where the focus goes.
  const miaFirst = await approveMia.evaluate((a, b) => Boolean(a.compareDocumentPosition(b as Node) & Node.DOCUMENT_POSITION_FOLLOWING), await approveOmar.elementHandle());
  const [first, second] = miaFirst ? [approveMia, approveOmar] : [approveOmar, approveMia];
  const secondDeny = miaFirst ? denyOmar : approvals.getByRole("button", { name: `Deny ${mia.username}'s request for ${service.name}` });

  await tabTo(page, first);
  await page.keyboard.press("Enter");
  await expect(first).toHaveCount(0);
  await expect(second).toBeFocused();

  await tabTo(page, secondDeny);
  await page.keyboard.press("Enter");
  await expect(secondDeny).toHaveCount(0);
  await expect(approvals.getByText("No requests are waiting.")).toBeFocused();
});
