// A line on the board for admins: the relay's queue and the public URL, linking to details.
import { Link } from "react-router-dom";
import { useTunnel } from "../api/gateways";
import { useRelayStatus } from "../api/messages";

export function AdminStatus() {
  const relay = useRelayStatus().data;
  const tunnel = useTunnel().data;
  return (
    <div className="admin-status small muted" role="group" aria-label="System status">
      {relay && (
        <Link to="/admin/messages">
          {relay.enabled
            ? `Relay: ${relay.queued} queued, ${relay.failed} failed, ${relay.sent} sent`
            : "Relay off"}
        </Link>
      )}
      {tunnel && (
        <Link to="/admin/tunnel">
          {tunnel.state === "open" && tunnel.url ? `Public URL: ${tunnel.url}` : `Tunnel ${tunnel.state}`}
        </Link>
      )}
    </div>
  );
}
