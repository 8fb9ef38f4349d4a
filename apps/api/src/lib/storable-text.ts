// Text the server itself takes from a request outside any schema (a User-Agent header, say) and
// keeps: characters no database stores are replaced, so they cannot fail the write.
// With the `u` flag a surrogate class matches only surrogates that are not part of a pair.
const LONE_SURROGATES = /[\uD800-\uDFFF]/gu;

export function storableText(value: string): string;
export function storableText(value: string | undefined): string | undefined;
export function storableText(value: string | undefined): string | undefined {
  return value?.replaceAll("\u0000", "\uFFFD").replace(LONE_SURROGATES, "\uFFFD");
}
