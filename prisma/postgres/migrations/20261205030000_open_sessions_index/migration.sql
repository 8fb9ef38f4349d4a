-- A start's guard read the caller's whole history on the service when the table had no statistics.
--
-- postern_board_guard's holder check (migration 20261204050000_board_guard_holder_plan) counts
-- the caller's open sessions on the service, and relied on the planner choosing the
-- (userId, status) index. It chooses by the table's statistics, and a table nobody has analysed
-- yet (a new database, a server with autovacuum off, a table that grew since its last ANALYZE)
-- has none that tell: PostgreSQL then intersected the caller's sessions with the service's
-- (bitmaps over the (userId, requestedAt, id) and (serviceId, status) indexes) and filtered every
-- one of them by status: 0.86 ms a call after 1,000 start/end pairs, growing with every session
-- kept; 0.31 ms once analysed, where planning the statement each call cost most of it.
--
-- This index holds the open sessions alone, by holder and service: a handful of entries whatever
-- the history, the cheapest path under any statistics or none, and one the cached generic plan
-- uses, so the statement is no longer planned on every call. The same probe: 0.09 ms a call,
-- analysed or not. The planner uses a partial index only where the statement's own condition
-- implies the index's, so the guard names the open statuses as literals; the caller's list still
-- applies on top. Both are the contracts' OPEN_STATUSES (sessions.guard-plan.test.ts checks each).
CREATE INDEX "AccessSession_open_userId_serviceId_idx" ON "AccessSession" ("userId", "serviceId")
  WHERE "status" IN ('pending', 'scheduled', 'waiting', 'offered', 'active');

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
