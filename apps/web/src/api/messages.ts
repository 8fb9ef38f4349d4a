// Relay messages (admin): newest first, a page at a time, and the relay's state.
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ZMessagePage, ZRelayStatus } from "@postern/contracts";
import { api, query } from "./client";
import { queryKeys } from "./keys";

export function useMessages() {
  return useInfiniteQuery({
    queryKey: queryKeys.messages,
    queryFn: ({ pageParam }) => api.get(`/api/messages${query({ limit: "50", cursor: pageParam })}`, ZMessagePage),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor,
    refetchInterval: 15_000,
  });
}

export function useRelayStatus(enabled = true) {
  return useQuery({
    queryKey: queryKeys.relayStatus,
    queryFn: () => api.get("/api/messages/status", ZRelayStatus),
    refetchInterval: 15_000,
    enabled,
  });
}
