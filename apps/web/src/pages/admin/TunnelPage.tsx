// The public tunnel (admin): its state and URL, open and close.
import { useTunnel, useTunnelAction } from "../../api/gateways";
import { ErrorMessage } from "../../components/ErrorMessage";
import { Loading } from "../../components/Loading";
import { formatTime } from "../../lib/format";

export function TunnelPage() {
  const tunnel = useTunnel();
  const action = useTunnelAction();
  if (tunnel.isPending) return <Loading />;
  if (tunnel.isError) return <ErrorMessage error={tunnel.error} />;
  const t = tunnel.data;
  if (t === null) return <p className="panel notice">The tunnel is not available on this server yet (no /api/tunnel route).</p>;
  return (
    <section className="panel stack" aria-labelledby="tunnel-title">
      <h2 id="tunnel-title">Public URL ({t.provider})</h2>
      <p>
        State: <span className={`status tunnel-${t.state}`}>{t.state}</span>{" "}
        <span className="muted small">since {formatTime(t.changedAt)}</span>
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
      {!t.configured && <p className="notice">Set NGROK_AUTHTOKEN to be able to open the tunnel.</p>}
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
