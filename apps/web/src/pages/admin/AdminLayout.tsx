// The admin area: one heading and one row of tabs over every admin page, the audit trail included.
import { Suspense } from "react";
import { NavLink, Outlet } from "react-router-dom";
import { RouteBoundary } from "../../components/RouteBoundary";
import { Loading } from "../../components/Loading";

const TABS = [
  ["users", "Users"],
  ["groups", "Groups"],
  ["services", "Services"],
  ["tokens", "Tokens"],
  ["messages", "Relay messages"],
  ["gateways", "Gateways"],
  ["tunnel", "Tunnel"],
  ["audit", "Audit"],
] as const;

export function AdminLayout() {
  return (
    <div className="admin">
      <h1>Admin</h1>
      <nav className="tabs" aria-label="Admin sections">
        {TABS.map(([path, title]) => (
          <NavLink key={path} to={path}>
            {title}
          </NavLink>
        ))}
      </nav>
      {/* The pages arrive in a chunk of their own (lazy.ts); the tabs stay while it loads, and when it
          fails to arrive, where another tab asks for it again. */}
      <RouteBoundary what="admin pages">
        <Suspense fallback={<Loading what="Opening the admin pages" />}>
          <Outlet />
        </Suspense>
      </RouteBoundary>
    </div>
  );
}
