// The live board on the browser side: call useLiveUpdates() once in the logged-in app shell,
// render <ConnectionState /> where the user should see whether the board is live.
export { useLiveUpdates, liveUrl, type LiveOptions } from "./use-live-updates";
export { ConnectionState } from "./ConnectionState";
export { LiveBanner } from "./LiveBanner";
export { usePersonalNotices, useOfferAttention } from "./use-personal-notices";
export { useLiveStatus, type LiveStatus } from "./live-status";
export { applyEvent, applySnapshot } from "./apply-live";
