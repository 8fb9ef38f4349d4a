import { isApiError } from "../api/client";

/** A failure in words people can act on, with the fields the API named. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const issues = isApiError(error) ? error.fieldIssues : [];
  return (
    <div className="error" role="alert">
      {issues.length > 1 ? (
        <ul>
          {issues.map((i) => (
            <li key={i.field}>
              <code>{i.field.replace(/^body\./, "")}</code>: {i.message}
            </li>
          ))}
        </ul>
      ) : (
        message
      )}
    </div>
  );
}
