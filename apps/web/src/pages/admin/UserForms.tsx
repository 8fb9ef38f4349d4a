// Creating and editing a user (admin). Errors sit beside their fields, in the form's words.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ZCreateUserBody, ZUpdateUserBody, type TRole, type TUpdateUserBody, type TUser } from "@postern/contracts";
import { useCreateUser, useGroups, useUpdateUser } from "../../api/users";
import { ErrorMessage } from "../../components/ErrorMessage";
import { Field, focusFirstInvalid } from "../../components/Field";
import { checkBody, formErrors, type FieldMap } from "../../lib/field-errors";
import { GroupChecklist } from "./GroupChecklist";

type UserField = "username" | "password" | "email" | "displayName" | "role" | "groupIds";
const USER_FIELDS: FieldMap<UserField> = {
  username: { field: "username", label: "Username" },
  password: { field: "password", label: "Password" },
  email: { field: "email", label: "E-mail" },
  displayName: { field: "displayName", label: "Display name" },
  role: { field: "role", label: "Role" },
  groupIds: { field: "groupIds", label: "Groups" },
};

/** Submits a checked body, or shows the contract's complaints beside the fields first. */
function useCheckedSubmit() {
  const form = useRef<HTMLFormElement>(null);
  const [localError, setLocalError] = useState<unknown>(null);
  const refocus = () => requestAnimationFrame(() => focusFirstInvalid(form.current));
  return { form, localError, setLocalError, refocus };
}

export function CreateUserForm() {
  const create = useCreateUser();
  const groups = useGroups();
  const { form, localError, setLocalError, refocus } = useCheckedSubmit();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [email, setEmail] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [role, setRole] = useState<TRole>("member");
  const [groupIds, setGroupIds] = useState<string[]>([]);
  const errors = formErrors(localError ?? create.error, USER_FIELDS);

  function submit(e: FormEvent) {
    e.preventDefault();
    create.reset();
    const checked = checkBody(ZCreateUserBody, {
      username: username.trim(),
      password: password || undefined,
      email: email.trim() || undefined,
      displayName: displayName.trim() || undefined,
      role,
      groupIds,
    });
    if (!checked.ok) {
      setLocalError(checked.error);
      refocus();
      return;
    }
    setLocalError(null);
    create.mutate(checked.body, {
      onSuccess: () => {
        setUsername("");
        setPassword("");
        setEmail("");
        setDisplayName("");
        setGroupIds([]);
      },
      onError: refocus,
    });
  }

  return (
    <form ref={form} className="panel form-grid" onSubmit={submit} aria-labelledby="new-user" noValidate>
      <h2 id="new-user">New user</h2>
      <Field label="Username" error={errors.fields.username}>
        {(p) => <input {...p} value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" />}
      </Field>
      <Field label="Password" hint="At least 8 characters; leave empty for users who log in with a provider." error={errors.fields.password}>
        {(p) => <input {...p} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />}
      </Field>
      <Field label="Display name" hint="Optional, e.g. Mia Jensen." error={errors.fields.displayName}>
        {(p) => <input {...p} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />}
      </Field>
      <Field label="E-mail" error={errors.fields.email}>
        {(p) => <input {...p} type="email" value={email} onChange={(e) => setEmail(e.target.value)} />}
      </Field>
      <Field label="Role" error={errors.fields.role}>
        {(p) => (
          <select {...p} value={role} onChange={(e) => setRole(e.target.value as TRole)}>
            <option value="member">member</option>
            <option value="admin">admin</option>
          </select>
        )}
      </Field>
      <GroupChecklist groups={groups.data ?? []} value={groupIds} onChange={setGroupIds} error={errors.fields.groupIds} />
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={create.isPending}>
          Create user
        </button>
        {create.isSuccess && <span role="status">Created {create.data.username}.</span>}
      </div>
      <div className="wide">
        <ErrorMessage error={errors.general} />
      </div>
    </form>
  );
}

/** Profile, groups and (for local accounts) a new password. Role and disabling live in the list. */
export function EditUserForm({ user, onDone }: { user: TUser; onDone: () => void }) {
  const update = useUpdateUser();
  const groups = useGroups();
  const { form, localError, setLocalError, refocus } = useCheckedSubmit();
  const heading = useRef<HTMLHeadingElement>(null);
  const [email, setEmail] = useState(user.email ?? "");
  const [displayName, setDisplayName] = useState(user.displayName ?? "");
  const [groupIds, setGroupIds] = useState(user.groups.map((g) => g.id));
  const [password, setPassword] = useState("");
  const [revokeTokens, setRevokeTokens] = useState(false);
  const errors = formErrors(localError ?? update.error, USER_FIELDS);

  useEffect(() => {
    heading.current?.focus();
    heading.current?.scrollIntoView({ block: "nearest" });
  }, []);

  function submit(e: FormEvent) {
    e.preventDefault();
    update.reset();
    const body: TUpdateUserBody = {
      email: email.trim() || null,
      displayName: displayName.trim() || null,
      groupIds,
      ...(password ? { password, revokeTokens: revokeTokens || undefined } : {}),
    };
    const checked = checkBody(ZUpdateUserBody, body);
    if (!checked.ok) {
      setLocalError(checked.error);
      refocus();
      return;
    }
    setLocalError(null);
    update.mutate({ id: user.id, body: checked.body }, { onSuccess: onDone, onError: refocus });
  }

  return (
    <form ref={form} className="panel form-grid" onSubmit={submit} aria-labelledby="edit-user" noValidate>
      <h2 id="edit-user" ref={heading} tabIndex={-1}>
        Edit {user.username}
      </h2>
      <Field label="Display name" error={errors.fields.displayName}>
        {(p) => <input {...p} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />}
      </Field>
      <Field label="E-mail" error={errors.fields.email}>
        {(p) => <input {...p} type="email" value={email} onChange={(e) => setEmail(e.target.value)} />}
      </Field>
      <Field label="New password" hint="Leave empty to keep the current one. Setting one logs the user out everywhere." error={errors.fields.password}>
        {(p) => <input {...p} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />}
      </Field>
      {password && (
        <label className="check">
          <input type="checkbox" checked={revokeTokens} onChange={(e) => setRevokeTokens(e.target.checked)} />
          Also revoke their API tokens
        </label>
      )}
      <GroupChecklist groups={groups.data ?? []} value={groupIds} onChange={setGroupIds} error={errors.fields.groupIds} />
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={update.isPending}>
          Save changes
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      <div className="wide">
        <ErrorMessage error={errors.general} />
      </div>
    </form>
  );
}
