// API tokens: create with scopes (the secret is shown once), list, revoke. Members manage their
// own personal tokens here; admins also see everyone's and can make service tokens.
import { useState, type FormEvent } from "react";
import { ZScope, type TCreatedToken, type TScope } from "@postern/contracts";
import { useIsAdmin } from "../api/auth";
import { useCreateToken, useRevokeToken, useTokens } from "../api/tokens";
import { ErrorMessage } from "../components/ErrorMessage";
import { Loading } from "../components/Loading";
import { formatTime } from "../lib/format";

function SecretOnce({ token, onClose }: { token: TCreatedToken; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <section className="panel secret" role="status" aria-labelledby="secret-title">
      <h2 id="secret-title">Token “{token.name}” created</h2>
      <p>Copy the secret now. It is shown only this once and cannot be read again.</p>
      <div className="inline-form">
        <input readOnly aria-label="Token secret" value={token.token} onFocus={(e) => e.target.select()} data-testid="token-secret" />
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(token.token).then(() => setCopied(true));
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" onClick={onClose}>
          Done
        </button>
      </div>
    </section>
  );
}

/** Scopes beyond a member's own rights; a token never exceeds its owner's. */
const ADMIN_SCOPES: TScope[] = ["admin", "agent", "tunnel:manage"];

function CreateTokenForm({ onCreated }: { onCreated: (t: TCreatedToken) => void }) {
  const isAdmin = useIsAdmin();
  const create = useCreateToken();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<TScope[]>(["sessions:read"]);
  const [expires, setExpires] = useState("");
  const [service, setService] = useState(false);

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate(
      {
        name: name.trim(),
        scopes,
        expiresAt: expires ? new Date(expires).toISOString() : undefined,
        service: service || undefined,
      },
      {
        onSuccess: (t) => {
          setName("");
          setExpires("");
          onCreated(t);
        },
      },
    );
  }

  return (
    <form className="panel form-grid" onSubmit={submit} aria-labelledby="new-token">
      <h2 id="new-token">New token</h2>
      <label className="field">
        <span>Token name</span>
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label className="field">
        <span>Expires (optional)</span>
        <input type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
      </label>
      <fieldset className="checklist wide">
        <legend>Scopes</legend>
        {ZScope.options.filter((s) => isAdmin || !ADMIN_SCOPES.includes(s)).map((s) => (
          <label key={s} className="check">
            <input
              type="checkbox"
              checked={scopes.includes(s)}
              onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))}
            />
            <code>{s}</code>
          </label>
        ))}
      </fieldset>
      {isAdmin && (
        <label className="check wide">
          <input type="checkbox" checked={service} onChange={(e) => setService(e.target.checked)} />
          Service token (belongs to no user, e.g. for a monitor or the gateway agent)
        </label>
      )}
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={create.isPending || scopes.length === 0}>
          Create token
        </button>
      </div>
      <div className="wide">
        <ErrorMessage error={create.error} />
      </div>
    </form>
  );
}

export function TokensPage() {
  const tokens = useTokens();
  const revoke = useRevokeToken();
  const [created, setCreated] = useState<TCreatedToken | null>(null);

  if (tokens.isPending) return <Loading />;
  if (tokens.isError) return <ErrorMessage error={tokens.error} />;
  if (tokens.data === null) {
    return (
      <p className="panel notice">Tokens are not available on this server yet (the API has no /api/tokens route).</p>
    );
  }
  return (
    <div className="stack">
      {created ? <SecretOnce token={created} onClose={() => setCreated(null)} /> : <CreateTokenForm onCreated={setCreated} />}
      <section className="panel" aria-labelledby="tokens-title">
        <h2 id="tokens-title">Tokens</h2>
        <ErrorMessage error={revoke.error} />
        {tokens.data.length === 0 ? (
          <p className="muted">No tokens yet.</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.map((t) => (
                  <tr key={t.id} className={t.revokedAt ? "row-disabled" : undefined}>
                    <th scope="row">{t.name}</th>
                    <td>
                      <code>{t.prefix}…</code>
                    </td>
                    <td>{t.scopes.join(", ")}</td>
                    <td>{t.userId ? "personal" : "service"}</td>
                    <td>{formatTime(t.createdAt)}</td>
                    <td>{t.expiresAt ? formatTime(t.expiresAt) : "never"}</td>
                    <td>
                      {t.lastUsedAt ? formatTime(t.lastUsedAt) : "never"}
                      {t.lastUsedIp && <div className="muted small">{t.lastUsedIp}</div>}
                    </td>
                    <td className="row-actions">
                      {t.revokedAt ? (
                        <span className="status status-denied">revoked</span>
                      ) : (
                        <button
                          type="button"
                          className="danger"
                          aria-label={`Revoke ${t.name}`}
                          disabled={revoke.isPending}
                          onClick={() => {
                            if (window.confirm(`Revoke ${t.name}? Scripts using it stop working at once.`)) revoke.mutate(t.id);
                          }}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
