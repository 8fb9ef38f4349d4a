import { formErrors } from "../lib/field-errors";

/**
 * A failure in words people can act on. Forms place field problems beside their fields (see
 * Field and formErrors) and pass what is left here; other callers pass the error itself.
 */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const text = typeof error === "string" ? error : formErrors(error, {}).general;
  if (!text) return null;
  return (
    <div className="error" role="alert">
      {text}
    </div>
  );
}

/**
 * A background refresh that failed while the page still shows what it read before (a restart, a
 * poll while the live stream is down): a quiet line instead of the whole page, so the page and
 * whatever was typed on it stay. A status region that stays in place, announced when it fills and
 * not again on every failed poll. `error`: the failed refresh's, or null while all is well.
 */
export function RefreshFailed({ error }: { error: unknown }) {
  const text = error ? (typeof error === "string" ? error : formErrors(error, {}).general) : "";
  return (
    <div role="status" className="refresh-failed-slot">
      {error ? (
        <p className="notice-box small" data-testid="refresh-failed">
          Could not refresh{text ? ` (${text.replace(/\.$/, "")})` : ""}: what is shown may be out of date.
        </p>
      ) : null}
    </div>
  );
}
