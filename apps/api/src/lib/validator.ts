// Request validation with the contracts' zod schemas, shaped for Fastify as
// fastify-type-provider-zod's own validator shapes it (less its marker symbol, which nothing here
// reads; its `createValidationError` is not exported), minus the Error it builds for every
// refusal. A failed parse there becomes a $ZodError, an Error subclass, and constructing it was
// about 8 % of a 400's CPU in the profile; zod's `_safeParse` takes the class to build, and a plain
// holder of the issues is all a 400 uses (plugins/error-handler.ts).
import type { FastifySchemaCompiler, FastifySchemaValidationError } from "fastify";
import { _safeParse, type $ZodErrorClass, type $ZodIssue, type $ZodType } from "zod/v4/core";

class Issues {
  constructor(readonly issues: $ZodIssue[]) {}
}

const safeParse = _safeParse(Issues as unknown as $ZodErrorClass);

function validationErrorOf(issue: $ZodIssue): FastifySchemaValidationError {
  const { code, path, message, ...params } = issue;
  const at = path.join("/");
  return { keyword: code, instancePath: `/${at}`, schemaPath: `#/${at}/${code}`, message, params };
}

export const validatorCompiler: FastifySchemaCompiler<$ZodType> =
  ({ schema }) =>
  (data) => {
    const result = safeParse(schema, data);
    if (result.success) return { value: result.data };
    return { error: (result.error as unknown as Issues).issues.map(validationErrorOf) };
  };
