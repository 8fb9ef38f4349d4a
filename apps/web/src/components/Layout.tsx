// The app shell for logged-in users: header with navigation, whether the board is live, who is
// logged in, and the page below. It runs the live stream for as long as it is mounted.
import { NavLink, Outlet, useNavigate } from "react-router-dom";
import { useLogout, useLogoutEverywhere, useMe } from "../api/auth";
import { displayName } from "../lib/format";
import { ConnectionState, useLiveUpdates } from "../live";

export function Layout() {
  const me = useMe().data;
  const logout = useLogout();
  const logoutEverywhere = useLogoutEverywhere();
  const navigate = useNavigate();
  const isAdmin = me?.permissions.includes("admin") ?? false;
  // One websocket for the whole app; while it is down the board queries poll (api/poll.ts).
  useLiveUpdates();

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
          {isAdmin && <NavLink to="/audit">Audit</NavLink>}
          {isAdmin && <NavLink to="/admin">Admin</NavLink>}
        </nav>
        <div className="topbar-end">
          <ConnectionState className="small muted" />
          {me && (
            <span className="whoami" title={me.user.role}>
              {displayName(me.user)}
            </span>
          )}
          <button
            type="button"
            className="link-button"
            onClick={() => logout.mutate(undefined, { onSettled: () => navigate("/login", { replace: true }) })}
          >
            Log out
          </button>
          <button
            type="button"
            className="link-button small"
            title="End this login and every other one of yours, on every device"
            onClick={() => {
              if (!window.confirm("Log out on every device, this one included?")) return;
              logoutEverywhere.mutate(undefined, { onSettled: () => navigate("/login", { replace: true }) });
            }}
          >
            Log out everywhere
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
