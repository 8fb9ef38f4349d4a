// The caller's sessions, newest first, with Extend / End on the ones still running.
import { useState } from "react";
import type { TSession } from "@postern/contracts";
import { useServices } from "../api/services";
import { useEndSession, useExtendSession, useMySessions } from "../api/sessions";
import { Countdown } from "../components/Countdown";
import { ErrorMessage } from "../components/ErrorMessage";
import { Loading } from "../components/Loading";
import { formatDuration, formatTime } from "../lib/format";

function Row({ session, serviceName, extendBy }: { session: TSession; serviceName: string; extendBy: number }) {
  const extend = useExtendSession();
  const end = useEndSession();
  const open = !["ended", "expired", "denied"].includes(session.status);
  const error = extend.error ?? end.error;
  return (
    <tr>
      <td>{serviceName}</td>
      <td>
        <span className={`status status-${session.status}`}>{session.status}</span>
      </td>
      <td>{formatTime(session.startedAt ?? session.startsAt ?? session.requestedAt)}</td>
      <td>
        {session.status === "active" && session.expiresAt ? (
          <Countdown until={session.expiresAt} />
        ) : (
          formatTime(session.endedAt ?? session.expiresAt)
        )}
      </td>
      <td>{session.reason ?? ""}</td>
      <td className="row-actions">
        {session.status === "active" && (
          <button
            type="button"
            disabled={extend.isPending}
            onClick={() => extend.mutate({ sessionId: session.id, durationSeconds: extendBy })}
          >
            Extend
          </button>
        )}
        {open && (
          <button type="button" className="danger" disabled={end.isPending} onClick={() => end.mutate(session.id)}>
            {session.status === "active" ? "End" : "Cancel"}
          </button>
        )}
        <ErrorMessage error={error} />
      </td>
    </tr>
  );
}

export function MySessionsPage() {
  const sessions = useMySessions();
  const services = useServices();
  const [extendBy, setExtendBy] = useState(1800);
  if (sessions.isPending) return <Loading what="Loading your sessions" />;
  if (sessions.isError) return <ErrorMessage error={sessions.error} />;
  const nameOf = (id: string) => services.data?.find((s) => s.id === id)?.name ?? "(service no longer visible)";

  return (
    <div>
      <div className="page-head">
        <h1>My sessions</h1>
        <label className="inline">
          Extend by{" "}
          <select value={extendBy} onChange={(e) => setExtendBy(Number(e.target.value))}>
            {[900, 1800, 3600, 7200].map((s) => (
              <option key={s} value={s}>
                {formatDuration(s)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {sessions.data.length === 0 ? (
        <p className="panel">You have no sessions yet. Start one on the board.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Ends / ended</th>
                <th scope="col">Reason</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.data.map((s) => (
                <Row key={s.id} session={s} serviceName={nameOf(s.serviceId)} extendBy={extendBy} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
