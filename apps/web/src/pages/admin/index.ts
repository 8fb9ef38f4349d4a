// The admin pages, one chunk loaded on first use (App.tsx): most visits are members' and never
// open them, and an admin's board should not wait for forms it is not showing.
export { UsersPage } from "./UsersPage";
export { GroupsPage } from "./GroupsPage";
export { ServicesPage } from "./ServicesPage";
export { MessagesPage } from "./MessagesPage";
export { GatewaysPage } from "./GatewaysPage";
export { TunnelPage } from "./TunnelPage";
export { AuditPage } from "../AuditPage";
