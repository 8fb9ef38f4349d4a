// The admin area: one heading and one row of tabs over every admin page, the audit trail included.
import { Suspense, useEffect, useRef } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";
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

/** On a phone the tabs scroll sideways (styles.css): bring the current one into the strip, or a
 * page opened from the main navigation (Audit, the last tab) shows no tab as current. Only the
 * strip scrolls, never the page. */
function useCurrentTabInView() {
  const strip = useRef<HTMLElement>(null);
  const { pathname } = useLocation();
  useEffect(() => {
    const nav = strip.current;
    const tab = nav?.querySelector<HTMLElement>("a.active");
    if (!nav || !tab) return;
    const n = nav.getBoundingClientRect();
    const t = tab.getBoundingClientRect();
    if (t.left < n.left) nav.scrollLeft += t.left - n.left;
    else if (t.right > n.right) nav.scrollLeft += t.right - n.right;
  }, [pathname]);
  return strip;
}

export function AdminLayout() {
  const strip = useCurrentTabInView();
  return (
    <div className="admin">
      <h1>Admin</h1>
      <nav ref={strip} className="tabs" aria-label="Admin sections">
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
