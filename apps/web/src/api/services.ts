// Services: the board's list (polled until the live stream keeps it fresh) and admin changes.
import { useMutation, useQuery, useQueryClient, type QueryFunctionContext } from "@tanstack/react-query";
import { z } from "zod";
import { ZImportResult, ZService, type TCreateServiceBody, type TServiceKind, type TUpdateServiceBody } from "@postern/contracts";
import { api } from "./client";
import { readBoard } from "./board-read";
import { queryKeys } from "./keys";
import { aboutAgent, aboutService, aboutUser } from "./live-seq";
import { BOARD_FRESH_MS, useBoardPollInterval } from "./poll";

/** The board's services: the hook's query, also asked for at start-up (api/prefetch.ts). */
export const servicesQuery = {
  queryKey: queryKeys.services,
  queryFn: ({ client }: QueryFunctionContext) =>
    readBoard(client, queryKeys.services, "/api/services", z.array(ZService), (s) => [
      aboutService(s.id),
      ...(s.holder ? [aboutUser(s.holder.id)] : []),
      ...(s.gateway?.agentId ? [aboutAgent(s.gateway.agentId)] : []),
    ]),
  staleTime: BOARD_FRESH_MS,
};

export function useServices() {
  return useQuery({ ...servicesQuery, refetchInterval: useBoardPollInterval() });
}

function useInvalidateServices() {
  const qc = useQueryClient();
  return () => qc.invalidateQueries({ queryKey: queryKeys.services });
}

export function useCreateService() {
  const invalidate = useInvalidateServices();
  return useMutation({
    mutationFn: (body: TCreateServiceBody) => api.post("/api/services", ZService, body),
    onSuccess: invalidate,
  });
}

export function useUpdateService() {
  const invalidate = useInvalidateServices();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: TUpdateServiceBody }) =>
      api.patch(`/api/services/${encodeURIComponent(id)}`, ZService, body),
    onSuccess: invalidate,
  });
}

export function useDeleteService() {
  const invalidate = useInvalidateServices();
  return useMutation({
    mutationFn: (id: string) => api.delete(`/api/services/${encodeURIComponent(id)}`),
    onSuccess: invalidate,
  });
}

export interface ImportOptions {
  kind?: TServiceKind;
  exclusive?: boolean;
  maxSeconds?: number;
  defaultSeconds?: number;
  groupIds?: string[];
}

/** `main;sub` lines, one service each; the options apply to every created service. */
export function useImportServices() {
  const invalidate = useInvalidateServices();
  return useMutation({
    mutationFn: ({ csv, options }: { csv: string; options: ImportOptions }) => {
      const qs = new URLSearchParams();
      if (options.kind) qs.set("kind", options.kind);
      if (options.exclusive !== undefined) qs.set("exclusive", String(options.exclusive));
      if (options.maxSeconds) qs.set("maxSeconds", String(options.maxSeconds));
      if (options.defaultSeconds) qs.set("defaultSeconds", String(options.defaultSeconds));
      for (const id of options.groupIds ?? []) qs.append("groupId", id);
      const suffix = qs.toString() ? `?${qs}` : "";
      return api.postText(`/api/services/import${suffix}`, ZImportResult, csv, "text/csv");
    },
    onSuccess: invalidate,
  });
}
