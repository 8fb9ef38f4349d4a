// The current time for countdowns and relative times, on the server's clock (lib/server-clock).
// Every component asking for the same interval shares one timer, so a page of a hundred audit rows
// runs one interval, not a hundred.
import { useCallback, useSyncExternalStore } from "react";
import { serverNow } from "../lib/server-clock";

interface Ticker {
  now: number;
  listeners: Set<() => void>;
  timer?: ReturnType<typeof setInterval>;
}

const tickers = new Map<number, Ticker>();

function tickerFor(ms: number): Ticker {
  let t = tickers.get(ms);
  if (!t) {
    t = { now: serverNow(), listeners: new Set() };
    tickers.set(ms, t);
  }
  return t;
}

function subscribe(ms: number, listener: () => void): () => void {
  const t = tickerFor(ms);
  t.listeners.add(listener);
  if (!t.timer) {
    t.now = serverNow();
    t.timer = setInterval(() => {
      t.now = serverNow();
      for (const l of t.listeners) l();
    }, ms);
  }
  return () => {
    t.listeners.delete(listener);
    if (t.listeners.size === 0) {
      clearInterval(t.timer);
      t.timer = undefined;
    }
  };
}

/** The current time, re-read every `ms` so countdowns and relative times move. */
export function useNow(ms = 1000): number {
  // The snapshot is the ticker's last reading (stable between ticks, as React requires); a
  // ticker that restarts reads the clock in `subscribe`, and React re-renders with it.
  // A stable subscribe function: a new one on every render would resubscribe, restart the ticker
  // and re-render forever.
  const sub = useCallback((l: () => void) => subscribe(ms, l), [ms]);
  return useSyncExternalStore(
    sub,
    () => tickerFor(ms).now,
    () => tickerFor(ms).now,
  );
}
