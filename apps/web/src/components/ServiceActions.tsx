// What the caller can do with a service right now, each in one click: start, extend, end,
// request, join or leave the waitlist, accept an offer, or book a later window. Every button
// names its service for screen readers ("Start Customer VPN"), stays in place while its request
// runs, and the keyboard lands on the next sensible control when the buttons change.
import { useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import type { TService, TSession, TUserRef } from "@postern/contracts";
import { queryKeys } from "../api/keys";
import {
  useAcceptOffer,
  useEndSession,
  useExtendSession,
  useJoinWaitlist,
  useLeaveWaitlist,
  useStartSession,
} from "../api/sessions";
import { durationChoices, formatDuration } from "../lib/format";
import { Countdown } from "./Countdown";
import { DurationPicker } from "./DurationPicker";
import { ErrorMessage } from "./ErrorMessage";
import { NotifyMeButton } from "./NotifyMeButton";
import { ScheduleForm } from "./ScheduleForm";
import { useExtendChoice } from "./use-extend-choice";
import { useFocusAfter } from "./use-focus-after";

/** Who holds what on this service: an error shown about an older situation is stale. */
export function situationOf(sessions: TSession[]): string {
  return sessions
    .map((s) => `${s.id}:${s.status}:${s.expiresAt ?? ""}`)
    .sort()
    .join("|");
}

function ActionButton(props: {
  focusKey: string;
  verb: string;
  service: string;
  busy: boolean;
  className?: string;
  title?: string;
  onClick: () => void;
}) {
  // Not `disabled` while busy: a disabled button loses the keyboard focus.
  return (
    <button
      type="button"
      className={props.className}
      data-focus={props.focusKey}
      aria-disabled={props.busy || undefined}
      title={props.title}
      onClick={() => {
        if (!props.busy) props.onClick();
      }}
    >
      {props.verb}
      <span className="sr-only"> {props.service}</span>
    </button>
  );
}

export function ServiceActions({
  service,
  sessions,
  me,
  compact = false,
}: {
  service: TService;
  sessions: TSession[];
  me: TUserRef;
  /** The board's list view: no booking form. */
  compact?: boolean;
}) {
  const [duration, setDuration] = useState(service.defaultDurationSeconds);
  const [failure, setFailure] = useState<{ error: unknown; situation: string } | null>(null);
  const container = useRef<HTMLDivElement>(null);
  const focusAfter = useFocusAfter(container);
  const start = useStartSession();
  const extend = useExtendSession();
  const end = useEndSession();
  const join = useJoinWaitlist();
  const leave = useLeaveWaitlist();
  const accept = useAcceptOffer();
  const busy = [start, extend, end, join, leave, accept].some((m) => m.isPending);
  const situation = situationOf(sessions);
  const qc = useQueryClient();
  // The board as it stands once a refused action has refreshed it (mutations refetch before
  // they settle), so the error lasts exactly until something changes on this service.
  const currentSituation = () =>
    situationOf((qc.getQueryData<TSession[]>(queryKeys.activeSessions) ?? []).filter((s) => s.serviceId === service.id));

  const mineWith = (status: TSession["status"]) => sessions.find((s) => s.userId === me.id && s.status === status);
  const mine = mineWith("active");
  const myRequest = mineWith("pending");
  const myOffer = mineWith("offered");
  const myPlace = mineWith("waiting");
  // Starting an exclusive service someone else holds is answered with a 409 naming them; the
  // button stays (the holder may be about to leave) but the waitlist becomes the main action.
  const heldByOther = service.exclusive && sessions.some((s) => s.status === "active" && s.userId !== me.id);
  const extendChoice = useExtendChoice(mine, service, sessions);

  async function run(action: () => Promise<unknown>, focusNext: string[], after?: () => void) {
    setFailure(null);
    try {
      await action();
      after?.();
      focusAfter(focusNext);
    } catch (error) {
      setFailure({ error, situation: currentSituation() });
    }
  }
  const reportFailure = (error: unknown) => setFailure(error ? { error, situation: currentSituation() } : null);
  const resetChoices = () => {
    setDuration(service.defaultDurationSeconds);
    extendChoice.reset();
  };
  const btn = (focusKey: string, verb: string, onClick: () => void, className?: string, title?: string) => (
    <ActionButton focusKey={focusKey} verb={verb} service={service.name} busy={busy} className={className} title={title} onClick={onClick} />
  );

  let actions: ReactNode;
  if (mine?.expiresAt) {
    const by = extendChoice.value;
    actions = (
      <>
        {by !== undefined ? (
          <>
            <DurationPicker
              label={`Extend ${service.name} by`}
              value={by}
              onChange={extendChoice.setValue}
              choices={extendChoice.choices}
              notes={extendChoice.longest !== undefined ? new Map([[extendChoice.longest, "longest allowed"]]) : undefined}
            />
            {btn("extend", "Extend", () => run(() => extend.mutateAsync({ sessionId: mine.id, durationSeconds: by }), ["extend", "end"], extendChoice.reset))}
          </>
        ) : (
          <span className="muted small" data-testid="extend-limit">
            {extendChoice.blockedByBooking ? "Booked right after: cannot extend" : `At the ${formatDuration(service.maxDurationSeconds)} maximum`}
          </span>
        )}
        {btn("end", "End", () => run(() => end.mutateAsync(mine.id), ["start", "request", "join"], resetChoices), "danger")}
        {service.url && (
          <a className="button-link" href={service.url} target="_blank" rel="noreferrer">
            Open<span className="sr-only"> {service.name} (new tab)</span>
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
        {btn("accept", "Accept", () => run(() => accept.mutateAsync({ sessionId: myOffer.id }), ["extend", "end"]), "primary")}
        {btn("pass", "Pass", () => run(() => leave.mutateAsync(service.id), ["start", "join"], resetChoices))}
      </>
    );
  } else if (myRequest) {
    actions = (
      <>
        <span className="muted small">Your request for {formatDuration(myRequest.durationSeconds)} is waiting for an admin.</span>
        {btn("cancel-request", "Cancel request", () => run(() => end.mutateAsync(myRequest.id), ["request", "start"], resetChoices))}
      </>
    );
  } else if (myPlace) {
    actions = (
      <>
        <span className="muted small">You are on the waitlist.</span>
        {btn("leave", "Leave waitlist", () => run(() => leave.mutateAsync(service.id), ["join", "start"], resetChoices))}
        <NotifyMeButton />
      </>
    );
  } else {
    const verb = service.requiresApproval ? "Request" : "Start";
    actions = (
      <>
        <DurationPicker
          label={`Duration for ${service.name}`}
          value={duration}
          onChange={setDuration}
          choices={durationChoices(service.defaultDurationSeconds, service.maxDurationSeconds)}
          notes={new Map([[service.defaultDurationSeconds, "default"]])}
        />
        {btn(
          verb.toLowerCase(),
          verb,
          () =>
            run(
              () => start.mutateAsync({ serviceId: service.id, body: { durationSeconds: duration } }),
              ["extend", "end", "cancel-request"],
            ),
          heldByOther ? undefined : "primary",
          `${verb} for ${formatDuration(duration)}`,
        )}
        {heldByOther &&
          btn("join", "Join waitlist", () => run(() => join.mutateAsync({ serviceId: service.id, durationSeconds: duration }), ["leave"]), "primary")}
      </>
    );
  }

  const error = failure && failure.situation === situation ? failure.error : null;
  return (
    <div className="service-actions" ref={container}>
      <div className="card-actions">{actions}</div>
      {!compact && !mine && !myOffer && <ScheduleForm service={service} durationSeconds={duration} onError={reportFailure} />}
      <ErrorMessage error={error} />
    </div>
  );
}
