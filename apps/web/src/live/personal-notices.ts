// Which live events happened to *you*, and what to tell you about them: an admin ended your
// session, your request was decided, the service you waited for is yours to take.
import type { TLiveEvent, TRevocationCause } from "@postern/contracts";
import type { ToastInput } from "../components/Toast";

export interface PersonalNotice extends ToastInput {
  /** Also worth a browser notification (with permission) when the tab is in the background. */
  notify?: boolean;
}

const REVOKED: Record<TRevocationCause, string> = {
  member_removed: "you were removed from a group that grants it",
  service_groups_changed: "its groups changed",
  group_deleted: "a group that granted it was deleted",
  demoted: "you are no longer an admin",
  user_disabled: "your account was disabled",
  user_deleted: "your account was deleted",
  service_deleted: "the service was deleted",
  no_longer_visible: "you may no longer use it",
};

export function personalNotice(event: TLiveEvent, me: string | undefined, serviceName: (id: string) => string): PersonalNotice | null {
  if (!me || !("session" in event) || event.session.userId !== me) return null;
  const s = event.session;
  const name = serviceName(s.serviceId);
  const by = s.endedBy && s.endedBy.id !== me ? s.endedBy.username : "An admin";
  switch (event.type) {
    case "session.force_ended":
      return { title: `${by} ended your session on ${name}`, tone: "warning", notify: true };
    case "session.ended":
      // Ended by someone else (a server that names every early end `session.ended`).
      return s.endedBy && s.endedBy.id !== me ? { title: `${by} ended your session on ${name}`, tone: "warning", notify: true } : null;
    case "session.revoked":
      return { title: `Your session on ${name} ended`, body: `You no longer have access: ${REVOKED[event.cause]}.`, tone: "warning", notify: true };
    case "session.approved":
      return {
        title: `Your request for ${name} was approved`,
        body: s.status === "scheduled" ? "It starts by itself at the booked time." : undefined,
        tone: "success",
        notify: true,
      };
    case "session.denied":
      return { title: `Your request for ${name} was denied`, tone: "danger", notify: true };
    case "session.offered":
      return {
        title: `Your turn: ${name} is free`,
        body: "Accept it on the board before the offer passes to the next in line.",
        tone: "success",
        notify: true,
        timeoutMs: 0,
      };
    case "session.offer_expired":
      return { title: `Your offer for ${name} lapsed`, body: "It passed to the next in line.", tone: "warning" };
    case "session.expired":
      if (s.startedAt) return { title: `Your session on ${name} expired`, tone: "info" };
      // A request for a window that passed before it could start (undecided): nothing will start it now.
      if (!s.startsAt) return null;
      return {
        title: `Your request for ${name} lapsed`,
        body: "Its time passed before it could start. Ask again for a new time.",
        tone: "warning",
        notify: true,
      };
    default:
      return null;
  }
}
