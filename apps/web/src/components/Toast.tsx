// Short notes about things that happened to the user ("an admin ended your session"): they
// appear in a corner, are read out by screen readers, and go away by themselves or on Dismiss.
// They are the signed-in user's: they go when someone else (or nobody) is signed in.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import type { TMe } from "@postern/contracts";
import { queryKeys } from "../api/keys";

export interface ToastInput {
  title: string;
  body?: string;
  tone?: "info" | "success" | "warning" | "danger";
  /** Milliseconds on screen; 0 keeps it until dismissed. */
  timeoutMs?: number;
}

interface ToastItem extends ToastInput {
  id: number;
}

interface ToastApi {
  show: (toast: ToastInput) => void;
}

const ToastContext = createContext<ToastApi>({ show: () => undefined });

export function useToast(): ToastApi {
  return useContext(ToastContext);
}

/** The signed-in user's id, null when nobody is; undefined while the cache has no answer (it is
 * cleared, then given the new one, on every login and logout). */
function signedIn(qc: QueryClient): string | null | undefined {
  const me = qc.getQueryData<TMe | null>(queryKeys.me);
  return me === undefined ? undefined : (me?.user.id ?? null);
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<ToastItem[]>([]);
  const qc = useQueryClient();
  // The provider sits outside the login boundary, so the tab's next user would see the last
  // one's notes: a logout, a login, or a login that ended (a 401) clears them.
  useEffect(() => {
    let who = signedIn(qc);
    return qc.getQueryCache().subscribe(() => {
      const now = signedIn(qc);
      if (now === undefined || now === who) return;
      who = now;
      setToasts([]);
    });
  }, [qc]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((list) => list.filter((t) => t.id !== id)), []);
  const show = useCallback(
    (toast: ToastInput) => {
      const id = next.current++;
      // Keep the last few; a burst of events must not cover the page.
      setToasts((list) => [...list.slice(-3), { ...toast, id }]);
      const timeout = toast.timeoutMs ?? 10_000;
      if (timeout > 0) setTimeout(() => dismiss(id), timeout);
    },
    [dismiss],
  );
  const api = useMemo(() => ({ show }), [show]);
  return (
    <ToastContext.Provider value={api}>
      {children}
      {/* Always in the document, so additions are announced. */}
      <section className="toasts" aria-label="Notifications" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone ?? "info"}`} data-testid="toast">
            <div>
              <strong className="toast-title">{t.title}</strong>
              {t.body && <p className="toast-body">{t.body}</p>}
            </div>
            <button type="button" className="link-button" aria-label={`Dismiss: ${t.title}`} onClick={() => dismiss(t.id)}>
              Dismiss
            </button>
          </div>
        ))}
      </section>
    </ToastContext.Provider>
  );
}
