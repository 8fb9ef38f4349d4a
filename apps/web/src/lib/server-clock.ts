// The server's clock, as this page can tell it. Sessions end at the server's time: a countdown or
// the longest extension worked out on a laptop whose clock runs ten minutes fast says "expiring…"
// with ten minutes left and offers extensions the server refuses. Every answer's Date header says
// the server's time to the second; the offset to this clock is taken from those, and only when it
// is beyond what the header's whole seconds and the round trip can blur.

/** Offsets within this are one clock read to the second: treated as none. */
const BLUR_MS = 1500;
/** The offsets of the last few answers; their median stands (one slow answer does not move it). */
const SAMPLES = 5;

const samples: number[] = [];
let offsetMs = 0;

/** Notes one answer: its Date header, and this clock when the request left and the answer came. */
export function noteServerDate(dateHeader: string | null, sentAt: number, receivedAt: number): void {
  const at = dateHeader ? Date.parse(dateHeader) : NaN;
  if (!Number.isFinite(at)) return;
  // The header truncates to the second: the server's time was within [at, at + 1 s).
  samples.push(at + 500 - (sentAt + receivedAt) / 2);
  if (samples.length > SAMPLES) samples.shift();
  const median = [...samples].sort((a, b) => a - b)[samples.length >> 1]!;
  offsetMs = Math.abs(median) > BLUR_MS ? Math.round(median) : 0;
}

/** The server's time now, in milliseconds since the epoch. */
export function serverNow(): number {
  return Date.now() + offsetMs;
}

/** The server's clock minus this one, in milliseconds (0 when they agree to the second). */
export function serverOffsetMs(): number {
  return offsetMs;
}

/** Forgets what was learnt (tests). */
export function resetServerClock(): void {
  samples.length = 0;
  offsetMs = 0;
}
