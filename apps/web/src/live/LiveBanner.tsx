// A clear line under the header while the live connection is down: the board may be behind, it
// refreshes itself every few seconds meanwhile. Short blips (a reconnect within seconds) stay quiet.
import { useEffect, useState } from "react";
import { BOARD_POLL_MS } from "../api/poll";
import { useLiveStatus } from "./live-status";

const GRACE_MS = 4000;

export function LiveBanner() {
  const status = useLiveStatus();
  const down = status === "reconnecting" || status === "offline";
  const [show, setShow] = useState(false);
  useEffect(() => {
    if (!down) {
      setShow(false);
      return;
    }
    const t = setTimeout(() => setShow(true), GRACE_MS);
    return () => clearTimeout(t);
  }, [down]);
  if (!show || !down) return null;
  return (
    <div className="live-banner" role="status" data-testid="live-banner">
      <strong>Live updates are off.</strong>{" "}
      {status === "offline" ? "You seem to be offline." : "Reconnecting…"} The board refreshes every {BOARD_POLL_MS / 1000} s
      until the connection is back.
    </div>
  );
}
