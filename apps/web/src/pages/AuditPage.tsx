// The audit trail (admin): filters, newest first, "load more", and CSV downloads.
import { useState, type FormEvent } from "react";
import { isoWeekOf, type TAuditEvent } from "@postern/contracts";
import { auditCsvUrl, useAudit, type AuditFilters } from "../api/audit";
import { useServices } from "../api/services";
import { ErrorMessage } from "../components/ErrorMessage";
import { Loading } from "../components/Loading";
import { formatTime } from "../lib/format";

const EMPTY: AuditFilters = { actor: "", serviceId: "", action: "", from: "", to: "" };

/** Only the filters that are set, so equal filters share one cache entry. */
function compact(f: AuditFilters): AuditFilters {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v && v.trim()).map(([k, v]) => [k, v?.trim()]));
}

/** `key: value` pairs, readable at a glance; nested values stay JSON. */
function details(e: TAuditEvent): string {
  if (!e.details) return "";
  return Object.entries(e.details)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" · ");
}

export function AuditPage() {
  const services = useServices();
  const [draft, setDraft] = useState<AuditFilters>(EMPTY);
  const [filters, setFilters] = useState<AuditFilters>({});
  const [week, setWeek] = useState(() => isoWeekOf(new Date()));
  const audit = useAudit(filters);
  const events = audit.data?.pages.flatMap((p) => p.items) ?? [];
  const serviceName = (id?: string) => (id ? (services.data?.find((s) => s.id === id)?.name ?? id) : "");
  const set = (key: keyof AuditFilters) => (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value });

  function apply(e: FormEvent) {
    e.preventDefault();
    setFilters(compact(draft));
  }

  return (
    <div className="stack">
      <h1>Audit trail</h1>
      <form className="panel form-grid" onSubmit={apply} aria-label="Audit filters">
        <label className="field">
          <span>Actor</span>
          <input placeholder="username or token:name" value={draft.actor} onChange={set("actor")} />
        </label>
        <label className="field">
          <span>Service</span>
          <select value={draft.serviceId} onChange={set("serviceId")}>
            <option value="">Any</option>
            {services.data?.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Action</span>
          <input placeholder="session.started or session." value={draft.action} onChange={set("action")} />
        </label>
        <label className="field">
          <span>From</span>
          <input type="date" value={draft.from} onChange={set("from")} />
        </label>
        <label className="field">
          <span>To</span>
          <input type="date" value={draft.to} onChange={set("to")} />
        </label>
        <div className="form-actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(EMPTY);
              setFilters({});
            }}
          >
            Clear
          </button>
        </div>
      </form>

      <section className="panel inline-form" aria-label="CSV export">
        <label className="field">
          <span>ISO week</span>
          <input type="week" value={week} onChange={(e) => setWeek(e.target.value)} />
        </label>
        <a className="button-link" href={auditCsvUrl({ week })} download>
          Download week as CSV
        </a>
        {filters.from && filters.to && (
          <a className="button-link" href={auditCsvUrl({ from: filters.from, to: filters.to })} download>
            Download {filters.from} – {filters.to} as CSV
          </a>
        )}
      </section>

      {audit.isPending ? (
        <Loading />
      ) : audit.isError ? (
        <ErrorMessage error={audit.error} />
      ) : events.length === 0 ? (
        <p className="panel muted">No events match.</p>
      ) : (
        <div className="table-wrap panel">
          <table className="audit">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Service</th>
                <th scope="col">Source IP</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td title={e.at}>{formatTime(e.at)}</td>
                  <td>{e.actor?.username ?? <span className="muted">system</span>}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>{e.target ?? ""}</td>
                  <td>{serviceName(e.serviceId)}</td>
                  <td>{e.sourceIp ?? ""}</td>
                  <td className="details">{details(e)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {audit.hasNextPage && (
            <button type="button" onClick={() => void audit.fetchNextPage()} disabled={audit.isFetchingNextPage}>
              {audit.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
