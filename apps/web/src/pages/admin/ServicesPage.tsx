// Services (admin): the list, one form at a time for creating or editing, and CSV import.
import { useState } from "react";
import { useSearchParams } from "react-router-dom";
import type { TService } from "@postern/contracts";
import { useDeleteService, useServices } from "../../api/services";
import { useGroups } from "../../api/users";
import { ConfirmButton } from "../../components/ConfirmDialog";
import { DataTable } from "../../components/DataTable";
import { ErrorMessage, RefreshFailed } from "../../components/ErrorMessage";
import { Skeleton } from "../../components/Loading";
import { useFocusAfter } from "../../components/use-focus-after";
import { formatDuration } from "../../lib/format";
import { usePageTitle } from "../../lib/page-title";
import { ImportServicesForm } from "./ImportServicesForm";
import { ServiceForm } from "./ServiceForm";

type Editing = { mode: "new" } | { mode: "import" } | { mode: "edit"; service: TService } | null;

/** The control that opened a form, where the focus returns when the form closes. */
function openerKey(editing: NonNullable<Editing>): string {
  return editing.mode === "edit" ? `edit-service-${editing.service.id}` : `${editing.mode}-service`;
}

export function ServicesPage() {
  usePageTitle("Services · Admin");
  const services = useServices();
  const groups = useGroups();
  const remove = useDeleteService();
  const [params] = useSearchParams();
  const [editing, setEditing] = useState<Editing>(() => (params.get("import") ? { mode: "import" } : null));
  const focusAfter = useFocusAfter(null);
  function closeForm() {
    if (editing) focusAfter([openerKey(editing)]);
    setEditing(null);
  }
  const groupName = (id: string) => groups.data?.find((g) => g.id === id)?.name ?? "?";

  return (
    <div className="stack">
      {editing?.mode === "import" ? (
        <ImportServicesForm onDone={closeForm} />
      ) : editing ? (
        <ServiceForm
          key={editing.mode === "edit" ? editing.service.id : "new"}
          service={editing.mode === "edit" ? editing.service : undefined}
          onDone={closeForm}
        />
      ) : (
        <div className="form-actions">
          <button type="button" className="primary" data-focus={openerKey({ mode: "new" })} onClick={() => setEditing({ mode: "new" })}>
            New service
          </button>
          <button type="button" data-focus={openerKey({ mode: "import" })} onClick={() => setEditing({ mode: "import" })}>
            Import from CSV
          </button>
        </div>
      )}
      <ErrorMessage error={remove.error} />
      <RefreshFailed error={services.isRefetchError ? services.error : null} />
      {services.isPending ? (
        <Skeleton what="Loading services" />
      ) : services.isLoadingError ? (
        <ErrorMessage error={services.error} />
      ) : (
        <DataTable
          caption="Services"
          className="panel"
          rows={services.data}
          rowKey={(s) => s.id}
          empty={<p>No services yet. Make one with “New service”, or import a list.</p>}
          columns={[
            {
              key: "name",
              header: "Name",
              rowHeader: true,
              cell: (s) => (
                <>
                  {s.name}
                  <div className="muted small">
                    {s.slug}
                    {s.connection ? ` · ${s.connection.main}${s.connection.sub ? ` / ${s.connection.sub}` : ""}` : ""}
                  </div>
                </>
              ),
            },
            { key: "kind", header: "Kind", cell: (s) => s.kind },
            {
              key: "access",
              header: "Access",
              cell: (s) =>
                [s.exclusive ? "exclusive" : "shared", s.requiresApproval ? "approval" : "", s.gateway ? `gateway :${s.gateway.publicPort}` : ""]
                  .filter(Boolean)
                  .join(", "),
            },
            {
              key: "durations",
              header: "Durations",
              cell: (s) => `${formatDuration(s.defaultDurationSeconds)} / max ${formatDuration(s.maxDurationSeconds)}`,
            },
            { key: "groups", header: "Groups", cell: (s) => s.groupIds.map(groupName).join(", ") || <span className="muted">admins only</span> },
            {
              key: "actions",
              header: "Actions",
              hideHeader: true,
              actions: true,
              cell: (s) => (
                <>
                  <button type="button" aria-label={`Edit ${s.name}`}
                    data-focus={openerKey({ mode: "edit", service: s })}
                    onClick={() => setEditing({ mode: "edit", service: s })}
                  >
                    Edit
                  </button>
                  <ConfirmButton
                    className="danger"
                    aria-label={`Delete ${s.name}`}
                    disabled={remove.isPending}
                    title={`Delete ${s.name}?`}
                    body={<p>Its open sessions, bookings and waitlist end. The audit trail keeps its history.</p>}
                    confirmLabel="Delete service"
                    danger
                    onConfirm={() => remove.mutate(s.id)}
                  >
                    Delete
                  </ConfirmButton>
                </>
              ),
            },
          ]}
        />
      )}
    </div>
  );
}
