import { describe, expect, it } from "vitest";
import { z } from "zod";
import { validatorCompiler } from "./validator";
import { envelopeOf } from "./refuse";

// The validator keeps recent 400s by message, so that the same bad input again costs neither a
// new refusal nor a new envelope. Two different lists of issues that spell one message must not
// share an answer.
describe("validation refusals", () => {
  const validate = (schema: z.ZodType, data: unknown) => {
    const result = validatorCompiler({ schema, httpPart: "body", method: "POST", url: "/" })(data) as { error?: unknown };
    return result.error as Parameters<typeof envelopeOf>[0];
  };

  it("gives the same bad input the same answer, and other input its own", () => {
    const schema = z.object({ durationSeconds: z.number() });
    const first = validate(schema, { durationSeconds: "soon" });
    expect(validate(schema, { durationSeconds: "later" })).toBe(first);
    expect(JSON.parse(envelopeOf(first))).toEqual({
      error: { code: "validation_failed", message: first.message, details: [{ field: "body.durationSeconds", message: first.message.split(": ").slice(1).join(": ") }] },
    });
    expect(validate(schema, {})).not.toBe(first);
  });

  it("does not confuse two lists of issues that read as one message", () => {
    // One made-up field whose name reads like two issues, against two real ones.
    const strict = z.strictObject({});
    const tricky = validate(strict, { "a: unknown field; body.b": 1 });
    const two = validate(strict, { a: 1, b: 2 });
    expect(tricky.message).toBe(two.message);
    expect(two).not.toBe(tricky);
    expect(JSON.parse(envelopeOf(two)).error.details).toEqual([
      { field: "body.a", message: "unknown field" },
      { field: "body.b", message: "unknown field" },
    ]);
    expect(JSON.parse(envelopeOf(tricky)).error.details).toEqual([{ field: "body.a: unknown field; body.b", message: "unknown field" }]);
  });
});
