import { Navigate, Route, Routes } from "react-router-dom";
import { Layout } from "./components/Layout";
import { RequireAdmin, RequireAuth } from "./components/RequireAuth";
import { LoginPage } from "./pages/LoginPage";
import { BoardPage } from "./pages/BoardPage";
import { MySessionsPage } from "./pages/MySessionsPage";
import { AccountPage } from "./pages/AccountPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { AdminLayout } from "./pages/admin/AdminLayout";
import { lazyAdminPage } from "./pages/admin/lazy";
import { TokensPage } from "./pages/TokensPage";

const UsersPage = lazyAdminPage("UsersPage");
const GroupsPage = lazyAdminPage("GroupsPage");
const ServicesPage = lazyAdminPage("ServicesPage");
const MessagesPage = lazyAdminPage("MessagesPage");
const GatewaysPage = lazyAdminPage("GatewaysPage");
const TunnelPage = lazyAdminPage("TunnelPage");
const AuditPage = lazyAdminPage("AuditPage");

// Page paths stay clear of the API's compatibility prefixes (/conn/, /session/, /service/),
// which the server answers itself instead of serving the SPA.
export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={<BoardPage />} />
        <Route path="sessions" element={<MySessionsPage />} />
        <Route path="tokens" element={<TokensPage standalone />} />
        <Route path="account" element={<AccountPage />} />
        {/* Older links: the audit trail now sits among the admin tabs. */}
        <Route path="audit" element={<Navigate to="/admin/audit" replace />} />
        <Route
          path="admin"
          element={
            <RequireAdmin>
              <AdminLayout />
            </RequireAdmin>
          }
        >
          <Route index element={<Navigate to="users" replace />} />
          <Route path="users" element={<UsersPage />} />
          <Route path="groups" element={<GroupsPage />} />
          <Route path="services" element={<ServicesPage />} />
          <Route path="tokens" element={<TokensPage />} />
          <Route path="messages" element={<MessagesPage />} />
          <Route path="gateways" element={<GatewaysPage />} />
          <Route path="tunnel" element={<TunnelPage />} />
          <Route path="audit" element={<AuditPage />} />
        </Route>
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
