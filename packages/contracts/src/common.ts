import { z } from "zod";

/** An opaque identifier (cuid). */
export const ZId = z.string().min(1).max(64);

/** An ISO-8601 timestamp as sent over the wire. */
export const ZTimestamp = z.iso.datetime({ offset: true });

/** Route parameters for `/:id` routes. */
export const ZIdParams = z.object({ id: ZId });
export type TIdParams = z.infer<typeof ZIdParams>;

/** A page of results with an opaque cursor for the next page (absent on the last page). */
export function ZPage<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().optional() });
}
