// Who receives a live event. Clients are grouped into visibility classes (admin, or a member with
// a given set of groups); an event is judged and serialised once per class, never per client.
import type { TLiveEvent } from "@postern/contracts";
import { canSeeService } from "../services/services.visibility";
import type { UserWithGroups } from "../users/users.presenter";

/** Stored beside the event in the LiveEvent row, so every instance filters without a query. */
export interface Audience {
  /** "all": every client; "admins": admins only; "groups": members of `groupIds` (and admins). */
  to: "all" | "admins" | "groups";
  groupIds?: string[];
  /** What clients outside the audience get instead (e.g. `service.deleted` when a service
   * stopped being visible to them); nothing when absent. */
  others?: TLiveEvent;
}

export interface LiveRecord {
  seq: number;
  event: TLiveEvent;
  audience: Audience;
}

export interface VisibilityClass {
  key: string;
  admin: boolean;
  /** A user of this class: the visibility rules in services.visibility.ts take a user, and they
   * depend only on the role and the groups, which every user of the class shares. */
  probe: UserWithGroups | null;
}

export function classOf(user: UserWithGroups | null): VisibilityClass {
  if (!user || user.role === "admin") return { key: "admin", admin: true, probe: user };
  const groups = user.memberships.map((m) => m.groupId).sort();
  return { key: `m:${groups.join(",")}`, admin: false, probe: user };
}

/** Which variant of the event a class gets: "main", "others", or null for nothing. */
export function variantFor(audience: Audience, cls: VisibilityClass): "main" | "others" | null {
  let sees: boolean;
  if (audience.to === "all") sees = true;
  else if (audience.to === "admins") sees = cls.admin;
  else sees = cls.admin || (cls.probe !== null && canSeeService(cls.probe, audience.groupIds ?? []));
  if (sees) return "main";
  return audience.others ? "others" : null;
}
