// Every page of the app, for the sweeps (axe, overflow, titles): where it is, who may see it,
// its tab title, and what shows once it has loaded.
export interface AppPage {
  path: string;
  title: string;
  as: "admin" | "member" | "nobody";
  /** A heading or text that is there once the page has its data. */
  ready: string;
  /** Choices this browser remembers, set before the page loads (the board's list view). */
  stored?: Record<string, string>;
}

export const APP_PAGES: AppPage[] = [
  { path: "/login", title: "Log in · Postern", as: "nobody", ready: "Log in" },
  { path: "/", title: "Board · Postern", as: "member", ready: "Board" },
  { path: "/", title: "Board · Postern", as: "member", ready: "Board", stored: { "postern.boardView": "list" } },
  { path: "/", title: "Board · Postern", as: "admin", ready: "Board" },
  { path: "/sessions", title: "My sessions · Postern", as: "member", ready: "My sessions" },
  { path: "/tokens", title: "API tokens · Postern", as: "member", ready: "API tokens" },
  { path: "/account", title: "Your account · Postern", as: "member", ready: "Your account" },
  { path: "/admin/users", title: "Users · Admin · Postern", as: "admin", ready: "Users" },
  { path: "/admin/groups", title: "Groups · Admin · Postern", as: "admin", ready: "Create group" },
  { path: "/admin/services", title: "Services · Admin · Postern", as: "admin", ready: "New service" },
  { path: "/admin/tokens", title: "Tokens · Admin · Postern", as: "admin", ready: "New token" },
  { path: "/admin/messages", title: "Relay messages · Admin · Postern", as: "admin", ready: "Relay" },
  { path: "/admin/gateways", title: "Gateways · Admin · Postern", as: "admin", ready: "gateway" },
  { path: "/admin/tunnel", title: "Tunnel · Admin · Postern", as: "admin", ready: "Public URL" },
  { path: "/admin/audit", title: "Audit · Admin · Postern", as: "admin", ready: "Tamper check" },
  { path: "/no-such-page", title: "Not found · Postern", as: "member", ready: "Page not found" },
  { path: "/admin/users", title: "Admins only · Postern", as: "member", ready: "Admins only" },
];
