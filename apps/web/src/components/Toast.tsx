// Short notes about things that happened to the user ("an admin ended your session"): they
// appear in a corner, are read out by screen readers, and go away by themselves or on Dismiss.
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";

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

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<ToastItem[]>([]);
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
