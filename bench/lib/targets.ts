// Issue 11's targets, judged on the run that just printed its figures: one line per target, held
// or missed, with the figure that decided it. The issue is done when every line holds in one run
// of each benchmark, on SQLite and PostgreSQL; this saves reading that off the tables by hand.

export interface Verdict {
  /** The target, as the issue states it. */
  target: string;
  held: boolean;
  /** The figure that decided it (the worst one, for a target every row must meet). */
  measured: string;
}

export function printVerdicts(verdicts: Verdict[]): void {
  if (verdicts.length === 0) return;
  const missed = verdicts.filter((v) => !v.held).length;
  process.stdout.write(`\nAgainst the targets of issue 11, in this run (${missed === 0 ? "all held" : `${missed} of ${verdicts.length} missed`}):\n`);
  for (const v of verdicts) process.stdout.write(`  ${v.held ? "✓" : "✗"} ${v.target}: ${v.measured}\n`);
}

/** The row with the lowest `value` (the one a floor is judged by), or undefined for none. */
export function lowest<T>(rows: T[], value: (row: T) => number): T | undefined {
  return rows.reduce<T | undefined>((low, r) => (low === undefined || value(r) < value(low) ? r : low), undefined);
}
