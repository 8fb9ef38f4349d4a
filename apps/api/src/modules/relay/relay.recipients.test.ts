// Reading an attempt recipient by recipient, without a server: the forms a server reports back.
import { describe, expect, it } from "vitest";
import { outcomeOfSent, waitingRecipients } from "./relay.recipients";

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
});
