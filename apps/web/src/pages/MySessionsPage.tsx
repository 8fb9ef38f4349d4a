// The caller's sessions, newest first. Each running one has its own Extend (offering only what
// its service allows now) and End; bookings and requests can be cancelled.
import { useState } from "react";
import { isOpenStatus, type TService, type TSession } from "@postern/contracts";
import { useServices } from "../api/services";
import { useActiveSessions, useEndSession, useExtendSession, useMySessions } from "../api/sessions";
import { Countdown } from "../components/Countdown";
import { DataTable } from "../components/DataTable";
import { DurationPicker } from "../components/DurationPicker";
import { ErrorMessage, RefreshFailed } from "../components/ErrorMessage";
import { Skeleton } from "../components/Loading";
import { StatusPill } from "../components/StatusPill";
import { Time } from "../components/Time";
import { useExtendChoice } from "../components/use-extend-choice";
import { useFocusAfter } from "../components/use-focus-after";
import { formatDuration } from "../lib/format";
import { usePageTitle } from "../lib/page-title";

function SessionActions({ session, service, serviceSessions }: { session: TSession; service?: TService; serviceSessions: TSession[] }) {
  const extend = useExtendSession();
  const end = useEndSession();
  const choice = useExtendChoice(session.status === "active" ? session : undefined, service, serviceSessions);
  const [error, setError] = useState<unknown>(null);
  // The row's buttons vanish after End: focus then goes to the row's status, outside this cell.
  const focusAfter = useFocusAfter(null);
  const name = service?.name ?? "this service";
  const busy = extend.isPending || end.isPending;

  async function run(action: () => Promise<unknown>, next: string[]) {
    setError(null);
    try {
      await action();
      choice.reset();
      focusAfter(next);
    } catch (err) {
      setError(err);
    }
  }

  if (!isOpenStatus(session.status)) return null;
  const by = choice.value;
  return (
    <div className="session-actions">
      {session.status === "active" &&
        (by !== undefined ? (
          <>
            <DurationPicker
              label={`Extend ${name} by`}
              value={by}
              onChange={choice.setValue}
              choices={choice.choices}
              notes={choice.longest !== undefined ? new Map([[choice.longest, "longest allowed"]]) : undefined}
            />
            <button
              type="button"
              data-focus={`extend-${session.id}`}
              aria-disabled={busy || undefined}
              onClick={() => !busy && run(() => extend.mutateAsync({ sessionId: session.id, durationSeconds: by }), [`extend-${session.id}`])}
            >
              Extend<span className="sr-only"> {name}</span>
            </button>
          </>
        ) : (
          <span className="muted small" data-testid="extend-limit">
            {choice.blockedByBooking ? "Booked right after" : "At the maximum"}
          </span>
        ))}
      <button
        type="button"
        className="danger"
        data-focus={`end-${session.id}`}
        aria-disabled={busy || undefined}
        onClick={() => !busy && run(() => end.mutateAsync(session.id), [`status-${session.id}`])}
      >
        {session.status === "active" ? "End" : "Cancel"}
        <span className="sr-only"> {name}</span>
      </button>
      <ErrorMessage error={error} />
    </div>
  );
}

export function MySessionsPage() {
  usePageTitle("My sessions");
  const sessions = useMySessions();
  const services = useServices();
  const board = useActiveSessions();
  if (sessions.isPending) {
    return (
      <div>
        <h1>My sessions</h1>
        <Skeleton what="Loading your sessions" />
      </div>
    );
  }
  // A failed poll keeps the list it had, and the Extend choices being made on it.
  if (sessions.isLoadingError) return <ErrorMessage error={sessions.error} />;
  const serviceOf = (id: string) => services.data?.find((s) => s.id === id);
  const nameOf = (id: string) => serviceOf(id)?.name ?? "(service no longer visible)";
  const onService = (id: string) => (board.data ?? []).filter((s) => s.serviceId === id);

  return (
    <div>
      <div className="page-head">
        <h1>My sessions</h1>
      </div>
      <RefreshFailed error={sessions.isRefetchError ? sessions.error : null} />
      <DataTable
        caption="My sessions"
        rows={sessions.data}
        rowKey={(s) => s.id}
        className="panel"
        empty={<p>You have no sessions yet. Start one on the board.</p>}
        columns={[
          { key: "service", header: "Service", rowHeader: true, cell: (s) => nameOf(s.serviceId) },
          {
            key: "status",
            header: "Status",
            // Focus lands here after End, when the row's buttons are gone.
            cell: (s) => (
              <span tabIndex={-1} data-focus={`status-${s.id}`} className="focus-target">
                <StatusPill status={s.status} />
              </span>
            ),
          },
          { key: "start", header: "Starts / started", cell: (s) => <Time value={s.startedAt ?? s.startsAt ?? s.requestedAt} /> },
          {
            key: "end",
            header: "Ends / ended",
            cell: (s) =>
              s.status === "active" && s.expiresAt ? <Countdown until={s.expiresAt} /> : <Time value={s.endedAt ?? s.expiresAt} />,
          },
          { key: "length", header: "Length", cell: (s) => formatDuration(s.durationSeconds) },
          { key: "reason", header: "Reason", cell: (s) => s.reason ?? <span className="muted">—</span> },
          {
            key: "actions",
            header: "Actions",
            hideHeader: true,
            actions: true,
            cell: (s) => <SessionActions session={s} service={serviceOf(s.serviceId)} serviceSessions={onService(s.serviceId)} />,
          },
        ]}
      />
    </div>
  );
}
