// Relay messages (admin): the relay's state and every message with its delivery status.
import { useMessages, useRelayStatus } from "../../api/messages";
import { ErrorMessage } from "../../components/ErrorMessage";
import { Loading } from "../../components/Loading";
import { formatTime } from "../../lib/format";

function RelayStatus() {
  const status = useRelayStatus();
  if (!status.data) return <ErrorMessage error={status.error} />;
  const s = status.data;
  return (
    <section className={`panel ${s.enabled ? "" : "notice"}`} aria-label="Relay status">
      {s.enabled ? (
        <p>
          Relay on, sending to {s.recipients} recipient{s.recipients === 1 ? "" : "s"}. Queued {s.queued}, sent {s.sent},
          failed {s.failed}
          {s.lastSentAt ? `; last sent ${formatTime(s.lastSentAt)}` : ""}.
        </p>
      ) : (
        <p>{s.reason ?? "The relay is off: SMTP is not configured."}</p>
      )}
      {s.lastError && <p className="error">Last delivery error: {s.lastError}</p>}
    </section>
  );
}

export function MessagesPage() {
  const messages = useMessages();
  const items = messages.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="stack">
      <RelayStatus />
      {messages.isPending ? (
        <Loading />
      ) : messages.isError ? (
        <ErrorMessage error={messages.error} />
      ) : items.length === 0 ? (
        <p className="panel muted">No messages yet. Monitors post them to POST /api/messages with a relay:send token.</p>
      ) : (
        <div className="table-wrap panel">
          <table>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Severity</th>
                <th scope="col">Message</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.id}>
                  <td>{formatTime(m.createdAt)}</td>
                  <td>
                    <span className={`status severity-${m.severity}`}>{m.severity}</span>
                  </td>
                  <td>
                    {m.subject && <strong>{m.subject}</strong>}
                    <div className="message-text">{m.message}</div>
                  </td>
                  <td>
                    <span className={`status status-${m.status}`}>{m.status}</span>
                    {m.sentAt && <div className="muted small">{formatTime(m.sentAt)}</div>}
                    {m.lastError && <div className="error-text small">{m.lastError}</div>}
                  </td>
                  <td>{m.attempts}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {messages.hasNextPage && (
            <button type="button" onClick={() => void messages.fetchNextPage()} disabled={messages.isFetchingNextPage}>
              Load more
            </button>
          )}
        </div>
      )}
    </div>
  );
}
