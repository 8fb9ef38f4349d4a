// The live board: every service the caller may use, grouped by kind, with its holders.
import type { TService, TServiceKind, TSession } from "@postern/contracts";
import { useMe } from "../api/auth";
import { useServices } from "../api/services";
import { useActiveSessions } from "../api/sessions";
import { ErrorMessage } from "../components/ErrorMessage";
import { Loading } from "../components/Loading";
import { AdminStatus } from "../components/AdminStatus";
import { PendingApprovals } from "../components/PendingApprovals";
import { ServiceCard } from "../components/ServiceCard";

const KIND_TITLES: Record<TServiceKind, string> = { vpn: "VPN", web: "Web", tcp: "TCP", other: "Other" };
const KIND_ORDER: TServiceKind[] = ["vpn", "web", "tcp", "other"];

function sessionsByService(sessions: TSession[]): Map<string, TSession[]> {
  const map = new Map<string, TSession[]>();
  for (const s of sessions) map.set(s.serviceId, [...(map.get(s.serviceId) ?? []), s]);
  return map;
}

export function BoardPage() {
  const me = useMe().data;
  const services = useServices();
  const sessions = useActiveSessions();
  if (!me) return null;
  const isAdmin = me.permissions.includes("admin");

  if (services.isPending || sessions.isPending) return <Loading what="Loading the board" />;
  if (services.isError) return <ErrorMessage error={services.error} />;
  if (sessions.isError) return <ErrorMessage error={sessions.error} />;

  const bySession = sessionsByService(sessions.data);
  const byKind = new Map<TServiceKind, TService[]>();
  for (const s of [...services.data].sort((a, b) => a.name.localeCompare(b.name))) {
    byKind.set(s.kind, [...(byKind.get(s.kind) ?? []), s]);
  }
  const pending = sessions.data.filter((s) => s.status === "pending");

  return (
    <div className="board">
      <div className="page-head">
        <h1>Board</h1>
        <p className="muted small">
          {sessions.data.filter((s) => s.status === "active").length} active · {services.data.length} services
        </p>
      </div>
      {isAdmin && <AdminStatus />}
      {isAdmin && <PendingApprovals sessions={pending} services={services.data} />}
      {services.data.length === 0 && (
        <section className="panel">
          <p>
            No services yet.{" "}
            {isAdmin ? "Add one under Admin → Services." : "Ask an admin to give your group access to a service."}
          </p>
        </section>
      )}
      {KIND_ORDER.filter((k) => byKind.has(k)).map((kind) => (
        <section key={kind} aria-labelledby={`kind-${kind}`} className="kind-group">
          <h2 id={`kind-${kind}`}>{KIND_TITLES[kind]}</h2>
          <div className="cards">
            {(byKind.get(kind) ?? []).map((service) => (
              <ServiceCard
                key={service.id}
                service={service}
                sessions={bySession.get(service.id) ?? []}
                me={me.user}
                isAdmin={isAdmin}
              />
            ))}
          </div>
        </section>
      ))}
    </div>
  );
}
