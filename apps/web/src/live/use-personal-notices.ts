// Tells the user what happened to them: a toast for each personal event, a browser notification
// for the important ones while the tab is in the background (with permission), and the tab's
// title while a waitlist offer waits for them.
import { useCallback } from "react";
import { useQueryClient } from "@tanstack/react-query";
import type { TLiveEvent, TService } from "@postern/contracts";
import { queryKeys } from "../api/keys";
import { useActiveSessions } from "../api/sessions";
import { useServices } from "../api/services";
import { useToast } from "../components/Toast";
import { useTitleAttention } from "../lib/page-title";
import { personalNotice } from "./personal-notices";

function notifyBrowser(title: string, body?: string): void {
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  // A visible, focused tab already shows the toast.
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  try {
    new Notification(title, { body, tag: title });
  } catch {
    // Some browsers allow notifications only from a service worker; the toast and title remain.
  }
}

/** The live stream's event handler that raises the notices. */
export function usePersonalNotices(): (event: TLiveEvent, me: string | undefined) => void {
  const qc = useQueryClient();
  const toast = useToast();
  return useCallback(
    (event, me) => {
      const services = qc.getQueryData<TService[]>(queryKeys.services) ?? [];
      const notice = personalNotice(event, me, (id) => services.find((s) => s.id === id)?.name ?? "a service");
      if (!notice) return;
      toast.show(notice);
      if (notice.notify) notifyBrowser(notice.title, notice.body);
    },
    [qc, toast],
  );
}

/** While a freed service is offered to me, the tab's title says so. */
export function useOfferAttention(me: string | undefined): void {
  const sessions = useActiveSessions().data ?? [];
  const services = useServices().data ?? [];
  const offer = sessions.find((s) => s.status === "offered" && s.userId === me);
  const name = offer ? (services.find((s) => s.id === offer.serviceId)?.name ?? "a service") : "";
  useTitleAttention(offer ? `Your turn: ${name}` : "");
}
