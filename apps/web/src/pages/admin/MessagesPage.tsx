// Relay messages (admin): the relay's state and every message with its delivery status.
import type { TMessage } from "@postern/contracts";
import { useMessages, useRelayStatus } from "../../api/messages";
import { DataTable } from "../../components/DataTable";
import { ErrorMessage, RefreshFailed } from "../../components/ErrorMessage";
import { Skeleton } from "../../components/Loading";
import { StatusPill } from "../../components/StatusPill";
import { Time } from "../../components/Time";
import { usePageTitle } from "../../lib/page-title";
import { useLoadMore } from "../../lib/use-load-more";

/** Who already has a message that is not sent to everyone yet (a sent one went to all). */
function DeliveredTo({ message }: { message: TMessage }) {
  const to = message.deliveredTo ?? [];
  if (message.status === "sent" || to.length === 0) return null;
  return (
    <div className="muted small delivered-to" data-testid="delivered-to">
      delivered to {to.join(", ")}
    </div>
  );
}

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
          {s.lastSentAt ? (
            <>
              ; last sent <Time value={s.lastSentAt} />
            </>
          ) : (
            ""
          )}
          .
        </p>
      ) : (
        <p>{s.reason ?? "The relay is off: SMTP is not configured."}</p>
      )}
      {s.lastError && <p className="error">Last delivery error: {s.lastError}</p>}
    </section>
  );
}

export function MessagesPage() {
  usePageTitle("Relay messages · Admin");
  const messages = useMessages();
  const items = messages.data?.pages.flatMap((p) => p.items) ?? [];
  const more = useLoadMore(messages.fetchNextPage);
  return (
    <div className="stack">
      <h2 className="sr-only">Relay messages</h2>
      <RelayStatus />
      <RefreshFailed error={messages.isRefetchError ? messages.error : null} />
      {messages.isPending ? (
        <Skeleton what="Loading messages" />
      ) : messages.isLoadingError ? (
        <ErrorMessage error={messages.error} />
      ) : (
        <DataTable
          caption="Relay messages"
          className="panel"
          rows={items}
          rowKey={(m) => m.id}
          empty={<p>No messages yet. Monitors post them to POST /api/messages with a relay:send token.</p>}
          columns={[
            { key: "at", header: "Received", cell: (m) => <Time value={m.createdAt} /> },
            { key: "severity", header: "Severity", cell: (m) => <StatusPill kind="severity" status={m.severity} /> },
            {
              key: "message",
              header: "Message",
              cell: (m) => (
                <>
                  {m.subject && <strong>{m.subject}</strong>}
                  <div className="message-text">{m.message}</div>
                </>
              ),
            },
            {
              key: "status",
              header: "Status",
              cell: (m) => (
                <>
                  <StatusPill status={m.status} />
                  {m.sentAt && (
                    <div className="muted small">
                      <Time value={m.sentAt} />
                    </div>
                  )}
                  <DeliveredTo message={m} />
                  {m.lastError && <div className="error-text small">{m.lastError}</div>}
                </>
              ),
            },
            { key: "attempts", header: "Attempts", cell: (m) => m.attempts },
          ]}
          footer={
            <>
              {/* A next page that failed is neither a loading nor a refetch error: said here, by its button. */}
              <ErrorMessage error={more.error} />
              {messages.hasNextPage && (
                <button type="button" onClick={() => void more.loadMore()} aria-disabled={messages.isFetchingNextPage || undefined}>
                  Load more
                </button>
              )}
            </>
          }
        />
      )}
    </div>
  );
}
