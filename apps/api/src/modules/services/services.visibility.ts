// Who may see and request a service: admins all; members only services of their groups.
import type { Prisma } from "@postern/db";
import type { UserWithGroups } from "../users/users.presenter";

export function visibleServicesWhere(user: UserWithGroups): Prisma.ServiceWhereInput {
  if (user.role === "admin") return {};
  return { groups: { some: { groupId: { in: user.memberships.map((m) => m.groupId) } } } };
}

export function canSeeService(user: UserWithGroups, serviceGroupIds: string[]): boolean {
  if (user.role === "admin") return true;
  return user.memberships.some((m) => serviceGroupIds.includes(m.groupId));
}
