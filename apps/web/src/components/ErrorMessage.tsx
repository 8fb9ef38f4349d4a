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
