// Users (admin): create local users, change role, disable or enable.
import { useState, type FormEvent } from "react";
import type { TRole, TUser } from "@postern/contracts";
import { useMe } from "../../api/auth";
import { useCreateUser, useGroups, useUpdateUser, useUsers } from "../../api/users";
import { ErrorMessage } from "../../components/ErrorMessage";
import { Loading } from "../../components/Loading";
import { GroupChecklist } from "./GroupChecklist";

function CreateUserForm() {
  const create = useCreateUser();
  const groups = useGroups();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<TRole>("member");
  const [groupIds, setGroupIds] = useState<string[]>([]);

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate(
      { username: username.trim(), password: password || undefined, email: email.trim() || undefined, role, groupIds },
      {
        onSuccess: () => {
          setUsername("");
          setPassword("");
          setEmail("");
          setGroupIds([]);
        },
      },
    );
  }

  return (
    <form className="panel form-grid" onSubmit={submit} aria-labelledby="new-user">
      <h2 id="new-user">New user</h2>
      <label className="field">
        <span>Username</span>
        <input required value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" />
      </label>
      <label className="field">
        <span>Password</span>
        <input
          type="password"
          value={password}
          minLength={8}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete="new-password"
          aria-describedby="pw-hint"
        />
        <small id="pw-hint" className="muted">
          At least 8 characters; leave empty for OIDC-only users.
        </small>
      </label>
      <label className="field">
        <span>E-mail</span>
        <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label className="field">
        <span>Role</span>
        <select value={role} onChange={(e) => setRole(e.target.value as TRole)}>
          <option value="member">member</option>
          <option value="admin">admin</option>
        </select>
      </label>
      <GroupChecklist groups={groups.data ?? []} value={groupIds} onChange={setGroupIds} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          Create user
        </button>
        {create.isSuccess && <span role="status">Created {create.data.username}.</span>}
      </div>
      <ErrorMessage error={create.error} />
    </form>
  );
}

function UserRow({ user, isSelf }: { user: TUser; isSelf: boolean }) {
  const update = useUpdateUser();
  return (
    <tr className={user.disabled ? "row-disabled" : undefined}>
      <th scope="row">
        {user.username}
        {user.displayName && <div className="muted small">{user.displayName}</div>}
      </th>
      <td>{user.email ?? ""}</td>
      <td>
        <select
          aria-label={`Role of ${user.username}`}
          value={user.role}
          disabled={update.isPending || isSelf}
          onChange={(e) => update.mutate({ id: user.id, body: { role: e.target.value as TRole } })}
        >
          <option value="member">member</option>
          <option value="admin">admin</option>
        </select>
      </td>
      <td>{user.groups.map((g) => g.name).join(", ")}</td>
      <td>{user.disabled ? <span className="status status-denied">disabled</span> : "active"}</td>
      <td className="row-actions">
        <button
          type="button"
          className={user.disabled ? undefined : "danger"}
          disabled={update.isPending || isSelf}
          onClick={() => update.mutate({ id: user.id, body: { disabled: !user.disabled } })}
        >
          {user.disabled ? "Enable" : "Disable"}
        </button>
        <ErrorMessage error={update.error} />
      </td>
    </tr>
  );
}

export function UsersPage() {
  const users = useUsers();
  const me = useMe().data;
  return (
    <div className="stack">
      <CreateUserForm />
      <section className="panel" aria-labelledby="users-title">
        <h2 id="users-title">Users</h2>
        {users.isPending ? (
          <Loading />
        ) : users.isError ? (
          <ErrorMessage error={users.error} />
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">E-mail</th>
                  <th scope="col">Role</th>
                  <th scope="col">Groups</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <UserRow key={u.id} user={u} isSelf={u.id === me?.user.id} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
