// What the caller can do with a service right now, each in one click: start, extend, end,
// request, join or leave the waitlist, accept an offer, or book a later window.
import { useState } from "react";
import type { TService, TSession, TUser } from "@postern/contracts";
import {
  useAcceptOffer,
  useEndSession,
  useExtendSession,
  useJoinWaitlist,
  useLeaveWaitlist,
  useStartSession,
} from "../api/sessions";
import { formatDuration } from "../lib/format";
import { Countdown } from "./Countdown";
import { DurationPicker } from "./DurationPicker";
import { ErrorMessage } from "./ErrorMessage";
import { ScheduleForm } from "./ScheduleForm";

export function ServiceActions({ service, sessions, me }: { service: TService; sessions: TSession[]; me: TUser }) {
  const [duration, setDuration] = useState(service.defaultDurationSeconds);
  const [error, setError] = useState<unknown>(null);
  const start = useStartSession();
  const extend = useExtendSession();
  const end = useEndSession();
  const join = useJoinWaitlist();
  const leave = useLeaveWaitlist();
  const accept = useAcceptOffer();
  const busy = [start, extend, end, join, leave, accept].some((m) => m.isPending);

  const mineWith = (status: TSession["status"]) => sessions.find((s) => s.userId === me.id && s.status === status);
  const mine = mineWith("active");
  const myRequest = mineWith("pending");
  const myOffer = mineWith("offered");
  const myPlace = mineWith("waiting");
  // Starting an exclusive service someone else holds is answered with a 409 naming them; the
  // button stays (the holder may be about to leave) but the waitlist becomes the main action.
  const heldByOther = service.exclusive && sessions.some((s) => s.status === "active" && s.userId !== me.id);

  async function run(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    }
  }

  const picker = (label: string) => (
    <DurationPicker
      value={duration}
      onChange={setDuration}
      defaultSeconds={service.defaultDurationSeconds}
      maxSeconds={service.maxDurationSeconds}
      label={label}
    />
  );

  let actions;
  if (mine) {
    actions = (
      <>
        {picker(`Extend ${service.name} by`)}
        <button type="button" disabled={busy} onClick={() => run(() => extend.mutateAsync({ sessionId: mine.id, durationSeconds: duration }))}>
          Extend
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => run(() => end.mutateAsync(mine.id))}>
          End
        </button>
        {service.url && (
          <a className="button-link" href={service.url} target="_blank" rel="noreferrer">
            Open
          </a>
        )}
      </>
    );
  } else if (myOffer) {
    actions = (
      <>
        <span className="small">
          It’s your turn
          {myOffer.offerExpiresAt && (
            <>
              {" "}
              — accept within <Countdown until={myOffer.offerExpiresAt} label="offer ends in" />
            </>
          )}
        </span>
        <button type="button" className="primary" disabled={busy} onClick={() => run(() => accept.mutateAsync({ sessionId: myOffer.id }))}>
          Accept
        </button>
        <button type="button" disabled={busy} onClick={() => run(() => leave.mutateAsync(service.id))}>
          Pass
        </button>
      </>
    );
  } else if (myRequest) {
    actions = (
      <>
        <span className="muted small">Your request is waiting for an admin.</span>
        <button type="button" disabled={busy} onClick={() => run(() => end.mutateAsync(myRequest.id))}>
          Cancel request
        </button>
      </>
    );
  } else if (myPlace) {
    actions = (
      <>
        <span className="muted small">You are on the waitlist.</span>
        <button type="button" disabled={busy} onClick={() => run(() => leave.mutateAsync(service.id))}>
          Leave waitlist
        </button>
      </>
    );
  } else {
    actions = (
      <>
        {picker(`Duration for ${service.name}`)}
        <button
          type="button"
          className={heldByOther ? undefined : "primary"}
          disabled={busy}
          title={`Start for ${formatDuration(duration)}`}
          onClick={() => run(() => start.mutateAsync({ serviceId: service.id, body: { durationSeconds: duration } }))}
        >
          {service.requiresApproval ? "Request" : "Start"}
        </button>
        {heldByOther && (
          <button
            type="button"
            className="primary"
            disabled={busy}
            onClick={() => run(() => join.mutateAsync({ serviceId: service.id, durationSeconds: duration }))}
          >
            Join waitlist
          </button>
        )}
      </>
    );
  }

  return (
    <>
      <div className="card-actions">{actions}</div>
      {!mine && !myOffer && <ScheduleForm service={service} durationSeconds={duration} onError={setError} />}
      <ErrorMessage error={error} />
    </>
  );
}
