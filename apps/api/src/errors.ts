// One error type for the whole API and the table that turns its code into an HTTP status.
import { errorStatus, type TErrorCode, type TFieldIssue } from "@postern/contracts";

export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: TErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    // An AppError is an answer we chose to give, not a bug: where it was thrown says nothing its
    // code does not, and capturing the stack cost more than the rest of a refused request.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.statusCode = errorStatus[code];
  }
}

export const notFound = (what: string) => new AppError("not_found", `${what} not found`);
export const forbidden = (message = "you are not allowed to do this") => new AppError("forbidden", message);
export const unauthorized = (message = "log in first") => new AppError("unauthorized", message);

/** A 400 naming one field, shaped like a validation error. */
export function badField(field: string, message: string): AppError {
  const details: TFieldIssue[] = [{ field, message }];
  return new AppError("validation_failed", `${field}: ${message}`, details);
}
