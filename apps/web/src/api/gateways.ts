// Gateways (agents) and the public tunnel. Their routes are being built alongside the SPA: a
// missing route (404) reads as null, which the pages show as "not available".
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { ZAgent, ZTunnel } from "@postern/contracts";
import { api, getOptional } from "./client";
import { queryKeys } from "./keys";

/** `poll`: refresh every 10 s (the gateways page); off where only the names are needed. */
export function useAgents(enabled = true, poll = true) {
  return useQuery({
    queryKey: queryKeys.agents,
    queryFn: () => getOptional("/api/agents", z.array(ZAgent)),
    refetchInterval: poll ? 10_000 : false,
    enabled,
  });
}

export function useTunnel() {
  return useQuery({ queryKey: queryKeys.tunnel, queryFn: () => getOptional("/api/tunnel", ZTunnel), refetchInterval: 10_000 });
}

export function useTunnelAction() {
  const qc = useQueryClient();
  return useMutation({
    // The answer is not relied on: the state is re-read, since opening may still be under way.
    mutationFn: (action: "open" | "close") => api.post(`/api/tunnel/${action}`, z.unknown()),
    onSettled: () => qc.invalidateQueries({ queryKey: queryKeys.tunnel }),
  });
}
