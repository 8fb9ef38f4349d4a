// Users and groups (admin).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import {
  ZGroup,
  ZUser,
  type TCreateGroupBody,
  type TCreateUserBody,
  type TUpdateUserBody,
} from "@postern/contracts";
import { api } from "./client";
import { queryKeys } from "./keys";

export function useUsers(enabled = true) {
  return useQuery({ queryKey: queryKeys.users, queryFn: () => api.get("/api/users", z.array(ZUser)), enabled });
}

export function useGroups(enabled = true) {
  return useQuery({ queryKey: queryKeys.groups, queryFn: () => api.get("/api/groups", z.array(ZGroup)), enabled });
}

/** Users and groups point at each other, so any change refreshes both (and the caller). */
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

export function useCreateGroup() {
  const refresh = useRefreshPeople();
  return useMutation({
    mutationFn: (body: TCreateGroupBody) => api.post("/api/groups", ZGroup, body),
    onSuccess: refresh,
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
