// The stream's connection state, shared between the one hook that runs the socket and any
// number of <ConnectionState /> badges.
import { useSyncExternalStore } from "react";

export type LiveStatus = "connecting" | "connected" | "reconnecting" | "offline";

let status: LiveStatus = "connecting";
const listeners = new Set<() => void>();

export function setLiveStatus(next: LiveStatus): void {
  if (next === status) return;
  status = next;
  for (const l of listeners) l();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The live stream's state; "connected" means the board is up to date without polling. */
export function useLiveStatus(): LiveStatus {
  return useSyncExternalStore(subscribe, () => status, () => status);
}
