// Requests waiting for an admin's answer, on the board.
import { useState } from "react";
import type { TService, TSession } from "@postern/contracts";
import { useDecideSession } from "../api/sessions";
import { displayName, formatDuration } from "../lib/format";
import { ErrorMessage } from "./ErrorMessage";
import { Time } from "./Time";

export function PendingApprovals({ sessions, services }: { sessions: TSession[]; services: TService[] }) {
  const decide = useDecideSession();
  const [error, setError] = useState<unknown>(null);
  if (sessions.length === 0) return null;
  const nameOf = (id: string) => services.find((s) => s.id === id)?.name ?? id;

  async function run(sessionId: string, approve: boolean) {
    setError(null);
    try {
      await decide.mutateAsync({ sessionId, approve });
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section className="panel approvals" aria-labelledby="approvals-title">
      <h2 id="approvals-title">Pending approvals</h2>
      <ul>
        {sessions.map((s) => {
          const who = `${s.user.username}'s request for ${nameOf(s.serviceId)}`;
          return (
            <li key={s.id} data-testid={`approval-${s.id}`}>
              <span>
                <strong>{displayName(s.user)}</strong> asks for <strong>{nameOf(s.serviceId)}</strong> for{" "}
                {formatDuration(s.durationSeconds)}
                {s.startsAt ? (
                  <>
                    {" "}
                    from <Time value={s.startsAt} />
                  </>
                ) : null}
                {s.reason ? ` — “${s.reason}”` : ""}{" "}
                <span className="muted small">
                  (<Time value={s.requestedAt} />)
                </span>
              </span>
              <span className="row-actions">
                <button type="button" className="primary" aria-label={`Approve ${who}`} disabled={decide.isPending} onClick={() => run(s.id, true)}>
                  Approve
                </button>
                <button type="button" className="danger" aria-label={`Deny ${who}`} disabled={decide.isPending} onClick={() => run(s.id, false)}>
                  Deny
                </button>
              </span>
            </li>
          );
        })}
      </ul>
      <ErrorMessage error={error} />
    </section>
  );
}
