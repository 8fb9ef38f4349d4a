-- A change's audit events and live-log events, appended in one call at the end of its
-- transaction (apps/api/src/modules/live/live.log.ts). The server used to take the chain lock,
-- read the chain's head, hash the events in JavaScript and insert them: a round trip to wait for
-- in the middle of every change, with the lock held across it. Here the lock, the head, the
-- hashes and the inserts happen in the database, sent together with the change's last write and
-- its COMMIT.
--
-- The hash is the one audit.service.ts `hashAuditEvent` computes: SHA-256 of the JSON array
-- [seq, at, actorId, actorUsername, action, target, serviceId, sessionId, sourceIp, details,
-- prevHash]. The server sends the middle of that array (from `at` to `details`) as it serialised
-- it, so both sides hash the same bytes; only seq and prevHash are filled in here. Verification
-- recomputes every hash in JavaScript.
--
-- VOLATILE matters: in READ COMMITTED each statement of a volatile function takes a fresh
-- snapshot, so the head is read after the lock is held and sees the previous holder's commit.
CREATE FUNCTION postern_chain_append(audit_rows jsonb, live_rows jsonb, notify_tail text)
RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  head_seq integer;
  head_hash text;
  next_hash text;
  r jsonb;
  live_seq integer;
  live_seqs integer[] := '{}';
BEGIN
  -- The key audit.service.ts uses for the same lock (AUDIT_LOCK_KEY).
  PERFORM pg_advisory_xact_lock(7307001);
  SELECT e."seq", e."hash" INTO head_seq, head_hash FROM "AuditEvent" e ORDER BY e."seq" DESC LIMIT 1;
  IF NOT FOUND THEN
    head_seq := 0;
    head_hash := repeat('0', 64);
  END IF;
  FOR r IN SELECT value FROM jsonb_array_elements(audit_rows) LOOP
    head_seq := head_seq + 1;
    next_hash := encode(sha256(convert_to('[' || head_seq || ',' || (r->>10) || ',"' || head_hash || '"]', 'UTF8')), 'hex');
    INSERT INTO "AuditEvent" ("id", "seq", "at", "actorId", "actorUsername", "action", "target", "serviceId", "sessionId", "sourceIp", "details", "prevHash", "hash")
    VALUES (r->>0, head_seq, (r->>1)::timestamp(3), r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9, head_hash, next_hash);
    head_hash := next_hash;
  END LOOP;
  -- One row at a time, in order, under the lock: the seqs ascend with the events.
  FOR r IN SELECT value FROM jsonb_array_elements(live_rows) LOOP
    INSERT INTO "LiveEvent" ("type", "payload", "at") VALUES (r->>0, r->>1, (r->>2)::timestamp(3)) RETURNING "LiveEvent"."seq" INTO live_seq;
    live_seqs := live_seqs || live_seq;
  END LOOP;
  IF cardinality(live_seqs) > 0 THEN
    -- Delivered only once the transaction commits: the seqs, and the events when they fit.
    PERFORM pg_notify('postern_live', array_to_string(live_seqs, ',') || notify_tail);
  END IF;
  RETURN QUERY SELECT unnest(live_seqs);
END
$$;
