// Request validation with the contracts' zod schemas. A failed parse becomes the API's 400 at
// once, naming each field: Fastify passes an Error from a validator straight on, so neither its
// schema-error formatter nor zod's $ZodError (an Error subclass whose construction was about 8 %
// of a 400's CPU) is built.
//
// The schema is run as zod's own `safeParse` runs it (`_zod.run`, synchronously), and each issue is
// finalised as zod does (its message from the schema or the locale): the result object zod wraps
// a failure in (getters that build the error on first read) cost more than the rest of a 400's
// validation.
import type { FastifySchemaCompiler } from "fastify";
import { config, util, type $ZodRawIssue, type $ZodType } from "zod/v4/core";
import type { TFieldIssue } from "@postern/contracts";
import { AppError } from "../errors";

/**
 * The fields one issue names: `context.path.to.field`. A strict object reports its unknown keys
 * in one issue; each becomes a field of its own, so a form can mark every one.
 */
function issueFields(context: string, path: readonly PropertyKey[], message: string, keys?: unknown): TFieldIssue[] {
  const field = path.length === 0 ? context : `${context}.${path.map(String).join(".")}`;
  if (Array.isArray(keys) && keys.length > 0) return keys.map((k) => ({ field: `${field}.${String(k)}`, message: "unknown field" }));
  return [{ field, message }];
}

/** Recent 400s by message: the same bad input again (a script retrying, a form resent) gets the
 * same refusal, whose envelope is then serialised once (lib/refuse.ts). Bounded: messages may
 * name fields a client made up. */
const recent = new Map<string, AppError>();
const MAX_RECENT = 256;

const sameIssues = (a: TFieldIssue[], b: TFieldIssue[]) => a.length === b.length && a.every((d, i) => d.field === b[i]!.field && d.message === b[i]!.message);

/** The 400 for these fields: every field in `details`, and all of them in the message. */
function validationFailed(details: TFieldIssue[]): AppError {
  const message = details.map((d) => `${d.field}: ${d.message}`).join("; ");
  const known = recent.get(message);
  // Two lists of issues can spell one message (a made-up field named "a: b; c"): compared too.
  if (known && sameIssues(known.details as TFieldIssue[], details)) return known;
  if (recent.size >= MAX_RECENT) recent.clear();
  const refusal = new AppError("validation_failed", message, details);
  recent.set(message, refusal);
  return refusal;
}

export const validatorCompiler: FastifySchemaCompiler<$ZodType> = ({ schema, httpPart }) => {
  const context = httpPart ?? "body";
  return (data) => {
    // A new context each time, as zod's `safeParse` makes: no custom error map, no async refinements.
    const ctx = { async: false };
    const result = schema._zod.run({ value: data, issues: [] }, ctx);
    // No schema of the contracts refines asynchronously; one that did would be a bug here, not bad input.
    if (result instanceof Promise) throw new Error(`the ${context} schema is asynchronous`);
    if (result.issues.length === 0) return { value: result.value };
    const details: TFieldIssue[] = [];
    for (const raw of result.issues as $ZodRawIssue[]) {
      const issue = util.finalizeIssue(raw, ctx, config());
      details.push(...issueFields(context, issue.path, issue.message, issue.code === "unrecognized_keys" ? issue.keys : undefined));
    }
    return { error: validationFailed(details) };
  };
};
