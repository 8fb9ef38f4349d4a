// A small badge saying whether the board is live: connected, reconnecting, or offline.
import { useLiveStatus, type LiveStatus } from "./live-status";

const dotColors: Record<LiveStatus, string> = {
  connecting: "#b08900",
  connected: "#1a7f37",
  reconnecting: "#b08900",
  offline: "#8c959f",
};

const labels: Record<LiveStatus, { text: string; title: string }> = {
  connecting: { text: "connecting…", title: "Opening the live connection" },
  connected: { text: "live", title: "The board updates as things happen" },
  reconnecting: { text: "reconnecting…", title: "The live connection dropped; trying again" },
  offline: { text: "offline", title: "No live connection; the board may be out of date" },
};

export function ConnectionState({ className }: { className?: string }) {
  const status = useLiveStatus();
  const label = labels[status];
  return (
    <span
      className={["live-state", `live-state-${status}`, className].filter(Boolean).join(" ")}
      data-live-state={status}
      role="status"
      aria-live="polite"
      title={label.title}
    >
      <span
        aria-hidden="true"
        className="live-state-dot"
        style={{ display: "inline-block", width: 8, height: 8, borderRadius: "50%", marginRight: 6, background: dotColors[status] }}
      />
      {label.text}
    </span>
  );
}
