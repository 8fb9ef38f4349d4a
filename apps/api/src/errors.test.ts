import { describe, expect, it } from "vitest";
import { AppError, badField } from "./errors";
import { RequesterLostAccess } from "./modules/sessions/sessions.service";

describe("AppError", () => {
  it("is an Error to everything that asks, without a stack", () => {
    const err = badField("body.durationSeconds", "expected a number");
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(AppError);
    expect(err.name).toBe("AppError");
    expect(err.message).toBe("body.durationSeconds: expected a number");
    expect(err.statusCode).toBe(400);
    expect(String(err)).toBe("AppError: body.durationSeconds: expected a number");
    expect(Object.keys(err)).not.toContain("stack");
  });

  it("is what a rejected promise and a subclass carry", async () => {
    await expect(Promise.reject(new AppError("conflict", "taken"))).rejects.toThrow("taken");
    const lost = new RequesterLostAccess({} as never);
    expect(lost).toBeInstanceOf(AppError);
    expect(lost).toBeInstanceOf(Error);
    expect(lost.statusCode).toBe(409);
  });
});
