// Placeholders in the shape of what is coming, instead of "Loading…".

/** Grey blocks shaped like the board's cards or a table's rows; announced once as loading. */
export function Skeleton({ what = "Loading", shape = "rows", count = 4 }: { what?: string; shape?: "rows" | "cards"; count?: number }) {
  return (
    <div className={`skeleton skeleton-${shape}`} role="status" aria-busy="true" aria-label={`${what}…`} data-testid="skeleton">
      {Array.from({ length: count }, (_, i) => (
        <div key={i} className="skeleton-item" aria-hidden="true">
          <span className="skeleton-line" />
          <span className="skeleton-line short" />
        </div>
      ))}
    </div>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return <Skeleton what={what} />;
}
