// The board's data asked for together with the caller, not after: RequireAuth shows the board only
// once /api/me has answered, so the board's own queries would leave a round trip later (150 ms and
// more from a phone through the tunnel). Someone not logged in gets 401s here, which the query
// cache's error handler (main.tsx) takes as /api/me's own answer: the login page. Logging in
// clears the cache, so no refusal from before is shown afterwards.
import type { QueryClient } from "@tanstack/react-query";
import { servicesQuery } from "./services";
import { activeSessionsQuery } from "./sessions";

export function prefetchBoard(qc: QueryClient, pathname: string): void {
  if (pathname !== "/") return;
  void qc.prefetchQuery(servicesQuery);
  void qc.prefetchQuery(activeSessionsQuery);
}
