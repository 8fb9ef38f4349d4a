// Groups (admin): create, rename, delete; add and remove members; and which services each
// group grants, since that is what membership means.
import { useRef, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import type { TGroup, TService, TUser } from "@postern/contracts";
import { useServices } from "../../api/services";
import { useCreateGroup, useDeleteGroup, useGroupMember, useGroups, useRenameGroup, useUsers } from "../../api/users";
import { ConfirmButton } from "../../components/ConfirmDialog";
import { ErrorMessage, RefreshFailed } from "../../components/ErrorMessage";
import { Field, focusFirstInvalid } from "../../components/Field";
import { Skeleton } from "../../components/Loading";
import { useFocusAfter } from "../../components/use-focus-after";
import { formErrors, type FieldMap } from "../../lib/field-errors";
import { usePageTitle } from "../../lib/page-title";

const NAME_FIELD: FieldMap<"name"> = { name: { field: "name", label: "Name" } };

function RenameForm({ group, onDone }: { group: TGroup; onDone: () => void }) {
  const rename = useRenameGroup();
  const form = useRef<HTMLFormElement>(null);
  const [name, setName] = useState(group.name);
  const errors = formErrors(rename.error, NAME_FIELD);
  return (
    <form
      ref={form}
      className="inline-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        rename.mutate(
          { id: group.id, body: { name: name.trim() } },
          { onSuccess: onDone, onError: () => requestAnimationFrame(() => focusFirstInvalid(form.current)) },
        );
      }}
    >
      <Field label={`New name for ${group.name}`} error={errors.fields.name}>
        {(p) => <input {...p} autoFocus value={name} onChange={(e) => setName(e.target.value)} />}
      </Field>
      <button type="submit" className="primary" disabled={rename.isPending}>
        Save
      </button>
      <button type="button" onClick={onDone}>
        Cancel
      </button>
      <ErrorMessage error={errors.general} />
    </form>
  );
}

function GroupCard({ group, users, services }: { group: TGroup; users: TUser[]; services: TService[] }) {
  const member = useGroupMember();
  const remove = useDeleteGroup();
  const [userId, setUserId] = useState("");
  const [renaming, setRenaming] = useState(false);
  const card = useRef<HTMLElement>(null);
  const focusAfter = useFocusAfter(card);
  const members = group.members ?? [];
  const candidates = users.filter((u) => !members.some((m) => m.id === u.id));
  const grants = services.filter((s) => s.groupIds.includes(group.id));
  // Services only this group grants: deleting it takes them away from its members.
  const onlyHere = grants.filter((s) => s.groupIds.length === 1);

  function add(e: FormEvent) {
    e.preventDefault();
    if (userId) member.mutate({ groupId: group.id, userId, member: true }, { onSuccess: () => setUserId("") });
  }

  return (
    <article ref={card} className="panel group-card" aria-labelledby={`group-${group.id}`} data-testid={`group-${group.name}`}>
      <header className="card-head">
        <h2 id={`group-${group.id}`} className="card-title">
          {group.name}
        </h2>
        <div className="row-actions">
          <button type="button" className="link-button" aria-label={`Rename ${group.name}`} data-focus="rename" onClick={() => setRenaming(true)}>
            Rename
          </button>
          <ConfirmButton
            className="link-button danger"
            aria-label={`Delete ${group.name}`}
            disabled={remove.isPending}
            title={`Delete the group ${group.name}?`}
            body={
              <p>
                {members.length} member{members.length === 1 ? "" : "s"} leave it.
                {onlyHere.length > 0
                  ? ` Only this group grants ${onlyHere.map((s) => s.name).join(", ")}: its members lose access there, and their sessions on it end.`
                  : " No service depends on it alone."}
              </p>
            }
            confirmLabel="Delete group"
            danger
            onConfirm={() => remove.mutate(group.id)}
          >
            Delete
          </ConfirmButton>
        </div>
      </header>
      {renaming && (
        <RenameForm
          group={group}
          onDone={() => {
            setRenaming(false);
            focusAfter(["rename"]);
          }}
        />
      )}
      <p className="small grants">
        <span className="muted">Grants: </span>
        {grants.length === 0 ? (
          <span className="muted">
            no service yet — <Link to="/admin/services">allow it on a service</Link>
          </span>
        ) : (
          grants.map((s, i) => (
            <span key={s.id}>
              {i > 0 && ", "}
              {s.name}
            </span>
          ))
        )}
      </p>
      <h3 className="small muted">Members</h3>
      {members.length === 0 ? (
        <p className="muted small">No members yet.</p>
      ) : (
        <ul className="member-list">
          {members.map((m) => (
            <li key={m.id}>
              {m.displayName ?? m.username}
              <button
                type="button"
                className="link-button danger"
                aria-label={`Remove ${m.username} from ${group.name}`}
                disabled={member.isPending}
                onClick={() => member.mutate({ groupId: group.id, userId: m.id, member: false })}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="inline-form" onSubmit={add}>
        <label className="sr-only" htmlFor={`add-${group.id}`}>
          Add a member to {group.name}
        </label>
        <select id={`add-${group.id}`} value={userId} onChange={(e) => setUserId(e.target.value)}>
          <option value="">Choose a user…</option>
          {candidates.map((u) => (
            <option key={u.id} value={u.id}>
              {u.username}
            </option>
          ))}
        </select>
        <button type="submit" disabled={!userId || member.isPending}>
          Add member<span className="sr-only"> to {group.name}</span>
        </button>
      </form>
      <ErrorMessage error={member.error ?? remove.error} />
    </article>
  );
}

export function GroupsPage() {
  usePageTitle("Groups · Admin");
  const groups = useGroups();
  const users = useUsers();
  const services = useServices();
  const create = useCreateGroup();
  const [name, setName] = useState("");
  const errors = formErrors(create.error, NAME_FIELD);

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ name: name.trim() }, { onSuccess: () => setName("") });
  }

  return (
    <div className="stack">
      <form className="panel inline-form" onSubmit={submit} aria-label="New group" noValidate>
        <Field label="New group name" hint="e.g. support, customer-a" error={errors.fields.name}>
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create group
        </button>
        <ErrorMessage error={errors.general} />
      </form>
      <RefreshFailed error={groups.isRefetchError ? groups.error : null} />
      {groups.isPending ? (
        <Skeleton what="Loading groups" shape="cards" count={3} />
      ) : groups.isLoadingError ? (
        <ErrorMessage error={groups.error} />
      ) : groups.data.length === 0 ? (
        <p className="panel empty-state">No groups yet. A group decides who sees which service: make one, add people, then allow it on services.</p>
      ) : (
        <div className="cards">
          {groups.data.map((g) => (
            <GroupCard key={g.id} group={g} users={users.data ?? []} services={services.data ?? []} />
          ))}
        </div>
      )}
    </div>
  );
}
