// One service on the board: who holds it and for how long, who waits, and the one-click actions.
import { useState } from "react";
import type { TService, TSession, TUser } from "@postern/contracts";
import { useEndSession } from "../api/sessions";
import { displayName, formatTime } from "../lib/format";
import { Countdown } from "./Countdown";
import { ErrorMessage } from "./ErrorMessage";
import { ServiceActions } from "./ServiceActions";

interface Props {
  service: TService;
  /** The service's open sessions (active, pending, scheduled, waiting, offered). */
  sessions: TSession[];
  me: TUser;
  isAdmin: boolean;
}

const byStatus = (sessions: TSession[], status: TSession["status"]) => sessions.filter((s) => s.status === status);

export function ServiceCard({ service, sessions, me, isAdmin }: Props) {
  const [error, setError] = useState<unknown>(null);
  const end = useEndSession();
  const active = byStatus(sessions, "active");
  const pending = byStatus(sessions, "pending");
  const scheduled = byStatus(sessions, "scheduled");
  const queue = [...byStatus(sessions, "offered"), ...byStatus(sessions, "waiting")];
  const mine = active.some((s) => s.userId === me.id);

  async function endOther(sessionId: string) {
    setError(null);
    try {
      await end.mutateAsync(sessionId);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <article
      className={`card${active.length > 0 ? " card-held" : ""}${mine ? " card-mine" : ""}`}
      data-testid={`service-card-${service.slug}`}
      aria-labelledby={`service-${service.id}`}
    >
      <header className="card-head">
        <h3 id={`service-${service.id}`}>{service.name}</h3>
        <div className="badges">
          <span className="badge">{service.exclusive ? "exclusive" : "shared"}</span>
          {service.requiresApproval && <span className="badge badge-warn">approval</span>}
          {service.gateway && <span className="badge">gateway</span>}
        </div>
      </header>
      {service.description && <p className="card-desc">{service.description}</p>}
      {service.connection && (
        <p className="muted small">
          {service.connection.main}
          {service.connection.sub ? ` / ${service.connection.sub}` : ""}
        </p>
      )}

      {active.length > 0 ? (
        <ul className="holders" aria-label="Held by">
          {active.map((s) => (
            <li key={s.id}>
              <span className="holder" data-testid="holder">
                {displayName(s.user)}
                {s.userId === me.id && " (you)"}
              </span>
              {s.expiresAt && <Countdown until={s.expiresAt} label={`${s.user.username}'s time left`} />}
              {isAdmin && s.userId !== me.id && (
                <button type="button" className="link-button danger" disabled={end.isPending} onClick={() => endOther(s.id)}>
                  Force end
                </button>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p className="free">Free</p>
      )}
      {service.gateway && active.length > 0 && <DoorState service={service} sessions={active} />}

      {pending.length > 0 && (
        <p className="muted small">Waiting for approval: {pending.map((s) => s.user.username).join(", ")}</p>
      )}
      {queue.length > 0 && (
        <p className="muted small" data-testid="waitlist">
          Waitlist: {queue.map((s) => (s.status === "offered" ? `${s.user.username} (offered)` : s.user.username)).join(", ")}
        </p>
      )}
      {scheduled.length > 0 && (
        <ul className="scheduled small" aria-label="Scheduled">
          {scheduled.map((s) => (
            <li key={s.id}>
              Booked: {s.user.username}
              {s.userId === me.id ? " (you)" : ""} from {formatTime(s.startsAt)}
              {(s.userId === me.id || isAdmin) && (
                <button type="button" className="link-button" disabled={end.isPending} onClick={() => endOther(s.id)}>
                  Cancel booking
                </button>
              )}
            </li>
          ))}
        </ul>
      )}

      <ServiceActions service={service} sessions={sessions} me={me} />
      <ErrorMessage error={error} />
    </article>
  );
}

/** Whether the gateway's port-forward for these sessions is in place, as its agent last reported. */
function DoorState({ service, sessions }: { service: TService; sessions: TSession[] }) {
  const status = service.gatewayStatus;
  const port = service.gateway ? `${service.gateway.protocol} ${service.gateway.publicPort}` : "";
  const from = sessions.map((s) => s.sourceIp).filter(Boolean).join(", ");
  if (!status || !status.online) {
    return (
      <p className="small door door-off" data-testid="door" role="status">
        Gateway offline: the door is closed
      </p>
    );
  }
  if (status.error) {
    return (
      <p className="small door door-off" data-testid="door" role="status">
        Gateway error: {status.error}
      </p>
    );
  }
  return (
    <p className={`small door ${status.inSync ? "door-open" : "door-wait"}`} data-testid="door" role="status">
      {status.inSync ? `Door open on ${port}` : `Opening the door on ${port}…`}
      {from && ` for ${from}`}
    </p>
  );
}
