// A modal question before something that is hard to undo (disable, delete, force end, a role
// change), optionally asking why. A native <dialog>: focus stays inside while it is open and
// returns to what opened it when it closes.
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Field } from "./Field";

export interface ConfirmOptions {
  title: string;
  body?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** Ask for a reason, kept in the audit trail. */
  reason?: { label: string; required?: boolean };
}

export function ConfirmDialog(props: ConfirmOptions & { open: boolean; onConfirm: (reason?: string) => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [reason, setReason] = useState("");

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) {
      setReason("");
      dialog.showModal();
    } else if (!props.open && dialog.open) {
      dialog.close();
    }
  }, [props.open]);

  function submit(e: FormEvent) {
    e.preventDefault();
    props.onConfirm(reason.trim() || undefined);
  }

  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onCancel={props.onCancel} onClose={() => props.open && props.onCancel()}>
      <form onSubmit={submit} className="stack">
        <h2 id={titleId}>{props.title}</h2>
        {props.body && <div className="dialog-body">{props.body}</div>}
        {props.reason && (
          <Field label={props.reason.label} hint={props.reason.required ? undefined : "Optional."}>
            {(p) => <textarea {...p} rows={2} maxLength={500} required={props.reason?.required} value={reason} onChange={(e) => setReason(e.target.value)} />}
          </Field>
        )}
        <div className="form-actions dialog-actions">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className={props.danger ? "primary danger" : "primary"}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** A button that asks first. */
export function ConfirmButton(
  props: ConfirmOptions & {
    children: ReactNode;
    /** The button's accessible name when its text alone is ambiguous ("Disable mia"). */
    "aria-label"?: string;
    className?: string;
    disabled?: boolean;
    onConfirm: (reason?: string) => void;
  },
) {
  const [open, setOpen] = useState(false);
  const { children, className, disabled, onConfirm, "aria-label": ariaLabel, ...options } = props;
  return (
    <>
      <button type="button" className={className} aria-label={ariaLabel} aria-haspopup="dialog" disabled={disabled} onClick={() => setOpen(true)}>
        {children}
      </button>
      <ConfirmDialog
        {...options}
        open={open}
        onCancel={() => setOpen(false)}
        onConfirm={(reason) => {
          setOpen(false);
          onConfirm(reason);
        }}
      />
    </>
  );
}
