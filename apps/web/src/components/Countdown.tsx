import { formatCountdown, formatExact } from "../lib/time";
import { useNow } from "./use-now";

export function Countdown({ until, label }: { until: string; label?: string }) {
  const now = useNow();
  const left = new Date(until).getTime() - now;
  return (
    <time
      className={left < 5 * 60_000 ? "countdown countdown-soon" : "countdown"}
      dateTime={until}
      data-testid="countdown"
      title={`until ${formatExact(until)}`}
      aria-label={`${label ?? "time left"}: ${formatCountdown(left)}`}
    >
      {left > 0 ? formatCountdown(left) : "expiring…"}
    </time>
  );
}
