// Who is logged in, how one can log in, and logging in and out.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { ZAuthProvider, ZLogoutAllResponse, ZLogoutResponse, ZMe, type TLoginBody, type TMe } from "@postern/contracts";
import { api, isApiError } from "./client";
import { queryKeys } from "./keys";
import { mentionsDisabled, noteLoginEnded } from "./login-ended";

/** The caller, or null when nobody is logged in (401). */
export function useMe() {
  const qc = useQueryClient();
  return useQuery({
    queryKey: queryKeys.me,
    queryFn: async (): Promise<TMe | null> => {
      try {
        return await api.get("/api/me", ZMe);
      } catch (err) {
        if (isApiError(err, 401)) {
          if (qc.getQueryData(queryKeys.me)) noteLoginEnded(mentionsDisabled(err.message) ? "disabled" : "ended");
          return null;
        }
        throw err;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
}

export function useIsAdmin(): boolean {
  return useMe().data?.permissions.includes("admin") ?? false;
}

export function useProviders() {
  return useQuery({
    queryKey: queryKeys.providers,
    queryFn: () => api.get("/api/auth/providers", z.array(ZAuthProvider)),
    staleTime: Infinity,
  });
}

export function useLogin() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: TLoginBody) => api.post("/api/auth/login", ZMe, body),
    onSuccess: (me) => {
      qc.clear();
      qc.setQueryData(queryKeys.me, me);
    },
  });
}

export function useLogout() {
  const qc = useQueryClient();
  // Drop everything the previous user could see before the login page renders.
  const forget = () => {
    qc.clear();
    qc.setQueryData(queryKeys.me, null);
  };
  return useMutation({
    mutationFn: () => api.post("/api/auth/logout", ZLogoutResponse),
    onSuccess: (res) => {
      forget();
      // An OIDC login also ends at its provider, which sends the browser back to /login.
      if (res.logoutUrl) window.location.assign(res.logoutUrl);
    },
    onError: (err) => {
      // Already logged out (401): nothing left to end. Any other failure left the login standing
      // (its cookie still works after a reload): the page stays, and says so.
      if (isApiError(err, 401)) forget();
    },
  });
}

/** Ends every login of this user (other browsers, lost laptops), this one included. */
export function useLogoutEverywhere() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api.post("/api/auth/logout-all", ZLogoutAllResponse),
    onSettled: () => {
      qc.clear();
      qc.setQueryData(queryKeys.me, null);
    },
  });
}

/** Where the browser goes to log in with an OIDC provider, coming back to `returnTo`. */
export function oidcStartUrl(provider: { id: string; startUrl?: string }, returnTo: string): string {
  const base = provider.startUrl ?? `/api/auth/oidc/${encodeURIComponent(provider.id)}/start`;
  const sep = base.includes("?") ? "&" : "?";
  return `${base}${sep}returnTo=${encodeURIComponent(returnTo)}`;
}
