// The audit trail (admin): filters, newest first, "load more", CSV downloads, and whether the
// hash chain is intact. Rows name people, groups and services instead of showing their ids.
import { useRef, useState, type FormEvent } from "react";
import { isoWeekOf, ZAuditListQuery, ZIsoWeek } from "@postern/contracts";
import { auditCsvUrl, useAudit, useAuditVerify, type AuditFilters } from "../api/audit";
import { isApiError } from "../api/client";
import { useAgents } from "../api/gateways";
import { useServices } from "../api/services";
import { useTokens } from "../api/tokens";
import { useGroups, useUsers } from "../api/users";
import { DataTable } from "../components/DataTable";
import { ErrorMessage, RefreshFailed } from "../components/ErrorMessage";
import { Field, focusFirstInvalid } from "../components/Field";
import { Skeleton } from "../components/Loading";
import { Time } from "../components/Time";
import { detailsText, targetName, type NameBook } from "../lib/audit-names";
import { checkBody, formErrors, type FieldMap } from "../lib/field-errors";
import { usePageTitle } from "../lib/page-title";
import { useLoadMore } from "../lib/use-load-more";

const EMPTY: AuditFilters = { actor: "", serviceId: "", action: "", from: "", to: "" };
type FilterField = "actor" | "serviceId" | "action" | "from" | "to";
const FILTER_FIELDS: FieldMap<FilterField> = {
  actor: { field: "actor", label: "Actor" },
  serviceId: { field: "serviceId", label: "Service" },
  action: { field: "action", label: "Action" },
  from: { field: "from", label: "From" },
  to: { field: "to", label: "To" },
};

/** Only the filters that are set, so equal filters share one cache entry. */
function compact(f: AuditFilters): AuditFilters {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v && v.trim()).map(([k, v]) => [k, v?.trim()]));
}

function useNameBook(): NameBook {
  const users = useUsers().data;
  const groups = useGroups().data;
  const services = useServices().data;
  const tokens = useTokens().data;
  const agents = useAgents(true, false).data;
  return {
    user: (id) => users?.find((u) => u.id === id)?.username,
    group: (id) => groups?.find((g) => g.id === id)?.name,
    service: (id) => services?.find((s) => s.id === id)?.name,
    token: (id) => tokens?.find((t) => t.id === id)?.name,
    agent: (id) => agents?.find((a) => a.id === id)?.name,
  };
}

