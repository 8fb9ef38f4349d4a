// The app shell for logged-in users: header with navigation, whether the board is live, the
// theme, who is logged in, and the page below. It runs the live stream for as long as it is
// mounted, and tells the user what happened to them (toasts, tab title, notifications).
import { NavLink, Outlet, useLocation, useNavigate } from "react-router-dom";
import { useLogout, useMe } from "../api/auth";
import { isApiError } from "../api/client";
import { ErrorMessage } from "./ErrorMessage";
import { RouteBoundary } from "./RouteBoundary";
import { displayName } from "../lib/format";
import { ConnectionState, LiveBanner, useLiveUpdates, useOfferAttention, usePersonalNotices } from "../live";
import { preloadAdminPages } from "../pages/admin/lazy";
import { ThemeSwitch } from "./ThemeSwitch";

/** On an admin link: fetch the admin pages as soon as the user heads for them. A failure here is
 * met again, and shown, when the page itself asks for them. */
const fetchAdminPages = () => void preloadAdminPages().catch(() => {});
const preload = { onPointerEnter: fetchAdminPages, onFocus: fetchAdminPages };

export function Layout() {
  const me = useMe().data;
  const logout = useLogout();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const isAdmin = me?.permissions.includes("admin") ?? false;
  // One websocket for the whole app; while it is down the board queries poll (api/poll.ts).
  useLiveUpdates({ onEvent: usePersonalNotices() });
  useOfferAttention(me?.user.id);
  const toLogin = () => navigate("/login", { replace: true });

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="Postern board">
          <img src="/favicon.svg" alt="" width={24} height={24} />
          <span>Postern</span>
        </NavLink>
        <nav aria-label="Main">
          <NavLink to="/" end>
            Board
          </NavLink>
          <NavLink to="/sessions">My sessions</NavLink>
          {!isAdmin && <NavLink to="/tokens">API tokens</NavLink>}
          {isAdmin && (
            <NavLink to="/admin/audit" {...preload}>
              Audit
            </NavLink>
          )}
          {isAdmin && (
            // The audit page sits among the admin tabs but has its own top-level link.
            <NavLink
              to="/admin"
              {...preload}
              className={() => (pathname.startsWith("/admin") && !pathname.startsWith("/admin/audit") ? "active" : "")}
            >
              Admin
            </NavLink>
          )}
        </nav>
        <div className="topbar-end">
          <ConnectionState className="small muted" />
          <ThemeSwitch />
          {me && (
            <NavLink to="/account" className="whoami" title={`${me.user.role} · your account`}>
              {displayName(me.user)}
            </NavLink>
          )}
          <button
            type="button"
            className="link-button"
            aria-disabled={logout.isPending || undefined}
            onClick={() => !logout.isPending && logout.mutate(undefined, { onSuccess: toLogin, onError: (err) => isApiError(err, 401) && toLogin() })}
          >
            Log out
          </button>
        </div>
      </header>
      {logout.isError && !isApiError(logout.error, 401) ? (
        <div className="logout-failed">
          <ErrorMessage error={`Not logged out: ${logout.error.message} You are still logged in here; try again.`} />
        </div>
      ) : null}
      <LiveBanner />
      <main id="main" tabIndex={-1}>
        {/* A page that fails to render must not take the header, and the way out, with it. */}
        <RouteBoundary>
          <Outlet />
        </RouteBoundary>
      </main>
    </>
  );
}
