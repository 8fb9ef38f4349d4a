// Gateways (admin): each agent, whether it is online and in sync, and the rules it should hold.
import { useAgents } from "../../api/gateways";
import { DataTable } from "../../components/DataTable";
import { ErrorMessage, RefreshFailed } from "../../components/ErrorMessage";
import { Skeleton } from "../../components/Loading";
import { Time } from "../../components/Time";
import { usePageTitle } from "../../lib/page-title";

export function GatewaysPage() {
  usePageTitle("Gateways · Admin");
  const agents = useAgents();
  if (agents.isPending) return <Skeleton what="Loading gateways" shape="cards" count={2} />;
  // Polled: a failed poll keeps what was read before.
  if (agents.isLoadingError) return <ErrorMessage error={agents.error} />;
  if (agents.data === null) {
    return <p className="panel notice">Gateways are not available on this server yet (no /api/agents route).</p>;
  }
  if (agents.data.length === 0) {
    return (
      <p className="panel muted">
        No gateway agent has connected yet. Create a token with the <code>agent</code> scope and start{" "}
        <code>postern-agent</code> on the gateway.
      </p>
    );
  }
  return (
    <>
      <RefreshFailed error={agents.isRefetchError ? agents.error : null} />
      <div className="cards">
        <h2 className="sr-only">Gateways</h2>
        {agents.data.map((a) => (
          <article key={a.id} className="panel" aria-labelledby={`agent-${a.id}`}>
            <header className="card-head">
              <h2 id={`agent-${a.id}`} className="card-title">
                {a.name}
              </h2>
              <div className="badges">
                <span className={`badge ${a.online ? "badge-ok" : "badge-warn"}`}>{a.online ? "online" : "offline"}</span>
                <span className={`badge ${a.inSync ? "badge-ok" : "badge-warn"}`}>{a.inSync ? "in sync" : "out of sync"}</span>
              </div>
            </header>
            <p className="muted small">
              Rules applied {a.rulesApplied} of {a.rulesDesired} · last seen <Time value={a.lastSeenAt} />
            </p>
            {a.lastError && <p className="error">{a.lastError}</p>}
            {a.services.length > 0 && <p className="small">Services: {a.services.map((s) => s.name).join(", ")}</p>}
            <DataTable
              caption={`Rules of ${a.name}`}
              rows={a.rules}
              rowKey={(r) => r.sessionId}
              empty={<p className="muted small">No doors open: no active session uses this gateway.</p>}
              columns={[
                { key: "source", header: "Source", cell: (r) => r.sourceIp },
                { key: "port", header: "Public port", cell: (r) => `${r.publicPort}/${r.protocol}` },
                { key: "lan", header: "LAN target", cell: (r) => `${r.lanHost}:${r.lanPort}` },
                { key: "until", header: "Until", cell: (r) => <Time value={r.expiresAt} /> },
              ]}
            />
          </article>
        ))}
      </div>
    </>
  );
}
