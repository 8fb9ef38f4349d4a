// Users and groups (admin), and the caller's own password.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import {
  ZGroup,
  ZPasswordChanged,
  ZUser,
  type TChangePasswordBody,
  type TCreateGroupBody,
  type TCreateUserBody,
  type TUpdateGroupBody,
  type TUpdateUserBody,
} from "@postern/contracts";
import { api, query } from "./client";
import { queryKeys } from "./keys";

export function useUsers(enabled = true) {
  return useQuery({ queryKey: queryKeys.users, queryFn: () => api.get("/api/users", z.array(ZUser)), enabled });
}

export function useGroups(enabled = true) {
  return useQuery({ queryKey: queryKeys.groups, queryFn: () => api.get("/api/groups", z.array(ZGroup)), enabled });
}

/** Users, groups and services point at each other, so any change refreshes them (and the caller). */
function useRefreshPeople() {
  const qc = useQueryClient();
  return async () => {
    await Promise.all([
      qc.invalidateQueries({ queryKey: queryKeys.users }),
      qc.invalidateQueries({ queryKey: queryKeys.groups }),
      qc.invalidateQueries({ queryKey: queryKeys.me }),
    ]);
  };
}

export function useCreateUser() {
  const refresh = useRefreshPeople();
  return useMutation({
    mutationFn: (body: TCreateUserBody) => api.post("/api/users", ZUser, body),
    onSuccess: refresh,
  });
}

export function useUpdateUser() {
  const refresh = useRefreshPeople();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: TUpdateUserBody }) =>
      api.patch(`/api/users/${encodeURIComponent(id)}`, ZUser, body),
    onSuccess: refresh,
  });
}

/** Deletes a user for good (their sessions, logins and tokens end); the reason goes to the audit trail. */
export function useDeleteUser() {
  const refresh = useRefreshPeople();
  return useMutation({
    mutationFn: ({ id, reason }: { id: string; reason?: string }) =>
      api.delete(`/api/users/${encodeURIComponent(id)}${query({ reason })}`),
    onSuccess: refresh,
  });
}

export function useCreateGroup() {
  const refresh = useRefreshPeople();
  return useMutation({
    mutationFn: (body: TCreateGroupBody) => api.post("/api/groups", ZGroup, body),
    onSuccess: refresh,
  });
}

export function useRenameGroup() {
  const refresh = useRefreshPeople();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: TUpdateGroupBody }) =>
      api.patch(`/api/groups/${encodeURIComponent(id)}`, ZGroup, body),
    onSuccess: refresh,
  });
}

/** Deleting a group ends its members' sessions on services only it granted (the API revokes them). */
export function useDeleteGroup() {
  const refresh = useRefreshPeople();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.delete(`/api/groups/${encodeURIComponent(id)}`),
    onSuccess: async () => {
      await refresh();
      await qc.invalidateQueries({ queryKey: queryKeys.services });
    },
  });
}

export function useGroupMember() {
  const refresh = useRefreshPeople();
  return useMutation({
    mutationFn: ({ groupId, userId, member }: { groupId: string; userId: string; member: boolean }) => {
      const path = `/api/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}`;
      return member ? api.post(path, ZGroup) : api.delete(path, ZGroup);
    },
    onSuccess: refresh,
  });
}

/** A local user changes their own password; their other logins end. */
export function useChangeMyPassword() {
  return useMutation({
    mutationFn: (body: TChangePasswordBody) => api.post("/api/me/password", ZPasswordChanged, body),
  });
}
