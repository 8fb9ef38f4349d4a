// API tokens: create with scopes (the secret is shown once), list, revoke. Members manage their
// own personal tokens here; admins also see everyone's and can make service tokens. Revoked
// tokens fold away under "Revoked".
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ZCreateTokenBody, ZScope, type TCreatedToken, type TScope, type TToken } from "@postern/contracts";
import { useIsAdmin } from "../api/auth";
import { useCreateToken, useRevokeToken, useTokens } from "../api/tokens";
import { ConfirmButton } from "../components/ConfirmDialog";
import { DataTable, type Column } from "../components/DataTable";
import { ErrorMessage, RefreshFailed } from "../components/ErrorMessage";
import { Field, focusFirstInvalid } from "../components/Field";
import { Skeleton } from "../components/Loading";
import { Time } from "../components/Time";
import { useFocusAfter } from "../components/use-focus-after";
import { checkBody, formErrors, type FieldMap } from "../lib/field-errors";
import { usePageTitle } from "../lib/page-title";

/** What each scope lets a token do, in a line. */
export const SCOPE_DESCRIPTIONS: Record<TScope, string> = {
  "sessions:read": "See the board: services, holders and sessions.",
  "sessions:write": "Start, extend and end sessions (scripts, chat bots).",
  "relay:send": "Send monitoring messages by e-mail (POST /api/messages).",
  agent: "Run a gateway agent that opens the doors on your router.",
  "tunnel:manage": "Open and close the public URL (ngrok).",
  admin: "Everything an admin can do. Use sparingly.",
};

type TokenField = "name" | "scopes" | "expiresAt";
const TOKEN_FIELDS: FieldMap<TokenField> = {
  name: { field: "name", label: "Token name" },
  scopes: { field: "scopes", label: "Scopes" },
  expiresAt: { field: "expiresAt", label: "Expires" },
};

