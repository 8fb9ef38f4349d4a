// A read of the board's services or open sessions that never takes the cache back in time: when
// the live stream has applied events to the cache since the read began (an instance that could not
// catch up with them answered), the cache stays as it is for what those events spoke of, and the
// read is taken for the rest: a service shared with this page just now has its sessions only from
// the read, whatever else moved on the board meanwhile. The read's own seq still counts for
// resuming the stream (api/live-seq.ts).
import type { QueryClient, QueryKey } from "@tanstack/react-query";
import type { z } from "zod";
import { api } from "./client";
import { readBehindStream, spokenSinceRead } from "./live-seq";

/** `about` names the services, users and agents an item belongs to (aboutService…); without
 * it, a read behind the stream gives way to the cache entirely. */
export async function readBoard<T>(
  qc: QueryClient,
  key: QueryKey,
  path: string,
  schema: z.ZodType<T[]>,
  about?: (item: T) => string[],
): Promise<T[]> {
  const data = await api.get(path, schema);
  const cached = qc.getQueryData<T[]>(key);
  if (cached === undefined || !readBehindStream(path)) return data;
  if (!about) return cached;
  const spoken = (item: T) => spokenSinceRead(path, about(item));
  return [...cached.filter(spoken), ...data.filter((item) => !spoken(item))];
}
