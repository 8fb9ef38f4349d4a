// Local login plus one button per OIDC provider; `?provider=<id>` goes straight to that provider.
import { useEffect, useState, type FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router-dom";
import { oidcStartUrl, useLogin, useMe, useProviders } from "../api/auth";
import { isApiError } from "../api/client";
import { clearLoginEnded, mentionsDisabled, peekLoginEnded, type LoginEnd } from "../api/login-ended";
import { ErrorMessage } from "../components/ErrorMessage";
import { Field } from "../components/Field";
import { loginErrorMessage } from "../lib/login-errors";
import { usePageTitle } from "../lib/page-title";

const ENDED: Record<LoginEnd, string> = {
  disabled: "An admin disabled your account, so you were logged out. Ask an admin if you need access again.",
  ended: "Your login has ended: you logged out elsewhere, it expired, or an admin disabled your account. Log in again; if that is refused, ask an admin.",
};

/** A refused login in words: a disabled account is told so, not "wrong password". */
function loginFailure(err: unknown): string | null {
  if (!err) return null;
  if (isApiError(err) && (err.status === 403 || mentionsDisabled(err.message))) {
    return "Your account is disabled. Ask an admin to enable it.";
  }
  if (isApiError(err, 401)) return "Wrong username or password.";
  return err instanceof Error ? err.message : String(err);
}

/** Only same-site paths, so a crafted link cannot send people elsewhere after login. */
function safeReturnTo(value: string | null): string {
  return value && value.startsWith("/") && !value.startsWith("//") ? value : "/";
}

export function LoginPage() {
  const [params] = useSearchParams();
  const returnTo = safeReturnTo(params.get("returnTo"));
  const wanted = params.get("provider");
  const me = useMe();
  const providers = useProviders();
  const login = useLogin();
  const navigate = useNavigate();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [ended] = useState(peekLoginEnded);
  useEffect(clearLoginEnded, []);
  usePageTitle("Log in");

  const oidc = (providers.data ?? []).filter((p) => p.type === "oidc");
  const hasLocal = !providers.data || providers.data.some((p) => p.type === "local");
  const direct = wanted ? oidc.find((p) => p.id === wanted) : undefined;

  useEffect(() => {
    if (direct) window.location.assign(oidcStartUrl(direct, returnTo));
  }, [direct, returnTo]);

  if (me.data) return <Navigate to={returnTo} replace />;

  function submit(e: FormEvent) {
    e.preventDefault();
    login.mutate({ username, password }, { onSuccess: () => navigate(returnTo, { replace: true }) });
  }

  return (
    <main className="login-wrap" id="main">
      <section className="panel login" aria-labelledby="login-title">
        <h1 id="login-title">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Postern
        </h1>
        <p className="muted">Just-in-time access to your team’s services.</p>
        {ended && !login.isPending && (
          <div className={ended === "disabled" ? "error" : "notice-box"} role="alert">
            {ENDED[ended]}
          </div>
        )}
        {params.get("error") && (
          <div className="error" role="alert">
            {loginErrorMessage(params.get("error") ?? "")}
          </div>
        )}
        {direct && <p role="status">Taking you to {direct.name}…</p>}
        {wanted && providers.data && !direct && (
          <div className="error" role="alert">
            There is no login provider “{wanted}”.
          </div>
        )}

        {oidc.length > 0 && (
          <div className="providers">
            {oidc.map((p) => (
              <a key={p.id} className="button-link provider" href={oidcStartUrl(p, returnTo)}>
                Continue with {p.name}
              </a>
            ))}
          </div>
        )}
        {oidc.length > 0 && hasLocal && <p className="divider">or</p>}

        {hasLocal && (
          <form onSubmit={submit} className="stack">
            <Field label="Username">
              {(p) => (
                <input {...p} name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
              )}
            </Field>
            <Field label="Password">
              {(p) => (
                <input
                  {...p}
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              )}
            </Field>
            <ErrorMessage error={loginFailure(login.error)} />
            <button type="submit" className="primary" disabled={login.isPending}>
              {login.isPending ? "Logging in…" : "Log in"}
            </button>
          </form>
        )}
        <ErrorMessage error={providers.error} />
      </section>
    </main>
  );
}
