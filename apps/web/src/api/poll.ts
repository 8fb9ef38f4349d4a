// How often the board's queries refetch by themselves: polling stands in for the live stream
// while it is not connected (first load, reconnecting, offline), and stops while it is.
import { useLiveStatus } from "../live/live-status";

/** The board refreshes itself this often while there is no live stream. */
export const BOARD_POLL_MS = 5_000;

/** How long a board answer counts as fresh: a page that mounts within it takes the answer as it
 * is (the start-up's early request, api/prefetch.ts), one that mounts later asks again. Well under
 * the poll's interval, which is what keeps the board current without the live stream. */
export const BOARD_FRESH_MS = 2_000;

/** `refetchInterval` for board queries: off while the live stream keeps the cache fresh. */
export function useBoardPollInterval(): number | false {
  return useLiveStatus() === "connected" ? false : BOARD_POLL_MS;
}