function ChainState() {
  const verify = useAuditVerify();
  const r = verify.data;
  return (
    <section className={`panel chain ${r ? (r.intact ? "chain-ok" : "chain-broken") : ""}`} aria-labelledby="chain-title" data-testid="chain">
      <div className="page-head">
        <h2 id="chain-title">Tamper check</h2>
        <button type="button" onClick={() => void verify.refetch()} aria-disabled={verify.isFetching || undefined}>
          {verify.isFetching ? "Verifying…" : "Verify now"}
        </button>
      </div>
      <p role="status">
        {verify.isPending ? (
          "Checking the hash chain…"
        ) : verify.isError ? (
          <span className="error-text">The check could not run: {verify.error.message}</span>
        ) : r?.intact ? (
          <>
            Intact: all {r.checked.toLocaleString()} events chain correctly
            {r.anchoredAt ? <>, and match the audit files up to event #{r.anchoredAt.seq}</> : null}, checked{" "}
            <Time value={new Date(verify.dataUpdatedAt).toISOString()} />.
            {r.head ? (
              <>
                {" "}
                Newest event: <code className="chain-head">{`${r.head.seq}:${r.head.hash}`}</code>. Note it elsewhere; <code>postern audit verify --expect</code> with
                it shows later whether events after it were cut off or the chain was made again.
              </>
            ) : null}
          </>
        ) : (
          <>
            <strong>Broken</strong> at event #{r?.firstBreak?.seq}: {r?.firstBreak?.reason}. {r?.checked.toLocaleString()} events before it are
            intact. Someone changed or removed audit rows; restore from a backup and compare.
          </>
        )}
      </p>
    </section>
  );
}

export function AuditPage() {
  usePageTitle("Audit · Admin");
  const services = useServices();
  const names = useNameBook();
  const form = useRef<HTMLFormElement>(null);
  const [draft, setDraft] = useState<AuditFilters>(EMPTY);
  const [filters, setFilters] = useState<AuditFilters>({});
  const [filterError, setFilterError] = useState<unknown>(null);
  const [week, setWeek] = useState(() => isoWeekOf(new Date()));
  const audit = useAudit(filters);
  const more = useLoadMore(audit.fetchNextPage, JSON.stringify(filters));
  const events = audit.data?.pages.flatMap((p) => p.items) ?? [];
  // Only a first read can be refused for its filters (400, shown beside them); anything else
  // that stops the first read replaces the list, and a failed refresh keeps it (RefreshFailed).
  const loadError = audit.isLoadingError ? audit.error : null;
  const filtersRefused = isApiError(loadError, 400);
  const errors = formErrors(filterError ?? (filtersRefused ? loadError : null), FILTER_FIELDS);
  const weekCheck = ZIsoWeek.safeParse(week);
  const set = (key: keyof AuditFilters) => (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value });

  function apply(e: FormEvent) {
    e.preventDefault();
    const next = compact(draft);
    // The same rules as the API, checked here so a wrong range never reaches the list or the CSV link.
    const checked = checkBody(ZAuditListQuery, next);
    if (!checked.ok) {
      setFilterError(checked.error);
      requestAnimationFrame(() => focusFirstInvalid(form.current));
      return;
    }
    setFilterError(null);
    setFilters(next);
  }

  return (
    <div className="stack">
      <h2 className="sr-only">Audit trail</h2>
      <ChainState />
      <form ref={form} className="panel form-grid" onSubmit={apply} aria-label="Audit filters" noValidate>
        <Field label="Actor" hint="A username, or token:name" error={errors.fields.actor}>
          {(p) => <input {...p} value={draft.actor} onChange={set("actor")} />}
        </Field>
        <Field label="Service" error={errors.fields.serviceId}>
          {(p) => (
            <select {...p} value={draft.serviceId} onChange={set("serviceId")}>
              <option value="">Any</option>
              {services.data?.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Action" hint="session.started, or a prefix like session." error={errors.fields.action}>
          {(p) => <input {...p} value={draft.action} onChange={set("action")} />}
        </Field>
        <Field label="From" error={errors.fields.from}>
          {(p) => <input {...p} type="date" value={draft.from} onChange={set("from")} />}
        </Field>
        <Field label="To" hint="Includes the whole day." error={errors.fields.to}>
          {(p) => <input {...p} type="date" value={draft.to} onChange={set("to")} />}
        </Field>
        <div className="form-actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(EMPTY);
              setFilters({});
              setFilterError(null);
            }}
          >
            Clear
          </button>
        </div>
        <ErrorMessage error={errors.general} />
      </form>

      <section className="panel inline-form" aria-label="CSV export">
        <Field label="ISO week" error={weekCheck.success ? null : "pick a week, like 2026-W47"}>
          {(p) => <input {...p} type="week" value={week} onChange={(e) => setWeek(e.target.value)} />}
        </Field>
        {weekCheck.success && (
          <a className="button-link" href={auditCsvUrl({ week })} download>
            Download {week} as CSV
          </a>
        )}
        {filters.from && filters.to && (
          <a className="button-link" href={auditCsvUrl({ from: filters.from, to: filters.to })} download>
            Download {filters.from} – {filters.to} as CSV
          </a>
        )}
      </section>

      <RefreshFailed error={audit.isRefetchError ? audit.error : null} />
      {audit.isPending ? (
        <Skeleton what="Loading the audit trail" count={6} />
      ) : loadError && !filtersRefused ? (
        <ErrorMessage error={loadError} />
      ) : (
        <DataTable
          caption="Audit events"
          className="panel"
          rows={events}
          rowKey={(e) => e.id}
          empty={<p>No events match.</p>}
          columns={[
            { key: "at", header: "Time", cell: (e) => <Time value={e.at} seconds exact /> },
            { key: "actor", header: "Actor", className: "name", cell: (e) => e.actor?.username ?? <span className="muted">system</span> },
            { key: "action", header: "Action", cell: (e) => <code>{e.action}</code> },
            { key: "target", header: "Target", className: "name", cell: (e) => targetName(e, names) },
            { key: "service", header: "Service", cell: (e) => (e.serviceId ? (names.service(e.serviceId) ?? e.serviceId) : "") },
            { key: "ip", header: "Source IP", cell: (e) => e.sourceIp ?? "" },
            { key: "details", header: "Details", className: "details", cell: (e) => detailsText(e, names) },
          ]}
          footer={
            <>
              {/* A next page that failed is neither a loading nor a refetch error: said here, by its button. */}
              <ErrorMessage error={more.error} />
              {audit.hasNextPage && (
                <button type="button" onClick={() => void more.loadMore()} aria-disabled={audit.isFetchingNextPage || undefined}>
                  {audit.isFetchingNextPage ? "Loading…" : "Load more"}
                </button>
              )}
            </>
          }
        />
      )}
    </div>
  );
}
