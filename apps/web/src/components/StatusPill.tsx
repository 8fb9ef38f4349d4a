// A session's, message's or tunnel's state as a coloured pill (colours in styles.css meet 4.5:1
// in both themes).
export function StatusPill({ status, kind = "status" }: { status: string; kind?: "status" | "severity" | "tunnel" }) {
  return <span className={`status ${kind}-${status}`}>{status}</span>;
}
