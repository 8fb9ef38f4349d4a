import { useEffect, useState } from "react";
import { formatCountdown } from "../lib/format";

/** The current time, re-read every `ms` so countdowns tick. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

export function Countdown({ until, label }: { until: string; label?: string }) {
  const now = useNow();
  const left = new Date(until).getTime() - now;
  return (
    <time
      className={left < 5 * 60_000 ? "countdown countdown-soon" : "countdown"}
      dateTime={until}
      data-testid="countdown"
      title={new Date(until).toLocaleString()}
      aria-label={`${label ?? "time left"}: ${formatCountdown(left)}`}
    >
      {left > 0 ? formatCountdown(left) : "expiring…"}
    </time>
  );
}
