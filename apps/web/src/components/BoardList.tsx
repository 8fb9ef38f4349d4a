// The board's compact view: one row per service, for teams with many services.
import type { TService, TSession, TUserRef } from "@postern/contracts";
import { displayName } from "../lib/format";
import { Countdown } from "./Countdown";
import { DataTable } from "./DataTable";
import { KIND_LABELS } from "./ServiceCard";
import { ServiceActions } from "./ServiceActions";

interface Row {
  service: TService;
  sessions: TSession[];
}

export function BoardList({ services, bySession, me }: { services: TService[]; bySession: Map<string, TSession[]>; me: TUserRef }) {
  const rows: Row[] = services.map((service) => ({ service, sessions: bySession.get(service.id) ?? [] }));
  return (
    <DataTable
      caption="Services"
      rows={rows}
      rowKey={(r) => r.service.id}
      empty={null}
      className="panel board-list"
      rowClassName={(r) => (r.sessions.some((s) => s.status === "active" && s.userId === me.id) ? "row-mine" : undefined)}
      columns={[
        {
          key: "name",
          header: "Service",
          rowHeader: true,
          cell: (r) => (
            <span data-testid={`service-row-${r.service.slug}`}>
              {r.service.name}{" "}
              <span className="badge">{KIND_LABELS[r.service.kind]}</span>
              {r.service.requiresApproval && <span className="badge badge-warn">approval</span>}
            </span>
          ),
        },
        {
          key: "state",
          header: "Held by",
          cell: (r) => {
            const active = r.sessions.filter((s) => s.status === "active");
            if (active.length === 0) return <span className="free">Free</span>;
            return (
              <ul className="holders">
                {active.map((s) => (
                  <li key={s.id}>
                    <span className="holder">
                      {displayName(s.user)}
                      {s.userId === me.id && " (you)"}
                    </span>
                    {s.expiresAt && <Countdown until={s.expiresAt} label={`${s.user.username}'s time left`} />}
                  </li>
                ))}
              </ul>
            );
          },
        },
        {
          key: "actions",
          header: "Actions",
          hideHeader: true,
          actions: true,
          cell: (r) => <ServiceActions service={r.service} sessions={r.sessions} me={me} compact />,
        },
      ]}
    />
  );
}
