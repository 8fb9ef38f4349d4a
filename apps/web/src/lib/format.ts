// Time and duration formatting shared by the pages.

/** `1:05:09` or `5:09`: what is left of a session. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** `90 min` → `1 h 30 min`; whole days as `2 d`. */
export function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  if (h === 0) return `${m} min`;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Choices for the duration pickers: common lengths up to the service's maximum. */
export function durationChoices(defaultSeconds: number, maxSeconds: number): number[] {
  const common = [15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 86400, 7 * 86400];
  const set = new Set(common.filter((s) => s <= maxSeconds));
  set.add(defaultSeconds);
  set.add(maxSeconds);
  return [...set].sort((a, b) => a - b);
}

export function displayName(user: { username: string; displayName?: string }): string {
  return user.displayName ? `${user.displayName} (${user.username})` : user.username;
}