function SecretOnce({ token, onClose }: { token: TCreatedToken; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = useRef<HTMLButtonElement>(null);
  // The secret replaces the form that had the focus; what to do next is copy it.
  useEffect(() => copy.current?.focus(), []);
  return (
    <section className="panel secret" role="status" aria-labelledby="secret-title">
      <h2 id="secret-title">Token “{token.name}” created</h2>
      <p>Copy the secret now. It is shown only this once and cannot be read again.</p>
      <div className="inline-form">
        <input readOnly aria-label="Token secret" value={token.token} onFocus={(e) => e.target.select()} data-testid="token-secret" />
        <button
          ref={copy}
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

/** The control that opened the secret, where the focus returns when it closes. */
const CREATE_TOKEN_KEY = "create-token";

/** Scopes beyond a member's own rights; a token never exceeds its owner's. */
const ADMIN_SCOPES: TScope[] = ["admin", "agent", "tunnel:manage"];

function CreateTokenForm({ onCreated }: { onCreated: (t: TCreatedToken) => void }) {
  const isAdmin = useIsAdmin();
  const create = useCreateToken();
  const form = useRef<HTMLFormElement>(null);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<TScope[]>(["sessions:read"]);
  const [expires, setExpires] = useState("");
  const [service, setService] = useState(false);
  const [localError, setLocalError] = useState<unknown>(null);
  const errors = formErrors(localError ?? create.error, TOKEN_FIELDS);

  function submit(e: FormEvent) {
    e.preventDefault();
    create.reset();
    const checked = checkBody(ZCreateTokenBody, {
      name: name.trim(),
      scopes,
      expiresAt: expires ? new Date(expires).toISOString() : undefined,
      service: service || undefined,
    });
    if (!checked.ok) {
      setLocalError(checked.error);
      requestAnimationFrame(() => focusFirstInvalid(form.current));
      return;
    }
    setLocalError(null);
    create.mutate(checked.body, {
      onSuccess: (t) => {
        setName("");
        setExpires("");
        onCreated(t);
      },
    });
  }

  return (
    <form ref={form} className="panel form-grid" onSubmit={submit} aria-labelledby="new-token" noValidate>
      <h2 id="new-token">New token</h2>
      <Field label="Token name" hint="What uses it, e.g. “uptime monitor”." error={errors.fields.name}>
        {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
      </Field>
      <Field label="Expires (optional)" error={errors.fields.expiresAt}>
        {(p) => <input {...p} type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />}
      </Field>
      <fieldset className="scopes wide">
        <legend>Scopes</legend>
        {ZScope.options
          .filter((s) => isAdmin || !ADMIN_SCOPES.includes(s))
          .map((s) => (
            <label key={s} className="scope">
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))}
              />
              <span>
                <code>{s}</code> <span className="muted small">{SCOPE_DESCRIPTIONS[s]}</span>
              </span>
            </label>
          ))}
        {errors.fields.scopes && <small className="field-error">{errors.fields.scopes}</small>}
      </fieldset>
      {isAdmin && (
        <label className="check wide">
          <input type="checkbox" checked={service} onChange={(e) => setService(e.target.checked)} />
          Service token (belongs to no user, e.g. for a monitor or the gateway agent)
        </label>
      )}
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={create.isPending} data-focus={CREATE_TOKEN_KEY}>
          Create token
        </button>
      </div>
      <div className="wide">
        <ErrorMessage error={errors.general} />
      </div>
    </form>
  );
}

function tokenColumns(revoke: (t: TToken) => void, busy: boolean): Column<TToken>[] {
  return [
    { key: "name", header: "Name", rowHeader: true, cell: (t) => t.name },
    { key: "prefix", header: "Prefix", cell: (t) => <code>{t.prefix}…</code> },
    { key: "scopes", header: "Scopes", cell: (t) => <span title={t.scopes.map((s) => `${s}: ${SCOPE_DESCRIPTIONS[s]}`).join("\n")}>{t.scopes.join(", ")}</span> },
    { key: "owner", header: "Owner", cell: (t) => (t.userId ? "personal" : "service") },
    { key: "created", header: "Created", cell: (t) => <Time value={t.createdAt} /> },
    { key: "expires", header: "Expires", cell: (t) => (t.expiresAt ? <Time value={t.expiresAt} /> : "never") },
    {
      key: "used",
      header: "Last used",
      cell: (t) => (
        <>
          {t.lastUsedAt ? <Time value={t.lastUsedAt} /> : "never"}
          {t.lastUsedIp && <div className="muted small">{t.lastUsedIp}</div>}
        </>
      ),
    },
    {
      key: "actions",
      header: "Actions",
      hideHeader: true,
      actions: true,
      cell: (t) =>
        t.revokedAt ? (
          <span className="status status-denied">
            revoked <Time value={t.revokedAt} />
          </span>
        ) : (
          <ConfirmButton
            className="danger"
            aria-label={`Revoke ${t.name}`}
            disabled={busy}
            title={`Revoke ${t.name}?`}
            body={<p>Scripts using it stop working at once. This cannot be undone.</p>}
            confirmLabel="Revoke token"
            danger
            onConfirm={() => revoke(t)}
          >
            Revoke
          </ConfirmButton>
        ),
    },
  ];
}

/** `standalone`: a member's own page (its own h1); otherwise a tab under Admin. */
export function TokensPage({ standalone = false }: { standalone?: boolean }) {
  usePageTitle(standalone ? "API tokens" : "Tokens · Admin");
  const tokens = useTokens();
  const revoke = useRevokeToken();
  const [created, setCreated] = useState<TCreatedToken | null>(null);
  const focusAfter = useFocusAfter(null);
  function closeSecret() {
    setCreated(null);
    focusAfter([CREATE_TOKEN_KEY]);
  }

  if (tokens.isPending) return <Skeleton what="Loading tokens" />;
  // A failed refresh keeps the list, and a secret just shown above it.
  if (tokens.isLoadingError) return <ErrorMessage error={tokens.error} />;
  if (tokens.data === null) {
    return <p className="panel notice">Tokens are not available on this server yet (the API has no /api/tokens route).</p>;
  }
  const live = tokens.data.filter((t) => !t.revokedAt);
  const revoked = tokens.data.filter((t) => t.revokedAt);
  const columns = tokenColumns((t) => revoke.mutate(t.id), revoke.isPending);
  return (
    <div className="stack">
      {standalone ? <h1>API tokens</h1> : <h2 className="sr-only">API tokens</h2>}
      {created ? <SecretOnce token={created} onClose={closeSecret} /> : <CreateTokenForm onCreated={setCreated} />}
      <section className="panel" aria-labelledby="tokens-title">
        <h2 id="tokens-title">Tokens</h2>
        <RefreshFailed error={tokens.isRefetchError ? tokens.error : null} />
        <ErrorMessage error={revoke.error} />
        <DataTable caption="Tokens" rows={live} rowKey={(t) => t.id} columns={columns} empty={<p>No tokens yet.</p>} />
        {revoked.length > 0 && (
          <details className="revoked">
            <summary>Revoked ({revoked.length})</summary>
            <DataTable caption="Revoked tokens" rows={revoked} rowKey={(t) => t.id} columns={columns} rowClassName={() => "row-disabled"} empty={null} />
          </details>
        )}
      </section>
    </div>
  );
}
