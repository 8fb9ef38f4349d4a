// Reading an attempt recipient by recipient, without a server: the forms a server reports back.
import { describe, expect, it } from "vitest";
import { nextReplies, outcomeOfSent, repliesColumn, repliesOf, waitingRecipients } from "./relay.recipients";

describe("a relay attempt's recipients", () => {
  it("counts a recipient the server names in another case or in punycode as delivered", () => {
    const sentTo = ["Ops@Example.test", "bereitschaft@bücher.example"];
    const outcome = outcomeOfSent({ accepted: ["ops@example.test", "bereitschaft@xn--bcher-kva.example"], rejectedErrors: [] }, sentTo);
    expect(outcome).toEqual({ delivered: sentTo, missed: [] });
    expect(waitingRecipients(sentTo, { deliveredTo: "ops@example.test bereitschaft@xn--bcher-kva.example", refusedTo: null })).toEqual([]);
  });

  it("counts a recipient with an error of its own as missed, deferred or refused by its code", () => {
    const outcome = outcomeOfSent(
      {
        accepted: ["ops@example.test"],
        rejectedErrors: [
          { recipient: "oncall@example.test", responseCode: 451, response: "451 4.7.1 greylisted" },
          { recipient: "gone@example.test", responseCode: 550, response: "550 5.1.1 no such user" },
        ],
      },
      ["ops@example.test", "oncall@example.test", "gone@example.test"],
    );
    expect(outcome.delivered).toEqual(["ops@example.test"]);
    expect(outcome.missed).toEqual([
      { address: "oncall@example.test", reason: "451 4.7.1 greylisted", refused: false },
      { address: "gone@example.test", reason: "refused: 550 5.1.1 no such user", refused: true },
    ]);
  });

  it("keeps the server's last answer for each recipient still lacking the message, and none for one who has it", () => {
    const before = repliesOf(repliesColumn({ "Ops@Example.test": "refused: 550 5.1.1 no such user", "oncall@example.test": "451 4.7.1 greylisted" }));
    const deferredAgain = { delivered: [], missed: [{ address: "oncall@example.test", reason: "452 4.2.2 mailbox full", refused: false }] };
    // Ops was refused for good and not sent to again: their answer stays; oncall's is the newest.
    expect(nextReplies(before, deferredAgain, ["ops@example.test", "oncall@example.test"], false)).toEqual({
      "ops@example.test": "refused: 550 5.1.1 no such user",
      "oncall@example.test": "452 4.2.2 mailbox full",
    });
    // An attempt cut short heard nothing from the server: what it said before stands.
    const cutShort = { delivered: [], missed: [{ address: "oncall@example.test", reason: "cut short", refused: false }] };
    expect(nextReplies(before, cutShort, ["oncall@example.test"], true)).toEqual({ "oncall@example.test": "451 4.7.1 greylisted" });
    expect(nextReplies({}, cutShort, ["oncall@example.test"], true)).toEqual({ "oncall@example.test": "cut short" });
    // Delivered: no longer lacking, nothing kept.
    expect(nextReplies(before, { delivered: ["oncall@example.test"], missed: [] }, ["ops@example.test"], false)).toEqual({
      "ops@example.test": "refused: 550 5.1.1 no such user",
    });
    expect(repliesOf("not json")).toEqual({});
  });
});
