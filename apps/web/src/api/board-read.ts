// A read of the board's services or open sessions that never takes the cache back in time: when
// the live stream has applied events to the cache since the read began (an instance that could not
// catch up with them answered), the cache stays as it is. The read's own seq still counts for
// resuming the stream (api/live-seq.ts).
import type { QueryClient, QueryKey } from "@tanstack/react-query";
import type { z } from "zod";
import { api } from "./client";
import { readBehindStream } from "./live-seq";

export async function readBoard<S extends z.ZodType>(qc: QueryClient, key: QueryKey, path: string, schema: S): Promise<z.infer<S>> {
  const data = await api.get(path, schema);
  const cached = qc.getQueryData<z.infer<S>>(key);
  return cached !== undefined && readBehindStream(path) ? cached : data;
}
