-- A start's guard read every session ever held, once its plan was cached.
--
-- postern_board_guard (migration 20261130020000_board_guard) checks that the caller holds no
-- open session on the service with EXISTS (…). PL/pgSQL plans a statement with the call's values
-- for its first five calls in a connection and then weighs a generic plan, made without them,
-- against those. Planned for EXISTS, a scan is costed as if it stopped at its first match; with
-- the user, the service and the statuses unknown, the generic plan expected 150 matches and
-- found a sequential scan of "AccessSession" the cheapest way to the first. The usual answer is
-- no match at all, so from the sixth start on a pooled connection every start read the whole
-- table: 3.5–5.5 ms a call with 60,000 sessions (auto_explain, and 2,000 calls in a loop),
-- growing with every session kept.
--
-- A count has no such discount: its generic plan is costed for reading every match (the user's
-- whole history, through two bitmap scans), so the plan cache keeps planning with the call's
-- values, which go through the (userId, status) index to the open sessions alone. The same probe:
-- 76–95 µs a call with 60,000 sessions. A user holds a handful of open sessions at most, so
-- counting them costs what finding the first does.
CREATE OR REPLACE FUNCTION postern_board_guard(service_id text, rules jsonb, holder_id text, session jsonb, open_statuses jsonb)
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
  -- A count, not EXISTS: see the head of this migration.
  IF holder_id IS NOT NULL AND (
    SELECT count(*) FROM "AccessSession" a
     WHERE a."userId" = holder_id AND a."serviceId" = service_id
       AND a."status" = ANY (open)
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
