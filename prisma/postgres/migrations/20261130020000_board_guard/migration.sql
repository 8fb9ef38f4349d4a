-- The guard of a session change made from what an instance's board shows
-- (apps/api/src/modules/sessions/sessions.guarded.ts). A start, extend or end normally reads the
-- service's rules and the session under their row locks, decides, and then writes: two round
-- trips. When the board in memory already shows what that read would return, the instance
-- decides from the board and sends this guard, the write, the append and the COMMIT in one
-- round trip. The guard takes the same locks in the same order (the service's row, then the
-- session's) and raises SQLSTATE PB001 unless the database holds exactly what the board showed;
-- the whole transaction is then rolled back and the change taken again the usual way.
--
-- VOLATILE matters: in READ COMMITTED each statement of a volatile function takes a fresh
-- snapshot, so what is compared after a lock is read after the lock is held.
--
-- rules:          the service as the board shows it: exclusive, requiresApproval,
--                 defaultDurationSeconds, maxDurationSeconds, and groupIds in byte order.
-- holder_id:      a start: this user has no open session on the service.
-- session:        an extend or end: the session as the board shows it (the API's JSON shape).
-- open_statuses:  the statuses of an open session (OPEN_STATUSES in @postern/contracts).
CREATE FUNCTION postern_board_guard(service_id text, rules jsonb, holder_id text, session jsonb, open_statuses jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  -- An array, not a subquery over the JSON: the plan then finds the holder's open sessions through
  -- the (userId, status) index, where a semi-join scanned every session they ever had.
  open text[] := ARRAY(SELECT jsonb_array_elements_text(open_statuses));
BEGIN
  PERFORM 1 FROM "Service" s
   WHERE s."id" = service_id
     AND s."exclusive" = (rules->>'exclusive')::boolean
     AND s."requiresApproval" = (rules->>'requiresApproval')::boolean
     AND s."defaultDurationSeconds" = (rules->>'defaultDurationSeconds')::integer
     AND s."maxDurationSeconds" = (rules->>'maxDurationSeconds')::integer
   FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'postern: the service is not as the board shows it' USING ERRCODE = 'PB001';
  END IF;
  IF (SELECT coalesce(jsonb_agg(g."groupId" ORDER BY g."groupId" COLLATE "C"), '[]'::jsonb)
        FROM "ServiceGroup" g WHERE g."serviceId" = service_id) IS DISTINCT FROM rules->'groupIds' THEN
    RAISE EXCEPTION 'postern: the service''s groups are not as the board shows them' USING ERRCODE = 'PB001';
  END IF;
  IF holder_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM "AccessSession" a
     WHERE a."userId" = holder_id AND a."serviceId" = service_id
       AND a."status" = ANY (open)
  ) THEN
    RAISE EXCEPTION 'postern: the user has an open session the board does not show' USING ERRCODE = 'PB001';
  END IF;
  IF session IS NOT NULL THEN
    PERFORM 1 FROM "AccessSession" a JOIN "User" u ON u."id" = a."userId"
     WHERE a."id" = session->>'id'
       AND a."serviceId" = service_id
       AND a."userId" = session->>'userId'
       AND u."username" = session->'user'->>'username'
       AND u."displayName" IS NOT DISTINCT FROM session->'user'->>'displayName'
       AND a."status" = session->>'status'
       AND a."reason" IS NOT DISTINCT FROM session->>'reason'
       AND a."sourceIp" IS NOT DISTINCT FROM session->>'sourceIp'
       AND a."durationSeconds" = (session->>'durationSeconds')::integer
       AND a."requestedAt" = (session->>'requestedAt')::timestamp(3)
       AND a."startsAt" IS NOT DISTINCT FROM (session->>'startsAt')::timestamp(3)
       AND a."startedAt" IS NOT DISTINCT FROM (session->>'startedAt')::timestamp(3)
       AND a."expiresAt" IS NOT DISTINCT FROM (session->>'expiresAt')::timestamp(3)
       AND a."endedAt" IS NOT DISTINCT FROM (session->>'endedAt')::timestamp(3)
       AND a."offerExpiresAt" IS NOT DISTINCT FROM (session->>'offerExpiresAt')::timestamp(3)
       AND a."endedById" IS NOT DISTINCT FROM session->'endedBy'->>'id'
     FOR UPDATE OF a;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'postern: the session is not as the board shows it' USING ERRCODE = 'PB001';
    END IF;
  END IF;
END
$$;
