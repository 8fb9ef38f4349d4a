// A moment as Postern shows it everywhere: relative, with the exact time on hover (lib/time.ts).
import { formatExact, formatRelative } from "../lib/time";
import { useNow } from "./use-now";

export function Time({ value, seconds, exact }: { value: string | undefined; seconds?: boolean; exact?: boolean }) {
  const now = useNow(30_000);
  if (!value) return <span className="muted">—</span>;
  const precise = formatExact(value, { seconds });
  const rel = formatRelative(value, now);
  // The audit trail reads as a log: the exact time in view, the relative one on hover.
  return (
    <time dateTime={value} title={exact ? rel : precise}>
      {exact ? precise : rel}
    </time>
  );
}
