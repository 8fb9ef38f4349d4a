// How often the board's queries refetch by themselves: polling stands in for the live stream
// while it is not connected (first load, reconnecting, offline), and stops while it is.
import { useLiveStatus } from "../live/live-status";

/** The board refreshes itself this often while there is no live stream. */
export const BOARD_POLL_MS = 5_000;

/** `refetchInterval` for board queries: off while the live stream keeps the cache fresh. */
export function useBoardPollInterval(): number | false {
  return useLiveStatus() === "connected" ? false : BOARD_POLL_MS;
}
