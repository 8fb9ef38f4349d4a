// Where the API lives: `/api/` and the older tools' compatibility prefixes. Everything else a
// browser can reach is the SPA and its files. Authorisation defaults, request logging and the
// security headers all decide by this one list.
export const API_PREFIXES = ["/api/", "/conn/", "/session/", "/service/"] as const;

export function isApiPath(path: string): boolean {
  return API_PREFIXES.some((p) => path.startsWith(p));
}
