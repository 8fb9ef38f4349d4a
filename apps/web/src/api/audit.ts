// The audit trail (admin): filtered, newest first, "load more" by cursor, CSV export links.
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ZAuditPage, ZAuditVerifyResult } from "@postern/contracts";
import { api, query } from "./client";
import { queryKeys } from "./keys";

export interface AuditFilters {
  actor?: string;
  serviceId?: string;
  action?: string;
  /** ISO dates (YYYY-MM-DD), as the date inputs give them. */
  from?: string;
  to?: string;
  [key: string]: string | undefined;
}

export function useAudit(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: queryKeys.audit(filters),
    queryFn: ({ pageParam }) => api.get(`/api/audit${query({ ...filters, limit: "100", cursor: pageParam })}`, ZAuditPage),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor,
  });
}

/** The CSV download for one ISO week (`2026-W47`) or a date range. */
export function auditCsvUrl(range: { week: string } | { from: string; to: string }): string {
  return `/api/audit/export.csv${query("week" in range ? { week: range.week } : { from: range.from, to: range.to })}`;
}

/** Walks the hash chain on the server; run on opening the page and again on "Verify now". */
export function useAuditVerify() {
  return useQuery({
    queryKey: queryKeys.auditVerify,
    queryFn: () => api.get("/api/audit/verify", ZAuditVerifyResult),
    staleTime: 5 * 60_000,
    refetchOnWindowFocus: false,
  });
}
