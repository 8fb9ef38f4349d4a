import { describe, expect, it } from "vitest";
import { ZAuditListQuery, ZCreateServiceBody } from "@postern/contracts";
import { ApiError } from "../api/client";
import { checkBody, formErrors, type FieldMap } from "./field-errors";

type F = "defaultMinutes" | "maxMinutes" | "name" | "from" | "to" | "username";
const MAP: FieldMap<F> = {
  defaultDurationSeconds: { field: "defaultMinutes", label: "the default duration", unit: "minutes" },
  maxDurationSeconds: { field: "maxMinutes", label: "the maximum duration", unit: "minutes" },
  name: { field: "name", label: "Name" },
  from: { field: "from", label: "From" },
  to: { field: "to", label: "To" },
  username: { field: "username", label: "Username" },
};
const apiError = (details: { field: string; message: string }[]) =>
  new ApiError(400, "validation_failed", details.map((d) => `${d.field}: ${d.message}`).join("; "), details);

describe("field errors in the form's words", () => {
  it("puts an API field problem beside its field, in the form's unit", () => {
    const e = formErrors(apiError([{ field: "body.defaultDurationSeconds", message: "Too big: expected number to be <=31622400" }]), MAP);
    expect(e.fields.defaultMinutes).toBe("must be at most 527,040 minutes (366 d)");
    expect(e.general).toBeNull();
  });

  it("names other fields by their labels and turns seconds into lengths", () => {
    const e = formErrors(
      apiError([
        { field: "querystring.to", message: "must be after from" },
        { field: "body.defaultDurationSeconds", message: "must not exceed maxDurationSeconds" },
        { field: "body.durationSeconds", message: "would run the session 21598 seconds from now, beyond the maximum" },
      ]),
      MAP,
    );
    expect(e.fields.to).toBe("must be after From");
    expect(e.fields.defaultMinutes).toBe("must not exceed the maximum duration");
    expect(e.general).toBe("Duration would run the session 5 h 59 min from now, beyond the maximum");
  });

  it("places a unique-column conflict beside the field", () => {
    const e = formErrors(new ApiError(409, "conflict", "username: already taken"), MAP);
    expect(e.fields.username).toBe("is already taken");
    expect(formErrors(new ApiError(409, "conflict", 'username "mia" is already taken'), MAP).fields.username).toBe("is already taken");
  });

  it("checks a body with the contract before it is sent, with the same words", () => {
    const bad = checkBody(ZCreateServiceBody, { name: "", slug: "x", kind: "web", maxDurationSeconds: Number.NaN });
    expect(bad.ok).toBe(false);
    const e = formErrors(bad.ok ? null : bad.error, MAP);
    expect(e.fields.name).toBe("must not be empty");
    expect(e.fields.maxMinutes).toBe("must be a number");

    const range = checkBody(ZAuditListQuery, { from: "2030-01-01", to: "2020-01-01" });
    expect(formErrors(range.ok ? null : range.error, MAP).fields.to).toBe("must be after From");
  });

  it("leaves other failures as their message", () => {
    expect(formErrors(new ApiError(0, "network", "Cannot reach the server."), MAP)).toEqual({ fields: {}, general: "Cannot reach the server." });
  });
});
