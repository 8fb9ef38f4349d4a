// The public tunnel (admin): its state and URL, open and close.
import { useTunnel, useTunnelAction } from "../../api/gateways";
import { ErrorMessage, RefreshFailed } from "../../components/ErrorMessage";
import { Skeleton } from "../../components/Loading";
import { StatusPill } from "../../components/StatusPill";
import { Time } from "../../components/Time";
import { usePageTitle } from "../../lib/page-title";

export function TunnelPage() {
  usePageTitle("Tunnel · Admin");
  const tunnel = useTunnel();
  const action = useTunnelAction();
  if (tunnel.isPending) return <Skeleton what="Loading the tunnel" count={1} />;
  // Polled: a failed poll keeps what was read before.
  if (tunnel.isLoadingError) return <ErrorMessage error={tunnel.error} />;
  const t = tunnel.data;
  if (t === null) return <p className="panel notice">The tunnel is not available on this server yet (no /api/tunnel route).</p>;
  return (
    <section className="panel stack" aria-labelledby="tunnel-title">
      <h2 id="tunnel-title">Public URL ({t.provider})</h2>
      <RefreshFailed error={tunnel.isRefetchError ? tunnel.error : null} />
      <p>
        State: <StatusPill kind="tunnel" status={t.state} />{" "}
        <span className="muted small">
          since <Time value={t.changedAt} />
        </span>
      </p>
      {t.url && (
        <p>
          Tunnel URL:{" "}
          <a href={t.url} target="_blank" rel="noreferrer">
            {t.url}
          </a>
        </p>
      )}
      <p>
        Postern’s public URL now: <code>{t.publicUrl}</code>
      </p>
      {t.reason && <p className="error">{t.reason}</p>}
      {!t.configured && (
        <p className="notice-box">
          To give remote teammates a public URL, set <code>NGROK_AUTHTOKEN</code> (from dashboard.ngrok.com) and restart Postern. Skip this
          if everyone reaches this server directly.
        </p>
      )}
      <div className="row-actions">
        <button
          type="button"
          className="primary"
          disabled={!t.configured || action.isPending || t.state === "open" || t.state === "opening"}
          onClick={() => action.mutate("open")}
        >
          Open tunnel
        </button>
        <button
          type="button"
          disabled={action.isPending || t.state === "closed"}
          onClick={() => action.mutate("close")}
        >
          Close tunnel
        </button>
      </div>
      <ErrorMessage error={action.error} />
    </section>
  );
}
