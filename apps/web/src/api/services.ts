// Services: the board's list (polled until the live stream keeps it fresh) and admin changes.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { ZService, type TCreateServiceBody, type TUpdateServiceBody } from "@postern/contracts";
import { api } from "./client";
import { queryKeys } from "./keys";
import { useBoardPollInterval } from "./poll";

export function useServices() {
  return useQuery({
    queryKey: queryKeys.services,
    queryFn: () => api.get("/api/services", z.array(ZService)),
    refetchInterval: useBoardPollInterval(),
  });
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
