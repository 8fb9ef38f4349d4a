// fast-check arbitraries from the JSON Schemas of the OpenAPI document (which the contracts
// generate), mixed with hostile values: mostly values a route accepts, so requests get past
// validation into the services and the database, and often values no route should accept.
import fc from "fast-check";

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
};

/** Where generated ids come from: the ids that exist right now, read when a value is drawn. */
export interface IdSource {
  ids(): string[];
}

const NUL = "\u0000";
const far = ["+275760-09-13T00:00:00.000Z", "9999-12-31T23:59:59Z", "9999-12-31", "0000-01-01T00:00:00Z", "1970-01-01", "-000001-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-13-01"];

function deep(levels: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < levels; i += 1) v = i % 2 ? { a: v } : [v];
  return v;
}

/** Strings a careless server would choke on. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(NUL, `a${NUL}b`, "\ud800", "x\udc00y", "\udfff\ud800", "😀".slice(0, 1), "", " ", "\r\n", "%00", "%", "../../etc/passwd", "<script>x</script>", "=cmd|' /C calc'!A0", "null", "true", "1e400", "-0", "NaN", "__proto__", "constructor", "‮rtl", "\uFEFF", "a".repeat(65_536), "é".repeat(40_000), `${NUL}`.repeat(1000)),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(NUL, "\ud800", "\udc00", "a", "\n", "😀"), maxLength: 12 }),
  fc.constantFrom(...far),
);

/** Any hostile value: strings, far dates, huge numbers, wrong types, deep nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(1e308, -1e308, 2 ** 64, Number.MAX_SAFE_INTEGER + 2, -1, 0, 0.5, 1e-320, 366 * 24 * 3600 + 1, 2 ** 31, -(2 ** 63)) },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false, {}, [], [null], { constructor: { prototype: {} } }) },
  { weight: 1, arbitrary: fc.constantFrom(deep(64), deep(2000), deep(20, "\u0000")) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) },
);

function mixHostile<T>(valid: fc.Arbitrary<T>, hostility: number): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 100 - hostility, arbitrary: valid }, { weight: hostility, arbitrary: hostileValue });
}

const isIdKey = (key: string | undefined) => key !== undefined && /(^id$|Id$|Ids$)/.test(key);

function idArbitrary(source: IdSource): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.nat().map((n) => { const ids = source.ids(); return ids.length ? ids[n % ids.length]! : "none"; }) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) },
    { weight: 1, arbitrary: fc.constantFrom("c" + "x".repeat(24), "0", "-1", "a".repeat(64), "a".repeat(65)) },
  );
}

function stringFor(schema: JsonSchema, key: string | undefined, source: IdSource): fc.Arbitrary<string> {
  if (isIdKey(key)) return idArbitrary(source);
  switch (schema.format) {
    case "date-time":
      return fc.oneof(
        fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString()),
        fc.integer({ min: -3600, max: 40 * 86400 }).map((s) => new Date(Date.now() + s * 1000).toISOString()),
        fc.constantFrom(...far),
      );
    case "date":
      return fc.date({ min: new Date("1990-01-01T00:00:00Z"), max: new Date("9999-12-31T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    case "email":
      return fc.oneof(fc.emailAddress(), fc.constant("a@b.c"));
    case "uri":
    case "url":
      return fc.oneof(fc.webUrl(), fc.constantFrom("javascript:alert(1)", "data:text/html,x", "http://", "ftp://x.y"));
    case "ipv4":
      return fc.ipV4();
    case "ipv6":
      return fc.ipV6();
  }
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= (schema.maxLength ?? 512));
    } catch {
      // A pattern fast-check cannot invert: plain strings.
    }
  }
  return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 64, 300) });
}

function numberFor(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1000);
  const max = Math.min(schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : 1e6), Number.MAX_SAFE_INTEGER);
  const lo = Math.max(Math.ceil(min), Number.MIN_SAFE_INTEGER);
  const hi = Math.max(lo, Math.floor(max));
  const inRange = integer ? fc.integer({ min: lo, max: hi }) : fc.double({ min: lo, max: hi, noNaN: true });
  // Small values matter most (durations, limits): bias towards them.
  return fc.oneof(inRange, fc.integer({ min: Math.max(lo, 0), max: Math.min(hi, 7200) }), fc.constantFrom(lo, hi));
}

export interface GenOptions {
  source: IdSource;
  /** Percent of values replaced by hostile ones. */
  hostility: number;
  key?: string;
  depth?: number;
}

/** An arbitrary of values for `schema`: valid ones, with hostile ones mixed in. */
export function arbitraryOf(schema: JsonSchema, options: GenOptions): fc.Arbitrary<unknown> {
  const depth = options.depth ?? 0;
  const valid = validArbitrary(schema, { ...options, depth });
  return depth === 0 ? valid : mixHostile(valid, options.hostility);
}

function validArbitrary(schema: JsonSchema, options: GenOptions): fc.Arbitrary<unknown> {
  const next = (s: JsonSchema, key?: string) => arbitraryOf(s, { ...options, key, depth: (options.depth ?? 0) + 1 });
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => validArbitrary(s, options)));
  if (schema.allOf?.length) return validArbitrary(Object.assign({}, ...schema.allOf) as JsonSchema, options);
  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (types.length > 1) return fc.oneof(...types.map((type) => validArbitrary({ ...schema, type }, options)));
  switch (types[0]) {
    case "string":
      return stringFor(schema, options.key, options.source);
    case "integer":
      return numberFor(schema, true);
    case "number":
      return numberFor(schema, false);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(next(schema.items ?? {}, options.key), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case "object": {
      const props = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const record = Object.fromEntries(Object.entries(props).map(([k, s]) => [k, next(s, k)]));
      const base = fc.record(record, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) });
      // Now and then a key no contract knows, or a required one missing.
      return fc.oneof(
        { weight: 8, arbitrary: base },
        { weight: 1, arbitrary: fc.tuple(base, fc.constantFrom("extra", "__proto__", "constructor", "a\u0000"), hostileValue).map(([o, k, v]) => ({ ...(o as object), [k]: v })) },
        { weight: 1, arbitrary: fc.record(record, { requiredKeys: [] }) },
      );
    }
    default:
      return fc.anything({ maxDepth: 2 });
  }
}
