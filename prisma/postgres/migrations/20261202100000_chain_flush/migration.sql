-- A change's COMMIT no longer holds the chain lock while PostgreSQL waits for the disk.
--
-- Every change takes the chain's advisory lock (postern_chain_append), and PostgreSQL releases a
-- transaction's locks only after its COMMIT has been flushed to the WAL. So each change waited for
-- the flush of the one before it, one fsync after another, and concurrent commits could never
-- share one. With flush_after, the change's transaction commits asynchronously (synchronous_commit
-- off for that transaction only): the lock goes as soon as the commit record is written. The API
-- sends `CALL postern_chain_flush()` in the same write right behind the COMMIT, and waits for it
-- before it answers or announces anything (apps/api/src/modules/live/live.log.ts):
--
-- - postern_chain_flush, a procedure, writes a WAL record of its own (a transactional logical
--   message, which needs no privilege and no logical replication; an XID alone would not do:
--   PostgreSQL commits a transaction that wrote no WAL asynchronously) and commits synchronously,
--   so its COMMIT returns only once the WAL is on disk up to and past the change's commit record.
--   Concurrent changes' flushes can now share an fsync (PostgreSQL's group commit).
-- - The NOTIFY moves behind that COMMIT, into a transaction of its own: other instances hear of a
--   change only once it is durable. The payload waits in a session setting (set_config(…, false)): kept when the
--   change commits, undone when it rolls back, so a rolled-back change notifies nothing.
--
-- A client (this API or anyone) is answered only after the flush, as before. What is new: another
-- transaction may read the change in the instant between its commit and its flush.
--
-- Called with three arguments (a change inside a Prisma transaction, whose COMMIT is Prisma's to
-- send), the function behaves as before: synchronous commit, NOTIFY inside.
DROP FUNCTION postern_chain_append(jsonb, jsonb, text);

CREATE FUNCTION postern_chain_append(audit_rows jsonb, live_rows jsonb, notify_tail text, flush_after boolean DEFAULT false)
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
  IF flush_after THEN
    -- The COMMIT releases the lock without waiting for the disk; postern_chain_flush, sent right
    -- behind it, waits for it and then notifies. '-': committed, nothing to notify.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM set_config('postern.chain_notify',
      CASE WHEN cardinality(live_seqs) > 0 THEN array_to_string(live_seqs, ',') || notify_tail ELSE '-' END, false);
  ELSIF cardinality(live_seqs) > 0 THEN
    -- Delivered only once the transaction commits: the seqs, and the events when they fit.
    PERFORM pg_notify('postern_live', array_to_string(live_seqs, ',') || notify_tail);
  END IF;
  RETURN QUERY SELECT unnest(live_seqs);
END
$$;

CREATE PROCEDURE postern_chain_flush()
LANGUAGE plpgsql
AS $$
DECLARE
  pending text := current_setting('postern.chain_notify', true);
BEGIN
  -- Nothing committed by the transaction before (it rolled back, or made no append).
  IF pending IS NULL OR pending = '' THEN
    RETURN;
  END IF;
  PERFORM set_config('postern.chain_notify', '', false);
  PERFORM pg_logical_emit_message(true, 'postern', '');
  -- Synchronous: returns once the WAL is on disk up to here.
  COMMIT;
  IF pending <> '-' THEN
    -- NOTIFY holds a lock, one notifying transaction at a time, until its COMMIT returns: with a
    -- synchronous commit that is across an fsync, and the flushes would queue behind each other
    -- again. This transaction holds nothing that needs the disk.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_notify('postern_live', pending);
  END IF;
END
$$;
