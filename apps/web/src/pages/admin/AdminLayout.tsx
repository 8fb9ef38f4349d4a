// The admin area: one heading and one row of tabs over every admin page, the audit trail included.
import { NavLink, Outlet } from "react-router-dom";

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
      <Outlet />
    </div>
  );
}
