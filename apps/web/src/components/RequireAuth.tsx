// Pages behind a login: sends visitors to the login page and back here afterwards.
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router-dom";
import { useMe } from "../api/auth";
import { usePageTitle } from "../lib/page-title";
import { ErrorMessage } from "./ErrorMessage";
import { Loading } from "./Loading";

export function RequireAuth({ children }: { children: ReactNode }) {
  const me = useMe();
  const location = useLocation();
  // Before the shell exists, these still sit in the page's main landmark.
  if (me.isPending) {
    return (
      <main id="main">
        <Loading what="Opening Postern" />
      </main>
    );
  }
  if (me.isError) {
    return (
      <main id="main">
        <ErrorMessage error={me.error} />
      </main>
    );
  }
  if (!me.data) {
    const returnTo = `${location.pathname}${location.search}`;
    const to = returnTo === "/" ? "/login" : `/login?returnTo=${encodeURIComponent(returnTo)}`;
    return <Navigate to={to} replace />;
  }
  return children;
}

function AdminsOnly() {
  usePageTitle("Admins only");
  return (
    <section className="panel">
      <h1>Admins only</h1>
      <p>This page is for administrators. Ask an admin if you need access.</p>
    </section>
  );
}

export function RequireAdmin({ children }: { children: ReactNode }) {
  const me = useMe().data;
  if (!me?.permissions.includes("admin")) return <AdminsOnly />;
  return children;
}

