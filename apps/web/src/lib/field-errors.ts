// Turns the API's field problems (`body.defaultDurationSeconds: Too big: expected number to be
// <=31622400`) into the form's own words: the field's label, the form's unit (minutes, not
// seconds), shown beside the field. The same runs on the contracts' zod issues before a form is
// sent, so a mistake reads the same whether the browser or the server caught it.
import type { z } from "zod";
import type { TFieldIssue } from "@postern/contracts";
import { ApiError, isApiError } from "../api/client";
import { formatDuration } from "./time";

export interface FieldSpec<K extends string> {
  /** The form's field the problem belongs beside. */
  field: K;
  /** The field's label as the form shows it. */
  label: string;
  /** The API takes seconds where the form takes minutes. */
  unit?: "minutes";
}

/** API field path (without `body.`/`querystring.`) → the form's field. */
export type FieldMap<K extends string> = Record<string, FieldSpec<K>>;

export interface FormErrors<K extends string> {
  fields: Partial<Record<K, string>>;
  /** What belongs to no field, in words; null when everything was placed beside a field. */
  general: string | null;
}

const CONTEXTS = /^(body|querystring|params|headers)\.?/;

function specFor<K extends string>(path: string, map: FieldMap<K>): FieldSpec<K> | undefined {
  const stripped = path.replace(CONTEXTS, "");
  // A problem with the whole body (a CSV import) is named by the context itself.
  const parts = stripped ? stripped.split(".").filter(Boolean) : [path];
  for (let n = parts.length; n > 0; n--) {
    const spec = map[parts.slice(0, n).join(".")];
    if (spec) return spec;
  }
  return undefined;
}

/** `defaultDurationSeconds` → `default duration seconds`, for fields no form names. */
function words(path: string): string {
  const last = path.replace(CONTEXTS, "").split(".").filter((p) => !/^\d+$/.test(p)).pop() ?? path;
  return last.replace(/Seconds$/, "").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

const plural = (n: number, what: string) => `${n.toLocaleString()} ${what}${n === 1 ? "" : "s"}`;

function amount(n: number, unit: FieldSpec<string>["unit"]): string {
  if (unit === "minutes") {
    const minutes = Math.floor(n / 60);
    return n >= 86400 ? `${plural(minutes, "minute")} (${formatDuration(n)})` : plural(minutes, "minute");
  }
  return n.toLocaleString();
}

/** One message in people's words; other fields it mentions are named by their labels. */
export function humanMessage<K extends string>(message: string, spec: FieldSpec<K> | undefined, map: FieldMap<K>): string {
  const unit = spec?.unit;
  let m = message.trim();
  const rules: [RegExp, (...g: string[]) => string][] = [
    [/^Too big: expected number to be <=?\s*(-?\d+(?:\.\d+)?)$/i, (n) => `must be at most ${amount(Number(n), unit)}`],
    [/^Too small: expected number to be >=?\s*(-?\d+(?:\.\d+)?)$/i, (n) => (Number(n) <= 1 ? "must be at least 1" : `must be at least ${amount(Number(n), unit)}`)],
    [/^Too small: expected number to be >0$/i, () => "must be more than 0"],
    [/^Too big: expected string to have <=?\s*(\d+) characters?$/i, (n) => `must be at most ${plural(Number(n), "character")}`],
    [/^Too small: expected string to have >=?\s*1 characters?$/i, () => "must not be empty"],
    [/^Too small: expected string to have >=?\s*(\d+) characters?$/i, (n) => `must be at least ${plural(Number(n), "character")}`],
    [/^Too small: expected array to have >=?\s*(\d+) items?$/i, (n) => (n === "1" ? "choose at least one" : `choose at least ${n}`)],
    [/^Invalid input: expected (number|int), received (NaN|string|undefined)$/i, () => "must be a number"],
    [/^Invalid input: expected int, received number$/i, () => "must be a whole number"],
    [/^Invalid input: expected \w+, received undefined$/i, () => "is required"],
    [/^Invalid email address$/i, () => "must be an e-mail address, like name@example.com"],
    [/^Invalid URL$/i, () => "must be a full URL, like https://files.example.com"],
    [/^Invalid option: expected one of (.+)$/i, (opts) => `must be one of ${opts.replace(/"/g, "").split("|").join(", ")}`],
  ];
  for (const [re, to] of rules) {
    const match = re.exec(m);
    if (match) {
      m = to(...match.slice(1));
      break;
    }
  }
  // "would run the session 21598 seconds from now" → "… 5 h 59 min from now".
  m = m.replace(/\b(\d+) seconds\b/g, (_, n: string) => formatDuration(Number(n)));
  // Other fields named in the message ("must not exceed maxDurationSeconds", "must be after
  // from"). A plain word like "from" is a field's name only as the message's last word.
  for (const [path, other] of Object.entries(map)) {
    const escaped = path.replace(/\./g, "\\.");
    const identifier = /[A-Z.]/.test(path);
    m = m.replace(new RegExp(identifier ? `\\b${escaped}\\b` : `\\b${escaped}$`, "g"), other.label);
  }
  return m;
}

/**
 * A 409 names its field in the message only: `username: already taken` (a unique column),
 * `username "mia" is already taken`, `body.gateway.publicPort: tcp port 443 … already forwards …`.
 */
function conflictIssue(err: ApiError): TFieldIssue | null {
  if (err.code !== "conflict") return null;
  const prefixed = /^([A-Za-z][\w.]*): (.+)$/.exec(err.message);
  if (prefixed) return { field: prefixed[1] ?? "", message: prefixed[2] === "already taken" ? "is already taken" : (prefixed[2] ?? "") };
  const quoted = /^([a-z][A-Za-z]*) "[^"]*" (.+)$/.exec(err.message);
  return quoted ? { field: quoted[1] ?? "", message: quoted[2] ?? "" } : null;
}

/** Splits an error into messages beside the form's fields and what is left for the form's box. */
export function formErrors<K extends string>(error: unknown, map: FieldMap<K>): FormErrors<K> {
  if (!error) return { fields: {}, general: null };
  if (!isApiError(error)) return { fields: {}, general: error instanceof Error ? error.message : String(error) };
  const issues = error.fieldIssues.length > 0 ? error.fieldIssues : [conflictIssue(error)].filter((i) => i !== null);
  if (issues.length === 0) return { fields: {}, general: error.message };
  const fields: Partial<Record<K, string>> = {};
  const rest: string[] = [];
  for (const issue of issues) {
    const spec = specFor(issue.field, map);
    const text = humanMessage(issue.message, spec, map);
    if (spec) {
      if (!fields[spec.field]) fields[spec.field] = text;
    } else {
      rest.push(issue.field.replace(CONTEXTS, "") ? `${capitalise(words(issue.field))} ${text}` : capitalise(text));
    }
  }
  return { fields, general: rest.length > 0 ? rest.join(". ") : null };
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The contracts' zod issues as the API would name them, so `formErrors` handles both alike. */
export function validationError(issues: z.core.$ZodIssue[]): ApiError {
  const details: TFieldIssue[] = issues.map((i) => ({ field: i.path.map(String).join("."), message: i.message }));
  return new ApiError(400, "validation_failed", details.map((d) => `${d.field}: ${d.message}`).join("; "), details);
}

/** Parses a form's body with its contract: the body, or the problems as an error. */
export function checkBody<S extends z.ZodType>(schema: S, body: unknown): { ok: true; body: z.infer<S> } | { ok: false; error: ApiError } {
  const parsed = schema.safeParse(body);
  return parsed.success ? { ok: true, body: parsed.data } : { ok: false, error: validationError(parsed.error.issues) };
}
