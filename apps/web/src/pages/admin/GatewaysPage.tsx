// Gateways (admin): each agent, whether it is online and in sync, and the rules it should hold.
import { useAgents } from "../../api/gateways";
import { ErrorMessage } from "../../components/ErrorMessage";
import { Loading } from "../../components/Loading";
import { formatTime } from "../../lib/format";

export function GatewaysPage() {
  const agents = useAgents();
  if (agents.isPending) return <Loading />;
  if (agents.isError) return <ErrorMessage error={agents.error} />;
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
    <div className="cards">
      {agents.data.map((a) => (
        <article key={a.id} className="panel" aria-labelledby={`agent-${a.id}`}>
          <header className="card-head">
            <h3 id={`agent-${a.id}`}>{a.name}</h3>
            <div className="badges">
              <span className={`badge ${a.online ? "badge-ok" : "badge-warn"}`}>{a.online ? "online" : "offline"}</span>
              <span className={`badge ${a.inSync ? "badge-ok" : "badge-warn"}`}>{a.inSync ? "in sync" : "out of sync"}</span>
            </div>
          </header>
          <p className="muted small">
            Rules applied {a.rulesApplied} of {a.rulesDesired} · last seen {formatTime(a.lastSeenAt)}
          </p>
          {a.lastError && <p className="error">{a.lastError}</p>}
          {a.services.length > 0 && <p className="small">Services: {a.services.map((s) => s.name).join(", ")}</p>}
          {a.rules.length > 0 && (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Rules of {a.name}</caption>
                <thead>
                  <tr>
                    <th scope="col">Source</th>
                    <th scope="col">Public port</th>
                    <th scope="col">LAN target</th>
                    <th scope="col">Until</th>
                  </tr>
                </thead>
                <tbody>
                  {a.rules.map((r) => (
                    <tr key={r.sessionId}>
                      <td>{r.sourceIp}</td>
                      <td>
                        {r.publicPort}/{r.protocol}
                      </td>
                      <td>
                        {r.lanHost}:{r.lanPort}
                      </td>
                      <td>{formatTime(r.expiresAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </article>
      ))}
    </div>
  );
}
