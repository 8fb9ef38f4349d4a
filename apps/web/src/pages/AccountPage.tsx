// The caller's own account: who they are, their password (local accounts), notifications.
import { useRef, useState, type FormEvent } from "react";
import { ZChangePasswordBody } from "@postern/contracts";
import { useNavigate } from "react-router-dom";
import { useLogoutEverywhere, useMe } from "../api/auth";
import { ConfirmButton } from "../components/ConfirmDialog";
import { useChangeMyPassword } from "../api/users";
import { ErrorMessage } from "../components/ErrorMessage";
import { Field, focusFirstInvalid } from "../components/Field";
import { checkBody, formErrors, type FieldMap } from "../lib/field-errors";
import { usePageTitle } from "../lib/page-title";

type PasswordField = "currentPassword" | "newPassword" | "repeat";
const PASSWORD_FIELDS: FieldMap<PasswordField> = {
  currentPassword: { field: "currentPassword", label: "Current password" },
  newPassword: { field: "newPassword", label: "New password" },
};

function ChangePasswordForm() {
  const change = useChangeMyPassword();
  const form = useRef<HTMLFormElement>(null);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [revokeTokens, setRevokeTokens] = useState(false);
  const [localError, setLocalError] = useState<unknown>(null);
  const [repeatError, setRepeatError] = useState<string | null>(null);
  const errors = formErrors(localError ?? change.error, PASSWORD_FIELDS);

  function submit(e: FormEvent) {
    e.preventDefault();
    change.reset();
    const checked = checkBody(ZChangePasswordBody, { currentPassword: current, newPassword: next, revokeTokens: revokeTokens || undefined });
    setRepeatError(next === repeat ? null : "does not match the new password");
    if (!checked.ok || next !== repeat) {
      setLocalError(checked.ok ? null : checked.error);
      requestAnimationFrame(() => focusFirstInvalid(form.current));
      return;
    }
    setLocalError(null);
    change.mutate(checked.body, {
      onSuccess: () => {
        setCurrent("");
        setNext("");
        setRepeat("");
      },
      onError: () => requestAnimationFrame(() => focusFirstInvalid(form.current)),
    });
  }

  return (
    <form ref={form} className="panel form-grid" onSubmit={submit} aria-labelledby="password-title" noValidate>
      <h2 id="password-title">Change your password</h2>
      <Field label="Current password" error={errors.fields.currentPassword}>
        {(p) => <input {...p} type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />}
      </Field>
      <Field label="New password" hint="At least 8 characters." error={errors.fields.newPassword}>
        {(p) => <input {...p} type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} />}
      </Field>
      <Field label="New password again" error={repeatError}>
        {(p) => <input {...p} type="password" autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} />}
      </Field>
      <label className="check wide">
        <input type="checkbox" checked={revokeTokens} onChange={(e) => setRevokeTokens(e.target.checked)} />
        Also revoke my API tokens
      </label>
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={change.isPending}>
          Change password
        </button>
        {change.isSuccess && (
          <span role="status">
            Password changed.{" "}
            {change.data.endedLogins > 0 && `${change.data.endedLogins} other login${change.data.endedLogins === 1 ? "" : "s"} ended. `}
            {change.data.revokedTokens > 0 && `${change.data.revokedTokens} token${change.data.revokedTokens === 1 ? "" : "s"} revoked.`}
          </span>
        )}
      </div>
      <div className="wide">
        <ErrorMessage error={errors.general} />
      </div>
    </form>
  );
}

function NotificationSetting() {
  const supported = typeof Notification !== "undefined";
  const [permission, setPermission] = useState(() => (supported ? Notification.permission : "denied"));
  if (!supported) return <p className="muted">This browser cannot show notifications.</p>;
  return (
    <p>
      {permission === "granted" && "Browser notifications are on: Postern tells you when a service you wait for is yours, even in a background tab."}
      {permission === "denied" && "Browser notifications are blocked for this site; allow them in the browser's site settings."}
      {permission === "default" && (
        <>
          Get a browser notification when a service you wait for is yours, or an admin ends your session.{" "}
          <button type="button" onClick={() => void Notification.requestPermission().then(setPermission)}>
            Turn on notifications
          </button>
        </>
      )}
    </p>
  );
}

function LogoutEverywhere() {
  const logoutEverywhere = useLogoutEverywhere();
  const navigate = useNavigate();
  return (
    <section className="panel" aria-labelledby="devices-title">
      <h2 id="devices-title">Logins</h2>
      <p>Lost a laptop, or logged in on a shared computer? End every login of yours at once, this one included.</p>
      <ConfirmButton
        className="danger"
        title="Log out on every device?"
        body={<p>This ends this login and every other one of yours, on every device.</p>}
        confirmLabel="Log out everywhere"
        danger
        onConfirm={() => logoutEverywhere.mutate(undefined, { onSettled: () => navigate("/login", { replace: true }) })}
      >
        Log out everywhere
      </ConfirmButton>
    </section>
  );
}

export function AccountPage() {
  usePageTitle("Your account");
  const me = useMe().data;
  if (!me) return null;
  const u = me.user;
  return (
    <div className="stack">
      <h1>Your account</h1>
      <section className="panel" aria-labelledby="profile-title">
        <h2 id="profile-title">Profile</h2>
        <dl className="facts">
          <dt>Username</dt>
          <dd>{u.username}</dd>
          <dt>Name</dt>
          <dd>{u.displayName ?? <span className="muted">—</span>}</dd>
          <dt>E-mail</dt>
          <dd>{u.email ?? <span className="muted">—</span>}</dd>
          <dt>Role</dt>
          <dd>{u.role}</dd>
          <dt>Groups</dt>
          <dd>{u.groups.map((g) => g.name).join(", ") || <span className="muted">none</span>}</dd>
        </dl>
        <p className="muted small">An admin changes your name, e-mail and groups.</p>
      </section>
      {me.hasPassword ? (
        <ChangePasswordForm />
      ) : (
        <section className="panel" aria-labelledby="password-title">
          <h2 id="password-title">Password</h2>
          <p>You log in through your organisation’s login provider, so there is no Postern password to change.</p>
        </section>
      )}
      <section className="panel" aria-labelledby="notify-title">
        <h2 id="notify-title">Notifications</h2>
        <NotificationSetting />
      </section>
      <LogoutEverywhere />
    </div>
  );
}
