// Requests waiting for an admin's answer, on the board.
import { useRef, useState } from "react";
import type { TService, TSession } from "@postern/contracts";
import { useDecideSession } from "../api/sessions";
import { displayName, formatDuration } from "../lib/format";
import { ErrorMessage } from "./ErrorMessage";
import { Time } from "./Time";
import { useFocusAfter } from "./use-focus-after";

const EMPTY_KEY = "approvals-empty";
const approveKey = (sessionId: string) => `approve-${sessionId}`;

function PendingRequest(props: { session: TSession; serviceName: string; busy: boolean; onDecide: (approve: boolean) => void }) {
  const { session: s, serviceName, busy, onDecide } = props;
  const who = `${s.user.username}'s request for ${serviceName}`;
  // aria-disabled, not disabled: a disabled button drops the focus it holds to <body>.
  const decide = (approve: boolean) => () => {
    if (!busy) onDecide(approve);
  };
  return (
    <li data-testid={`approval-${s.id}`}>
      <span>
        <strong>{displayName(s.user)}</strong> asks for <strong>{serviceName}</strong> for {formatDuration(s.durationSeconds)}
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
        <button type="button" className="primary" aria-label={`Approve ${who}`} aria-disabled={busy || undefined} data-focus={approveKey(s.id)} onClick={decide(true)}>
          Approve
        </button>
        <button type="button" className="danger" aria-label={`Deny ${who}`} aria-disabled={busy || undefined} onClick={decide(false)}>
          Deny
        </button>
      </span>
    </li>
  );
}

export function PendingApprovals({ sessions, services }: { sessions: TSession[]; services: TService[] }) {
  const decide = useDecideSession();
  const [error, setError] = useState<unknown>(null);
  // Once the last request is answered here the section stays, saying so, to hold the focus.
  const [answeredHere, setAnsweredHere] = useState(false);
  const section = useRef<HTMLElement>(null);
  const focusAfter = useFocusAfter(section);
  if (sessions.length === 0 && !answeredHere) return null;
  const nameOf = (id: string) => services.find((s) => s.id === id)?.name ?? id;

  async function run(sessionId: string, approve: boolean) {
    setError(null);
    // The decided row goes with its buttons: the keyboard carries on at the next request.
    const at = sessions.findIndex((s) => s.id === sessionId);
    const next = sessions[at + 1] ?? sessions[at - 1];
    try {
      await decide.mutateAsync({ sessionId, approve });
      setAnsweredHere(true);
      focusAfter(next ? [approveKey(next.id), EMPTY_KEY] : [EMPTY_KEY]);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section ref={section} className="panel approvals" aria-labelledby="approvals-title">
      <h2 id="approvals-title">Pending approvals</h2>
      {sessions.length === 0 ? (
        <p className="muted" tabIndex={-1} data-focus={EMPTY_KEY}>
          No requests are waiting.
        </p>
      ) : (
        <ul>
          {sessions.map((s) => (
            <PendingRequest key={s.id} session={s} serviceName={nameOf(s.serviceId)} busy={decide.isPending} onDecide={(approve) => void run(s.id, approve)} />
          ))}
        </ul>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}
