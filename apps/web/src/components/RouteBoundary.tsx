// The error boundary around a routed page (Layout, AdminLayout): a page that fails to render is
// replaced by the error while the header and tabs around it stay usable, and going to any page
// (a link, back, the same link again) clears it. Keyed on the location's key rather than remounting,
// so a working page keeps its state while its own query string changes.
import type { ReactNode } from "react";
import { useLocation } from "react-router-dom";
import { PageBoundary } from "./PageBoundary";

export function RouteBoundary({ what = "page", children }: { what?: string; children: ReactNode }) {
  const { key } = useLocation();
  return (
    <PageBoundary what={what} resetKey={key}>
      {children}
    </PageBoundary>
  );
}
