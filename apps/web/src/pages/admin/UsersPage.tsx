// Users (admin): create, edit (name, e-mail, groups, password), change role, disable or delete
// with a reason. Everything hard to undo asks first.
import { useState } from "react";
import type { TRole, TUser } from "@postern/contracts";
import { useMe } from "../../api/auth";
import { useDeleteUser, useUpdateUser, useUsers } from "../../api/users";
import { ConfirmButton, ConfirmDialog } from "../../components/ConfirmDialog";
import { DataTable } from "../../components/DataTable";
import { ErrorMessage, RefreshFailed } from "../../components/ErrorMessage";
import { Skeleton } from "../../components/Loading";
import { useFocusAfter } from "../../components/use-focus-after";
import { usePageTitle } from "../../lib/page-title";
import { CreateUserForm, EditUserForm } from "./UserForms";

function RoleSelect({ user, isSelf }: { user: TUser; isSelf: boolean }) {
  const update = useUpdateUser();
  const [wanted, setWanted] = useState<TRole | null>(null);
  const promote = wanted === "admin";
  return (
    <>
      <select
        aria-label={`Role of ${user.username}`}
        value={user.role}
        disabled={update.isPending || isSelf}
        title={isSelf ? "You cannot change your own role" : undefined}
        onChange={(e) => setWanted(e.target.value as TRole)}
      >
        <option value="member">member</option>
        <option value="admin">admin</option>
      </select>
      <ConfirmDialog
        open={wanted !== null}
        title={promote ? `Make ${user.username} an admin?` : `Make ${user.username} a member?`}
        body={
          <p>
            {promote
              ? "Admins manage users, groups, services and tokens, and read the audit trail."
              : "They lose the admin pages; their sessions on services none of their groups grant end at once."}
          </p>
        }
        confirmLabel={promote ? "Make admin" : "Make member"}
        danger={!promote}
        onCancel={() => setWanted(null)}
        onConfirm={() => {
          if (wanted) update.mutate({ id: user.id, body: { role: wanted } });
          setWanted(null);
        }}
      />
      <ErrorMessage error={update.error} />
    </>
  );
}

const editUserKey = (id: string) => `edit-user-${id}`;

function UserActions({ user, isSelf, onEdit }: { user: TUser; isSelf: boolean; onEdit: () => void }) {
  const update = useUpdateUser();
  const remove = useDeleteUser();
  const busy = update.isPending || remove.isPending;
  return (
    <>
      <button type="button" aria-label={`Edit ${user.username}`} data-focus={editUserKey(user.id)} onClick={onEdit}>
        Edit
      </button>
      {user.disabled ? (
        <button type="button" aria-label={`Enable ${user.username}`} disabled={busy} onClick={() => update.mutate({ id: user.id, body: { disabled: false } })}>
          Enable
        </button>
      ) : (
        <ConfirmButton
          className="danger"
          aria-label={`Disable ${user.username}`}
          disabled={busy || isSelf}
          title={`Disable ${user.username}?`}
          body={<p>They are logged out everywhere, their sessions, waitlist places and tokens end, and they cannot log in until enabled again.</p>}
          reason={{ label: "Reason (kept in the audit trail)" }}
          confirmLabel="Disable"
          danger
          onConfirm={(reason) => update.mutate({ id: user.id, body: { disabled: true, reason } })}
        >
          Disable
        </ConfirmButton>
      )}
      <ConfirmButton
        className="danger"
        aria-label={`Delete ${user.username}`}
        disabled={busy || isSelf}
        title={`Delete ${user.username}?`}
        body={<p>The account is removed for good; the audit trail keeps what they did. To keep the account, disable it instead.</p>}
        reason={{ label: "Reason (kept in the audit trail)" }}
        confirmLabel="Delete user"
        danger
        onConfirm={(reason) => remove.mutate({ id: user.id, reason })}
      >
        Delete
      </ConfirmButton>
      <ErrorMessage error={update.error ?? remove.error} />
    </>
  );
}

export function UsersPage() {
  usePageTitle("Users · Admin");
  const users = useUsers();
  const me = useMe().data;
  const [editing, setEditing] = useState<TUser | null>(null);
  const focusAfter = useFocusAfter(null);
  // Edit the freshest copy (the list refreshes live).
  const current = editing ? (users.data?.find((u) => u.id === editing.id) ?? editing) : null;
  return (
    <div className="stack">
      {current ? <EditUserForm key={current.id} user={current} onDone={() => {
            setEditing(null);
            focusAfter([editUserKey(current.id)]);
          }}
        /> : <CreateUserForm />}
      <section className="panel" aria-labelledby="users-title">
        <h2 id="users-title">Users</h2>
        <RefreshFailed error={users.isRefetchError ? users.error : null} />
        {users.isPending ? (
          <Skeleton what="Loading users" />
        ) : users.isLoadingError ? (
          <ErrorMessage error={users.error} />
        ) : (
          <DataTable
            caption="Users"
            rows={users.data}
            rowKey={(u) => u.id}
            rowClassName={(u) => (u.disabled ? "row-disabled" : undefined)}
            empty={<p>No users yet.</p>}
            columns={[
              {
                key: "username",
                header: "Username",
                rowHeader: true,
                cell: (u) => (
                  <>
                    {u.username}
                    {u.displayName && <div className="muted small">{u.displayName}</div>}
                  </>
                ),
              },
              { key: "email", header: "E-mail", cell: (u) => u.email ?? <span className="muted">—</span> },
              { key: "role", header: "Role", cell: (u) => <RoleSelect user={u} isSelf={u.id === me?.user.id} /> },
              { key: "groups", header: "Groups", cell: (u) => u.groups.map((g) => g.name).join(", ") || <span className="muted">none</span> },
              {
                key: "state",
                header: "State",
                cell: (u) => (u.disabled ? <span className="status status-denied">disabled</span> : <span className="status status-active">active</span>),
              },
              {
                key: "actions",
                header: "Actions",
                hideHeader: true,
                actions: true,
                cell: (u) => <UserActions user={u} isSelf={u.id === me?.user.id} onEdit={() => setEditing(u)} />,
              },
            ]}
          />
        )}
      </section>
    </div>
  );
}
