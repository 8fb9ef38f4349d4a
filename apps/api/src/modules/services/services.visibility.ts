// Who may see and request a service — one rule, used by every route, the live stream, the
// scheduler's timed steps, revocation and the gateway's desired rules. Admins (by role *and* by
// the rights of the credential in use) see everything; members see the services of their groups;
// a disabled user sees nothing.
import type { Prisma } from "@postern/db";
import type { UserWithGroups } from "../users/users.presenter";

/** Someone looking at the board through one credential. `admin` is `isAdmin(principal)`: an
 * admin's token without the admin scope sees only what the admin's groups grant. */
export interface Viewer {
  user: UserWithGroups;
  admin: boolean;
}

export function viewerGroupIds(viewer: Viewer): string[] {
  return viewer.user.memberships.map((m) => m.groupId);
}

export function visibleServicesWhere(viewer: Viewer): Prisma.ServiceWhereInput {
  if (viewer.admin) return {};
  return { groups: { some: { groupId: { in: viewerGroupIds(viewer) } } } };
}

export function canSeeService(viewer: Viewer, serviceGroupIds: string[]): boolean {
  if (viewer.admin) return true;
  return viewer.user.memberships.some((m) => serviceGroupIds.includes(m.groupId));
}

/** `visibleServicesWhere` for a member as an SQL condition on service id `service` (a column):
 * the service is in one of `groupIds`, each a `?` placeholder the caller binds in order. */
export function inGroupsSql(service: string, groupIds: readonly string[]): string {
  return `EXISTS (SELECT 1 FROM "ServiceGroup" sg WHERE sg."serviceId" = ${service} AND sg."groupId" IN (${groupIds.map(() => "?").join(", ")}))`;
}

/** What a user's stored state allows, whatever credential they use: the rule behind revocation. */
export interface HolderState {
  role: string;
  disabled: boolean;
  memberships: { groupId: string }[];
}

export function holderMaySee(user: HolderState, serviceGroupIds: string[]): boolean {
  if (user.disabled) return false;
  if (user.role === "admin") return true;
  return user.memberships.some((m) => serviceGroupIds.includes(m.groupId));
}

/** `holderMaySee` as an SQL condition on user row `user` and service id `service` (a column or
 * `?`): not disabled, and an admin or in one of the service's groups. */
export function holderMaySeeSql(user: string, service: string): string {
  return `NOT ${user}."disabled" AND (${user}."role" = 'admin' OR EXISTS (
    SELECT 1 FROM "GroupMember" m JOIN "ServiceGroup" g ON g."groupId" = m."groupId" WHERE m."userId" = ${user}."id" AND g."serviceId" = ${service}))`;
}

/** `holderMaySeeSql` as a column's value, 1 or 0 alike on both databases (`mayHolderSee` reads it). */
export function holderMaySeeColumn(user: string, service: string): string {
  return `CASE WHEN ${holderMaySeeSql(user, service)} THEN 1 ELSE 0 END`;
}

/** A `holderMaySeeColumn` value as read back (a number, or on PostgreSQL possibly its text). */
export const mayHolderSee = (column: unknown): boolean => Number(column) === 1;

/** The Prisma selection `holderMaySee` needs. */
export const holderStateSelect = { role: true, disabled: true, memberships: { select: { groupId: true } } } as const;
