-- Two changes to the board guard (postern_board_guard), both for changes decided from the board:
--
-- An extension is judged by the holder's other open sessions on the service (their bookings,
-- their offers), as a start is: it must not run into one, nor join them into a hold longer than
-- the service's maximum. Decided from the board, an extension of a holder the board shows with no
-- other open session there asks the guard to check that none exists: the holder check now leaves
-- out the session the guard is given (the one being extended). A start gives none, and is judged
-- as before.
--
-- A start checks a session's address against the service's gateway (a door admits IPv4 only). A
-- service bound to a gateway a moment ago on another instance was still unbound on this
-- instance's board, and the guard did not compare the binding: an IPv6 session could start on it,
-- and never get a door. The guard now compares the service's gateway with the board's too; a
-- board that has not seen the binding takes the change the usual way, under the lock.
CREATE OR REPLACE FUNCTION postern_board_guard(service_id text, rules jsonb, holder_id text, session jsonb, open_statuses jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  -- An array, not a subquery over the JSON: a semi-join over the JSON scanned every session the
  -- holder ever had.
  open text[] := ARRAY(SELECT jsonb_array_elements_text(open_statuses));
BEGIN
  PERFORM 1 FROM "Service" s
   WHERE s."id" = service_id
     AND s."exclusive" = (rules->>'exclusive')::boolean
     AND s."requiresApproval" = (rules->>'requiresApproval')::boolean
     AND s."defaultDurationSeconds" = (rules->>'defaultDurationSeconds')::integer
     AND s."maxDurationSeconds" = (rules->>'maxDurationSeconds')::integer
     AND s."gatewayAgentId" IS NOT DISTINCT FROM rules->>'gatewayAgentId'
   FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'postern: the service is not as the board shows it' USING ERRCODE = 'PB001';
  END IF;
  IF (SELECT coalesce(jsonb_agg(g."groupId" ORDER BY g."groupId" COLLATE "C"), '[]'::jsonb)
        FROM "ServiceGroup" g WHERE g."serviceId" = service_id) IS DISTINCT FROM rules->'groupIds' THEN
    RAISE EXCEPTION 'postern: the service''s groups are not as the board shows them' USING ERRCODE = 'PB001';
  END IF;
  -- A count, not EXISTS: see migration 20261204050000_board_guard_holder_plan. The literal
  -- statuses let the plan use "AccessSession_open_userId_serviceId_idx" (see the head of this one).
  IF holder_id IS NOT NULL AND (
    SELECT count(*) FROM "AccessSession" a
     WHERE a."userId" = holder_id AND a."serviceId" = service_id
       AND a."status" IN ('pending', 'scheduled', 'waiting', 'offered', 'active')
       AND a."status" = ANY (open)
       AND a."id" IS DISTINCT FROM session->>'id'
  ) > 0 THEN
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
