// Groups (admin): create, and add or remove members.
import { useState, type FormEvent } from "react";
import type { TGroup, TUser } from "@postern/contracts";
import { useCreateGroup, useGroupMember, useGroups, useUsers } from "../../api/users";
import { ErrorMessage } from "../../components/ErrorMessage";
import { Loading } from "../../components/Loading";

function GroupCard({ group, users }: { group: TGroup; users: TUser[] }) {
  const member = useGroupMember();
  const [userId, setUserId] = useState("");
  const members = group.members ?? [];
  const candidates = users.filter((u) => !members.some((m) => m.id === u.id));

  function add(e: FormEvent) {
    e.preventDefault();
    if (userId) member.mutate({ groupId: group.id, userId, member: true }, { onSuccess: () => setUserId("") });
  }

  return (
    <article className="panel" aria-labelledby={`group-${group.id}`}>
      <h3 id={`group-${group.id}`}>{group.name}</h3>
      {members.length === 0 ? (
        <p className="muted small">No members.</p>
      ) : (
        <ul className="member-list">
          {members.map((m) => (
            <li key={m.id}>
              {m.username}
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
          Add member
        </button>
      </form>
      <ErrorMessage error={member.error} />
    </article>
  );
}

export function GroupsPage() {
  const groups = useGroups();
  const users = useUsers();
  const create = useCreateGroup();
  const [name, setName] = useState("");

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ name: name.trim() }, { onSuccess: () => setName("") });
  }

  return (
    <div className="stack">
      <form className="panel inline-form" onSubmit={submit}>
        <label className="field">
          <span>New group name</span>
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create group
        </button>
        <ErrorMessage error={create.error} />
      </form>
      {groups.isPending ? (
        <Loading />
      ) : groups.isError ? (
        <ErrorMessage error={groups.error} />
      ) : (
        <div className="cards">
          {groups.data.map((g) => (
            <GroupCard key={g.id} group={g} users={users.data ?? []} />
          ))}
        </div>
      )}
    </div>
  );
}
