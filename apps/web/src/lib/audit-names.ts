// Reads audit rows in names instead of ids: `user:ck…` → `mia`, `groupIds: [ck…]` → `support`.
// Names come from the lists the admin pages already hold; an id nobody knows any more (a deleted
// group) stays an id.
import type { TAuditEvent } from "@postern/contracts";
import { formatDuration } from "./time";

export interface NameBook {
  user: (id: string) => string | undefined;
  group: (id: string) => string | undefined;
  service: (id: string) => string | undefined;
  token: (id: string) => string | undefined;
  agent: (id: string) => string | undefined;
}

export function targetName(e: TAuditEvent, names: NameBook): string {
  const target = e.target;
  if (!target) return "";
  const i = target.indexOf(":");
  if (i < 0) return target;
  const kind = target.slice(0, i);
  const id = target.slice(i + 1);
  switch (kind) {
    case "user":
      return names.user(id) ?? `user ${id}`;
    case "username":
      return id;
    case "group":
      return `group ${names.group(id) ?? id}`;
    case "service":
      return names.service(id) ?? `service ${id}`;
    case "token":
      return `token ${names.token(id) ?? id}`;
    case "agent":
      return `gateway ${names.agent(id) ?? id}`;
    case "session": {
      const service = e.serviceId ? names.service(e.serviceId) : undefined;
      return service ? `session on ${service}` : "a session";
    }
    case "message":
      return "relay message";
    case "tunnel":
      return `tunnel (${id})`;
    default:
      return target;
  }
}

/** A resource embedded in an event's details (`user`, `group`, `service`, `token`): its name. */
function nameOf(v: unknown): string | undefined {
  if (!v || typeof v !== "object") return undefined;
  const o = v as { username?: unknown; name?: unknown };
  if (typeof o.username === "string") return o.username;
  if (typeof o.name === "string") return o.name;
  return undefined;
}

function valueText(key: string, v: unknown, names: NameBook): string {
  const one = (id: unknown, look: (id: string) => string | undefined) => (typeof id === "string" ? (look(id) ?? id) : JSON.stringify(id));
  const named = nameOf(v);
  if (named !== undefined) return named;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => nameOf(x) !== undefined)) return v.map(nameOf).join(", ");
  if (Array.isArray(v) && v.every((x) => typeof x === "string") && !/Ids?$/.test(key)) return v.join(", ") || "none";
  if (/^groupIds$|^(added|removed)$/.test(key) && Array.isArray(v)) return v.map((id) => one(id, names.group)).join(", ") || "none";
  if (key === "groupId") return one(v, names.group);
  if (key === "userId") return one(v, names.user);
  if (key === "serviceId") return one(v, names.service);
  if (/Seconds$/.test(key) && typeof v === "number") return formatDuration(v);
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

const LABELS: Record<string, string> = { groupIds: "groups", groupId: "group", userId: "user", serviceId: "service" };

/** `durationSeconds` → `duration` (the value is shown as a length), `previousName` → `previous name`. */
function label(key: string): string {
  return LABELS[key] ?? key.replace(/Seconds$/, "").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

/** Details the other columns already show (the target, the service), or that only machines read. */
const SHOWN_ELSEWHERE = new Set(["type", "session", "service"]);

/** `key: value` pairs, readable at a glance, with ids turned into names. */
export function detailsText(e: TAuditEvent, names: NameBook): string {
  if (!e.details) return "";
  return Object.entries(e.details)
    .filter(([k, v]) => v !== null && v !== undefined && !SHOWN_ELSEWHERE.has(k))
    .map(([k, v]) => `${label(k)}: ${valueText(k, v, names)}`)
    .join(" · ");
}
