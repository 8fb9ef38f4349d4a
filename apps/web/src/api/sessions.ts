// Access sessions: the board's open sessions, the caller's history, and the one-click actions.
import { useMutation, useQuery, useQueryClient, type QueryFunctionContext } from "@tanstack/react-query";
import { z } from "zod";
import { ZSession, type TStartSessionBody } from "@postern/contracts";
import { api } from "./client";
import { readBoard } from "./board-read";
import { queryKeys } from "./keys";
import { aboutService, aboutUser } from "./live-seq";
import { BOARD_FRESH_MS, useBoardPollInterval } from "./poll";

/** Pending, scheduled and active sessions on the services the caller can see; also asked for at
 * start-up (api/prefetch.ts). */
export const activeSessionsQuery = {
  queryKey: queryKeys.activeSessions,
  queryFn: ({ client }: QueryFunctionContext) =>
    readBoard(client, queryKeys.activeSessions, "/api/sessions?active=true", z.array(ZSession), (s) => [
      aboutService(s.serviceId),
      aboutUser(s.userId),
    ]),
  staleTime: BOARD_FRESH_MS,
};

export function useActiveSessions() {
  return useQuery({ ...activeSessionsQuery, refetchInterval: useBoardPollInterval() });
}

export function useMySessions() {
  return useQuery({
    queryKey: queryKeys.mySessions,
    queryFn: () => api.get("/api/sessions?mine=true", z.array(ZSession)),
    refetchInterval: useBoardPollInterval(),
  });
}

/** Every session change moves the board: holders, counts and the session lists. */
function useRefreshBoard() {
  const qc = useQueryClient();
  return async () => {
    await Promise.all([
      qc.invalidateQueries({ queryKey: ["sessions"] }),
      qc.invalidateQueries({ queryKey: queryKeys.services }),
    ]);
  };
}

export function useStartSession() {
  const refresh = useRefreshBoard();
  return useMutation({
    mutationFn: ({ serviceId, body }: { serviceId: string; body: TStartSessionBody }) =>
      api.post(`/api/services/${encodeURIComponent(serviceId)}/sessions`, ZSession, body),
    onSettled: refresh,
  });
}

export function useExtendSession() {
  const refresh = useRefreshBoard();
  return useMutation({
    mutationFn: ({ sessionId, durationSeconds }: { sessionId: string; durationSeconds: number }) =>
      api.post(`/api/sessions/${encodeURIComponent(sessionId)}/extend`, ZSession, { durationSeconds }),
    onSettled: refresh,
  });
}

export function useEndSession() {
  const refresh = useRefreshBoard();
  return useMutation({
    mutationFn: (sessionId: string) => api.delete(`/api/sessions/${encodeURIComponent(sessionId)}`, ZSession),
    onSettled: refresh,
  });
}

export function useDecideSession() {
  const refresh = useRefreshBoard();
  return useMutation({
    mutationFn: ({ sessionId, approve }: { sessionId: string; approve: boolean }) =>
      api.post(`/api/sessions/${encodeURIComponent(sessionId)}/${approve ? "approve" : "deny"}`, ZSession),
    onSettled: refresh,
  });
}

export function useJoinWaitlist() {
  const refresh = useRefreshBoard();
  return useMutation({
    mutationFn: ({ serviceId, durationSeconds }: { serviceId: string; durationSeconds: number }) =>
      api.post(`/api/services/${encodeURIComponent(serviceId)}/waitlist`, ZSession, { durationSeconds }),
    onSettled: refresh,
  });
}

export function useLeaveWaitlist() {
  const refresh = useRefreshBoard();
  return useMutation({
    mutationFn: (serviceId: string) => api.delete(`/api/services/${encodeURIComponent(serviceId)}/waitlist`, ZSession),
    onSettled: refresh,
  });
}

/** Takes a freed service that was offered to the caller from the waitlist; the clock starts now. */
export function useAcceptOffer() {
  const refresh = useRefreshBoard();
  return useMutation({
    mutationFn: ({ sessionId, durationSeconds }: { sessionId: string; durationSeconds?: number }) =>
      api.post(`/api/sessions/${encodeURIComponent(sessionId)}/accept`, ZSession, { durationSeconds }),
    onSettled: refresh,
  });
}
