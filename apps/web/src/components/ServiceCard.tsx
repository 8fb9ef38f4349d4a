// One service on the board: who holds it and for how long, who waits, and the one-click actions.
import { useState } from "react";
import type { TService, TSession, TUserRef } from "@postern/contracts";
import { useEndSession } from "../api/sessions";
import { admittedBy, displayName, formatDuration } from "../lib/format";
import { ConfirmButton } from "./ConfirmDialog";
import { Countdown } from "./Countdown";
import { ErrorMessage } from "./ErrorMessage";
import { ServiceActions, situationOf } from "./ServiceActions";
import { Time } from "./Time";

interface Props {
  service: TService;
  /** The service's open sessions (active, pending, scheduled, waiting, offered). */
  sessions: TSession[];
  me: TUserRef;
  isAdmin: boolean;
}

const compare = (a = "", b = "") => (a < b ? -1 : a > b ? 1 : 0);

/** Oldest request first, then by id: the server's order for a line (olderRequestFirst in the API's
 * board view). The board's sessions come newest request first, and live upserts go on top. */
const olderRequestFirst = (a: TSession, b: TSession) => compare(a.requestedAt, b.requestedAt) || compare(a.id, b.id);

/** Bookings in the order they start. */
const soonerStartFirst = (a: TSession, b: TSession) => compare(a.startsAt, b.startsAt) || olderRequestFirst(a, b);

const byStatus = (sessions: TSession[], status: TSession["status"], order = olderRequestFirst) =>
  sessions.filter((s) => s.status === status).sort(order);

export const KIND_LABELS: Record<TService["kind"], string> = { vpn: "VPN", web: "Web", tcp: "TCP", other: "Other" };

/** Ends someone else's session (admin) or cancels a booking; its error clears when the service changes. */
function useEndOther(sessions: TSession[]) {
  const end = useEndSession();
  const [failure, setFailure] = useState<{ error: unknown; situation: string } | null>(null);
  const situation = situationOf(sessions);
  return {
    pending: end.isPending,
    error: failure && failure.situation === situation ? failure.error : null,
    run: (sessionId: string) => {
      setFailure(null);
      end.mutate(sessionId, { onError: (error) => setFailure({ error, situation }) });
    },
  };
}

export function ServiceCard({ service, sessions, me, isAdmin }: Props) {
  const endOther = useEndOther(sessions);
  const active = byStatus(sessions, "active");
  const pending = byStatus(sessions, "pending");
  const scheduled = byStatus(sessions, "scheduled", soonerStartFirst);
  const queue = [...byStatus(sessions, "offered"), ...byStatus(sessions, "waiting")];
  const mine = active.some((s) => s.userId === me.id);

  return (
    <article
      className={`card${active.length > 0 ? " card-held" : ""}${mine ? " card-mine" : ""}`}
      data-testid={`service-card-${service.slug}`}
      aria-labelledby={`service-${service.id}`}
    >
      <header className="card-head">
        <h2 id={`service-${service.id}`} className="card-title">{service.name}</h2>
        <div className="badges">
          <span className="badge">{KIND_LABELS[service.kind]}</span>
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
        <ul className="holders" aria-label={`${service.name} is held by`}>
          {active.map((s) => (
            <li key={s.id}>
              <span className="holder" data-testid="holder">
                {displayName(s.user)}
                {s.userId === me.id && " (you)"}
              </span>
              {s.expiresAt && <Countdown until={s.expiresAt} label={`${s.user.username}'s time left`} />}
              {isAdmin && s.userId !== me.id && (
                <ConfirmButton
                  className="link-button danger"
                  aria-label={`Force end ${s.user.username}'s session on ${service.name}`}
                  disabled={endOther.pending}
                  title={`End ${s.user.username}'s session on ${service.name}?`}
                  body={<p>They lose access at once and see that an admin ended it.</p>}
                  confirmLabel="Force end"
                  danger
                  onConfirm={() => endOther.run(s.id)}
                >
                  Force end
                </ConfirmButton>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p className="free">Free</p>
      )}
      {service.gateway && active.length > 0 && <DoorState service={service} sessions={active} me={me} isAdmin={isAdmin} />}

      {pending.length > 0 && (
        <p className="muted small">Waiting for approval: {pending.map((s) => s.user.username).join(", ")}</p>
      )}
      {queue.length > 0 && (
        <p className="muted small" data-testid="waitlist">
          Waitlist: {queue.map((s) => (s.status === "offered" ? `${s.user.username} (offered)` : s.user.username)).join(", ")}
        </p>
      )}
      {scheduled.length > 0 && (
        <ul className="scheduled small" aria-label={`Bookings of ${service.name}`}>
          {scheduled.map((s) => (
            <li key={s.id} data-testid="booking">
              Booked: {s.user.username}
              {s.userId === me.id ? " (you)" : ""} <Time value={s.startsAt} /> for {formatDuration(s.durationSeconds)}
              {(s.userId === me.id || isAdmin) && (
                <button type="button" className="link-button" disabled={endOther.pending} onClick={() => endOther.run(s.id)}>
                  Cancel booking
                  <span className="sr-only">
                    {" "}
                    of {s.userId === me.id ? "yours" : s.user.username} on {service.name}
                  </span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}

      <ServiceActions service={service} sessions={sessions} me={me} />
      <ErrorMessage error={endOther.error} />
    </article>
  );
}

/** Whether the gateway's port-forward for these sessions is in place, as its agent last reported. */
export function DoorState({ service, sessions, me, isAdmin }: { service: TService; sessions: TSession[]; me: TUserRef; isAdmin: boolean }) {
  const status = service.gatewayStatus;
  const port = service.gateway ? `${service.gateway.protocol} ${service.gateway.publicPort}` : "";
  const from = admittedBy(sessions, me, isAdmin);
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
