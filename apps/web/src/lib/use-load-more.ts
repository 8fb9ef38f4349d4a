// "Load more" under a list read a page at a time (useInfiniteQuery), with its failure kept by the
// button. TanStack Query keeps a failed next page only as the query's error, which anything that
// writes the list wipes: a live update (setQueryData) or the periodic refetch, seconds apart on a
// busy relay, so the reason was gone before it was read. Here it stays until the next attempt
// ends well, or the list is another one (`resetKey`, e.g. the audit filters).
import { useCallback, useState } from "react";

interface NextPageResult {
  isFetchNextPageError: boolean;
  error: unknown;
}

export function useLoadMore(fetchNextPage: () => Promise<NextPageResult>, resetKey?: unknown) {
  const [failed, setFailed] = useState<{ error: unknown; key: unknown } | null>(null);
  const loadMore = useCallback(async () => {
    const result = await fetchNextPage();
    setFailed(result.isFetchNextPageError ? { error: result.error ?? "The next page could not be read.", key: resetKey } : null);
  }, [fetchNextPage, resetKey]);
  return { loadMore, error: failed && failed.key === resetKey ? failed.error : null };
}
