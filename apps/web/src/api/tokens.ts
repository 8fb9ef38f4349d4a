// API tokens: list, create (the secret comes back once), revoke.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { ZCreatedToken, ZPage, ZToken, type TCreateTokenBody, type TToken } from "@postern/contracts";
import { api, getOptional } from "./client";
import { queryKeys } from "./keys";

// Lists are plain arrays by the SPEC; a paged answer is accepted too so the page keeps working
// whichever way the tokens route settles.
const ZTokenList = z.union([z.array(ZToken), ZPage(ZToken)]).transform((v): TToken[] => (Array.isArray(v) ? v : v.items));

/** The tokens, or null while the tokens API is not there. */
export function useTokens() {
  return useQuery({ queryKey: queryKeys.tokens, queryFn: () => getOptional("/api/tokens", ZTokenList) });
}

export function useCreateToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: TCreateTokenBody) => api.post("/api/tokens", ZCreatedToken, body),
    onSuccess: () => qc.invalidateQueries({ queryKey: queryKeys.tokens }),
  });
}

export function useRevokeToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.delete(`/api/tokens/${encodeURIComponent(id)}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: queryKeys.tokens }),
  });
}
