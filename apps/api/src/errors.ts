// One error type for the whole API and the table that turns its code into an HTTP status.
import { errorStatus, type TErrorCode, type TFieldIssue } from "@postern/contracts";

// An AppError is an answer we chose to give, not a bug: where it was made says nothing its code
// does not. It is an Error to everything that asks (`instanceof Error`: Fastify's reply, promise
// rejections, pino) without calling Error's constructor, which even with no stack frames to
// capture cost about 1 µs, 40 times the rest of building one, on every refused request.
export class AppError implements Error {
  declare name: string;
  declare stack?: string;
  readonly statusCode: number;
  message: string;
  constructor(
    readonly code: TErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    this.message = message;
    this.statusCode = errorStatus[code];
  }
}
Object.setPrototypeOf(AppError.prototype, Error.prototype);
AppError.prototype.name = "AppError";

export const notFound = (what: string) => new AppError("not_found", `${what} not found`);
export const forbidden = (message = "you are not allowed to do this") => new AppError("forbidden", message);
export const unauthorized = (message = "log in first") => new AppError("unauthorized", message);

/** 400s by field and message: the same bad input, sent again and again (a script asking for
 * longer than the service allows), gets the same refusal, whose envelope is then made once
 * (lib/refuse.ts). Bounded, as messages may carry numbers. */
const badFields = new Map<string, AppError>();
const MAX_BAD_FIELDS = 256;

/** A 400 naming one field, shaped like a validation error. */
export function badField(field: string, message: string): AppError {
  const key = `${field}\n${message}`;
  let err = badFields.get(key);
  if (!err) {
    const details: TFieldIssue[] = [{ field, message }];
    err = new AppError("validation_failed", `${field}: ${message}`, details);
    if (badFields.size >= MAX_BAD_FIELDS) badFields.clear();
    badFields.set(key, err);
  }
  return err;
}
