// Services (admin): the list, and one form at a time for creating or editing.
import { useState } from "react";
import type { TService } from "@postern/contracts";
import { useDeleteService, useServices } from "../../api/services";
import { useGroups } from "../../api/users";
import { ErrorMessage } from "../../components/ErrorMessage";
import { Loading } from "../../components/Loading";
import { formatDuration } from "../../lib/format";
import { ServiceForm } from "./ServiceForm";

type Editing = { mode: "new" } | { mode: "edit"; service: TService } | null;

export function ServicesPage() {
  const services = useServices();
  const groups = useGroups();
  const remove = useDeleteService();
  const [editing, setEditing] = useState<Editing>(null);
  const groupName = (id: string) => groups.data?.find((g) => g.id === id)?.name ?? "?";

  return (
    <div className="stack">
      {editing ? (
        <ServiceForm
          key={editing.mode === "edit" ? editing.service.id : "new"}
          service={editing.mode === "edit" ? editing.service : undefined}
          onDone={() => setEditing(null)}
        />
      ) : (
        <div>
          <button type="button" className="primary" onClick={() => setEditing({ mode: "new" })}>
            New service
          </button>
        </div>
      )}
      <ErrorMessage error={remove.error} />
      {services.isPending ? (
        <Loading />
      ) : services.isError ? (
        <ErrorMessage error={services.error} />
      ) : (
        <div className="table-wrap panel">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Access</th>
                <th scope="col">Durations</th>
                <th scope="col">Groups</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {services.data.map((s) => (
                <tr key={s.id}>
                  <th scope="row">
                    {s.name}
                    <div className="muted small">
                      {s.slug}
                      {s.connection ? ` · ${s.connection.main}${s.connection.sub ? ` / ${s.connection.sub}` : ""}` : ""}
                    </div>
                  </th>
                  <td>{s.kind}</td>
                  <td>
                    {s.exclusive ? "exclusive" : "shared"}
                    {s.requiresApproval ? ", approval" : ""}
                    {s.gateway ? `, gateway :${s.gateway.publicPort}` : ""}
                  </td>
                  <td>
                    {formatDuration(s.defaultDurationSeconds)} / max {formatDuration(s.maxDurationSeconds)}
                  </td>
                  <td>{s.groupIds.map(groupName).join(", ") || <span className="muted">admins only</span>}</td>
                  <td className="row-actions">
                    <button type="button" aria-label={`Edit ${s.name}`} onClick={() => setEditing({ mode: "edit", service: s })}>
                      Edit
                    </button>
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Delete ${s.name}`}
                      disabled={remove.isPending}
                      onClick={() => {
                        if (window.confirm(`Delete ${s.name}? Its sessions end.`)) remove.mutate(s.id);
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
