/**
 * Migrations 5 to 10 of the PostgreSQL store (`postgres-schema.ts` runs them in order): why a session ended, resources
 * and DPoP bindings, ended sessions set apart, retired generations refused for now, the revocation feed's commit order.
 * Shipped migrations never change; a new one goes at the end of this file.
 */

import { ENDED_SESSIONS_PER_USER } from '../core/store.ts';
import { CHANNEL } from './postgres-migrations-1-4.ts';

export const MIGRATIONS_5_TO_10: string[] = [
  // 5: why a session ended (revoke_detail: who ended it, or what gave a reuse away, also in the
  // log and its notifications), grace answers over a session's life; the denylist is the
  // revocation log alone. Functions gain a parameter beside wrappers of their old shape, for
  // instances not yet upgraded during a rolling upgrade.
  `
ALTER TABLE baton_sessions ADD COLUMN grace_total bigint NOT NULL DEFAULT 0;
ALTER TABLE baton_sessions ADD COLUMN revoke_detail jsonb;
ALTER TABLE baton_revocations ADD COLUMN detail jsonb;
DROP TABLE baton_denied_jti;

CREATE FUNCTION baton_log_revocation(p_kind text, p_id text, p_at bigint, p_expires bigint, p_reason text, p_detail jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO baton_revocations (kind, id, at, expires_at, reason, detail) VALUES (p_kind, p_id, p_at, p_expires, p_reason, p_detail);
  PERFORM pg_notify('${CHANNEL}', jsonb_strip_nulls(jsonb_build_object('kind', p_kind, 'id', p_id, 'at', p_at, 'expiresAt', p_expires, 'reason', p_reason, 'detail', p_detail))::text);
END $$;
CREATE OR REPLACE FUNCTION baton_log_revocation(p_kind text, p_id text, p_at bigint, p_expires bigint, p_reason text) RETURNS void
LANGUAGE sql AS $$ SELECT baton_log_revocation(p_kind, p_id, p_at, p_expires, p_reason, NULL::jsonb) $$;

CREATE FUNCTION baton_revoke_session(p_id text, p_now bigint, p_reason text, p_expires bigint, p_detail jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE baton_sessions SET revoked_at = p_now, revoke_reason = p_reason, revoke_detail = p_detail WHERE id = p_id AND revoked_at IS NULL;
  IF NOT FOUND THEN RETURN false; END IF;
  PERFORM baton_log_revocation('session', p_id, p_now, p_expires, p_reason, p_detail);
  RETURN true;
END $$;
CREATE OR REPLACE FUNCTION baton_revoke_session(p_id text, p_now bigint, p_reason text, p_expires bigint) RETURNS boolean
LANGUAGE sql AS $$ SELECT baton_revoke_session(p_id, p_now, p_reason, p_expires, NULL::jsonb) $$;

CREATE FUNCTION baton_revoke_user(p_user text, p_except text, p_now bigint, p_reason text, p_expires bigint, p_detail jsonb) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE victim text;
BEGIN
  FOR victim IN SELECT id FROM baton_sessions WHERE user_id = p_user AND revoked_at IS NULL AND id IS DISTINCT FROM p_except ORDER BY created_at, id FOR UPDATE
  LOOP
    PERFORM baton_revoke_session(victim, p_now, p_reason, p_expires, p_detail);
    RETURN NEXT victim;
  END LOOP;
END $$;
CREATE OR REPLACE FUNCTION baton_revoke_user(p_user text, p_except text, p_now bigint, p_reason text, p_expires bigint) RETURNS SETOF text
LANGUAGE sql AS $$ SELECT * FROM baton_revoke_user(p_user, p_except, p_now, p_reason, p_expires, NULL::jsonb) $$;

-- Evictions record the new login and its device; new columns start at their defaults.
CREATE OR REPLACE FUNCTION baton_create_session(p jsonb, p_max integer, p_now bigint, p_expires bigint) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE evicted text[] := '{}'; victim text;
BEGIN
  -- One login per user at a time, so that two racing logins cannot both keep their sessions.
  PERFORM pg_advisory_xact_lock(hashtext('baton:' || (p->>'user_id')));
  INSERT INTO baton_sessions SELECT * FROM jsonb_populate_record(NULL::baton_sessions, jsonb_build_object('grace_count', 0, 'grace_total', 0) || p);
  IF p_max > 0 THEN
    FOR victim IN
      SELECT id FROM baton_sessions
       WHERE user_id = p->>'user_id' AND id <> p->>'id' AND revoked_at IS NULL AND expires_at > p_now AND idle_expires_at > p_now
       ORDER BY created_at, id
       LIMIT greatest(0, (SELECT count(*) FROM baton_sessions WHERE user_id = p->>'user_id' AND revoked_at IS NULL
                                 AND expires_at > p_now AND idle_expires_at > p_now) - p_max)
    LOOP
      PERFORM baton_revoke_session(victim, p_now, 'evicted', p_expires, jsonb_build_object('by', p->>'id', 'byDevice', p->'device'));
      evicted := evicted || victim;
    END LOOP;
  END IF;
  RETURN evicted;
END $$;

-- The rotation table of core/rotation.ts, with the session row locked.
CREATE FUNCTION baton_rotate(p_id text, p_gen bigint, p_client text, p_now bigint, p_grace bigint, p_idle_ttl bigint,
                             p_rate_max integer, p_rate_window bigint, p_rev_ttl bigint, p_grace_limit integer, p_ip text)
RETURNS TABLE (o_status text, o_retry bigint, o_session jsonb)
LANGUAGE plpgsql AS $$
DECLARE r baton_sessions; retired bigint; ws bigint; cnt integer; detail jsonb;
BEGIN
  SELECT * INTO r FROM baton_sessions WHERE id = p_id FOR UPDATE;
  -- Refresh tokens are bound to their client, unconditionally (RFC 6749 §6, §10.4).
  IF NOT FOUND OR p_client IS DISTINCT FROM r.client_id OR p_gen > r.generation THEN
    RETURN QUERY SELECT 'unknown'::text, 0::bigint, NULL::jsonb; RETURN;
  END IF;
  IF r.revoked_at IS NOT NULL THEN RETURN QUERY SELECT 'revoked'::text, 0::bigint, to_jsonb(r); RETURN; END IF;
  IF p_now >= r.expires_at OR p_now >= r.idle_expires_at THEN RETURN QUERY SELECT 'expired'::text, 0::bigint, to_jsonb(r); RETURN; END IF;
  IF p_gen < r.generation THEN
    retired := CASE WHEN p_gen = r.generation - 1 THEN r.rotated_at WHEN p_gen = r.generation - 2 THEN r.prev_rotated_at END;
    IF retired IS NULL OR p_now - retired > p_grace THEN
      detail := jsonb_strip_nulls(jsonb_build_object('generation', p_gen, 'retiredAt', retired, 'ip', p_ip));
      UPDATE baton_sessions SET revoked_at = p_now, revoke_reason = 'reused', revoke_detail = detail WHERE id = p_id RETURNING * INTO r;
      PERFORM baton_log_revocation('session', p_id, p_now, p_now + p_rev_ttl, 'reused', detail);
      RETURN QUERY SELECT 'reused'::text, 0::bigint, to_jsonb(r); RETURN;
    END IF;
    -- A grace answer spends no rate limit; p_grace_limit bounds them per generation.
    IF p_grace_limit IS NOT NULL AND r.grace_count >= p_grace_limit THEN
      RETURN QUERY SELECT 'rate_limited'::text, 1000::bigint, to_jsonb(r); RETURN;
    END IF;
    UPDATE baton_sessions SET grace_count = grace_count + 1, grace_total = grace_total + 1 WHERE id = p_id RETURNING * INTO r;
    RETURN QUERY SELECT 'replayed_in_grace'::text, 0::bigint, to_jsonb(r); RETURN;
  END IF;
  -- Only rotations count against the rate limit.
  ws := r.rate_window_start; cnt := r.rate_count;
  IF p_rate_max > 0 THEN
    IF p_now - ws >= p_rate_window THEN ws := p_now; cnt := 0; END IF;
    IF cnt >= p_rate_max THEN RETURN QUERY SELECT 'rate_limited'::text, ws + p_rate_window - p_now, to_jsonb(r); RETURN; END IF;
    cnt := cnt + 1;
  END IF;
  UPDATE baton_sessions
     SET generation = generation + 1, prev_rotated_at = rotated_at, rotated_at = p_now, last_used_at = p_now,
         idle_expires_at = p_now + p_idle_ttl, rate_window_start = ws, rate_count = cnt, grace_count = 0
   WHERE id = p_id RETURNING * INTO r;
  RETURN QUERY SELECT 'rotated'::text, 0::bigint, to_jsonb(r);
END $$;
CREATE OR REPLACE FUNCTION baton_rotate(p_id text, p_gen bigint, p_client text, p_now bigint, p_grace bigint, p_idle_ttl bigint,
                                        p_rate_max integer, p_rate_window bigint, p_rev_ttl bigint, p_grace_limit integer)
RETURNS TABLE (o_status text, o_retry bigint, o_session jsonb)
LANGUAGE sql AS $$
  SELECT * FROM baton_rotate(p_id, p_gen, p_client, p_now, p_grace, p_idle_ttl, p_rate_max, p_rate_window, p_rev_ttl, p_grace_limit, NULL::text)
$$;
CREATE INDEX baton_sessions_ended ON baton_sessions (least(expires_at, idle_expires_at, coalesce(revoked_at, expires_at)));
`,
  // 6: the resources (RFC 8707) a session's access tokens may name. Nullable, read as '', so that
  // instances not yet upgraded (whose rows lack it) keep creating sessions during a rolling upgrade.
  `ALTER TABLE baton_sessions ADD COLUMN resource text;`,
  // 7: the thumbprint (RFC 7638) of the DPoP key a session is bound to. Nullable, read as absent
  // (not bound), so that instances not yet upgraded (whose logins lack it) keep creating sessions
  // during a rolling upgrade. baton_create_session fills every column from its jsonb and
  // baton_rotate answers whole rows, so neither function changes.
  `ALTER TABLE baton_sessions ADD COLUMN jkt text;`,
  // 8: a user's active sessions indexed apart from the ended ones (a login's eviction and the
  // device list walk only those), the history read in pages from an index in its order, and a
  // login deletes the user's ended sessions but the most recently ended (p_keep), so that one
  // user's rows stay bounded. The function of the old shape becomes a wrapper keeping
  // ${ENDED_SESSIONS_PER_USER}, so that instances not yet upgraded prune too during a rolling upgrade.
  `
CREATE INDEX IF NOT EXISTS baton_sessions_active ON baton_sessions (user_id, created_at, id) WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS baton_sessions_history ON baton_sessions (user_id, created_at, id COLLATE "C");
DROP INDEX IF EXISTS baton_sessions_user;

CREATE FUNCTION baton_create_session(p jsonb, p_max integer, p_now bigint, p_expires bigint, p_keep integer) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE evicted text[] := '{}'; victim text; uid text := p->>'user_id';
BEGIN
  -- One login per user at a time, so that two racing logins cannot both keep their sessions.
  PERFORM pg_advisory_xact_lock(hashtext('baton:' || uid));
  INSERT INTO baton_sessions SELECT * FROM jsonb_populate_record(NULL::baton_sessions, jsonb_build_object('grace_count', 0, 'grace_total', 0) || p);
  IF p_max > 0 THEN
    FOR victim IN
      SELECT id FROM baton_sessions
       WHERE user_id = uid AND id <> p->>'id' AND revoked_at IS NULL AND expires_at > p_now AND idle_expires_at > p_now
       ORDER BY created_at, id
       LIMIT greatest(0, (SELECT count(*) FROM baton_sessions WHERE user_id = uid AND revoked_at IS NULL
                                 AND expires_at > p_now AND idle_expires_at > p_now) - p_max)
    LOOP
      PERFORM baton_revoke_session(victim, p_now, 'evicted', p_expires, jsonb_build_object('by', p->>'id', 'byDevice', p->'device'));
      evicted := evicted || victim;
    END LOOP;
  END IF;
  -- The most recently ended are kept (revoked, or past their idle or absolute end); older ones go.
  DELETE FROM baton_sessions WHERE id IN (
    SELECT id FROM baton_sessions
     WHERE user_id = uid AND (revoked_at IS NOT NULL OR expires_at <= p_now OR idle_expires_at <= p_now)
     ORDER BY least(expires_at, idle_expires_at, coalesce(revoked_at, expires_at)) DESC, id COLLATE "C" DESC
    OFFSET p_keep);
  RETURN evicted;
END $$;
CREATE OR REPLACE FUNCTION baton_create_session(p jsonb, p_max integer, p_now bigint, p_expires bigint) RETURNS text[]
LANGUAGE sql AS $$ SELECT baton_create_session(p, p_max, p_now, p_expires, ${ENDED_SESSIONS_PER_USER}) $$;
`,
  // 9: a retired generation presented more than the grace window before its retirement (a clock
  // stepped back, or an instance whose clock is behind the one that rotated) is refused for now,
  // neither a grace answer nor a reuse (core/rotation.ts). Same signature, so the wrapper of the old shape
  // (migration 5) and instances not yet upgraded follow it.
  `
-- The rotation table of core/rotation.ts, with the session row locked.
CREATE OR REPLACE FUNCTION baton_rotate(p_id text, p_gen bigint, p_client text, p_now bigint, p_grace bigint, p_idle_ttl bigint,
                                        p_rate_max integer, p_rate_window bigint, p_rev_ttl bigint, p_grace_limit integer, p_ip text)
RETURNS TABLE (o_status text, o_retry bigint, o_session jsonb)
LANGUAGE plpgsql AS $$
DECLARE r baton_sessions; retired bigint; ws bigint; cnt integer; detail jsonb;
BEGIN
  SELECT * INTO r FROM baton_sessions WHERE id = p_id FOR UPDATE;
  -- Refresh tokens are bound to their client, unconditionally (RFC 6749 §6, §10.4).
  IF NOT FOUND OR p_client IS DISTINCT FROM r.client_id OR p_gen > r.generation THEN
    RETURN QUERY SELECT 'unknown'::text, 0::bigint, NULL::jsonb; RETURN;
  END IF;
  IF r.revoked_at IS NOT NULL THEN RETURN QUERY SELECT 'revoked'::text, 0::bigint, to_jsonb(r); RETURN; END IF;
  IF p_now >= r.expires_at OR p_now >= r.idle_expires_at THEN RETURN QUERY SELECT 'expired'::text, 0::bigint, to_jsonb(r); RETURN; END IF;
  IF p_gen < r.generation THEN
    retired := CASE WHEN p_gen = r.generation - 1 THEN r.rotated_at WHEN p_gen = r.generation - 2 THEN r.prev_rotated_at END;
    -- Retired later than p_now by more than the grace window: a clock behind the record's (a step
    -- back, skew between instances). Neither a grace answer nor a reuse: refused for now, nothing changes.
    IF retired IS NOT NULL AND p_now - retired < -p_grace THEN
      RETURN QUERY SELECT 'rate_limited'::text, 1000::bigint, to_jsonb(r); RETURN;
    END IF;
    IF retired IS NULL OR p_now - retired > p_grace THEN
      detail := jsonb_strip_nulls(jsonb_build_object('generation', p_gen, 'retiredAt', retired, 'ip', p_ip));
      UPDATE baton_sessions SET revoked_at = p_now, revoke_reason = 'reused', revoke_detail = detail WHERE id = p_id RETURNING * INTO r;
      PERFORM baton_log_revocation('session', p_id, p_now, p_now + p_rev_ttl, 'reused', detail);
      RETURN QUERY SELECT 'reused'::text, 0::bigint, to_jsonb(r); RETURN;
    END IF;
    -- A grace answer spends no rate limit; p_grace_limit bounds them per generation.
    IF p_grace_limit IS NOT NULL AND r.grace_count >= p_grace_limit THEN
      RETURN QUERY SELECT 'rate_limited'::text, 1000::bigint, to_jsonb(r); RETURN;
    END IF;
    UPDATE baton_sessions SET grace_count = grace_count + 1, grace_total = grace_total + 1 WHERE id = p_id RETURNING * INTO r;
    RETURN QUERY SELECT 'replayed_in_grace'::text, 0::bigint, to_jsonb(r); RETURN;
  END IF;
  -- Only rotations count against the rate limit.
  ws := r.rate_window_start; cnt := r.rate_count;
  IF p_rate_max > 0 THEN
    IF p_now - ws >= p_rate_window THEN ws := p_now; cnt := 0; END IF;
    IF cnt >= p_rate_max THEN RETURN QUERY SELECT 'rate_limited'::text, ws + p_rate_window - p_now, to_jsonb(r); RETURN; END IF;
    cnt := cnt + 1;
  END IF;
  UPDATE baton_sessions
     SET generation = generation + 1, prev_rotated_at = rotated_at, rotated_at = p_now, last_used_at = p_now,
         idle_expires_at = p_now + p_idle_ttl, rate_window_start = ws, rate_count = cnt, grace_count = 0
   WHERE id = p_id RETURNING * INTO r;
  RETURN QUERY SELECT 'rotated'::text, 0::bigint, to_jsonb(r);
END $$;
`,
  // 10 (revocation feed): a cursor in commit order. seq (a bigserial) is taken at INSERT, so a
  // transaction that takes seq 11 can commit before the one holding seq 10: a follower resuming
  // after 11 would skip 10 for good. commit_seq is taken instead at commit, by a deferred trigger
  // under one transaction-level advisory lock (the two-key form, apart from the per-user locks),
  // held until the commit is visible: commit_seq order is commit order. The trigger runs after
  // every row lock its transaction takes, so the lock cannot deadlock with them; revocations are
  // rare, serializing their commits is cheap. Rows of instances not yet upgraded get it too.
  `
CREATE SEQUENCE baton_revocations_commit_seq;
ALTER TABLE baton_revocations ADD COLUMN commit_seq bigint;
UPDATE baton_revocations SET commit_seq = seq;
SELECT setval('baton_revocations_commit_seq', coalesce((SELECT max(seq) FROM baton_revocations), 0) + 1, false);
CREATE UNIQUE INDEX baton_revocations_commit_seq_idx ON baton_revocations (commit_seq);
CREATE FUNCTION baton_revocation_committed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1650553965, 1);
  UPDATE baton_revocations SET commit_seq = nextval('baton_revocations_commit_seq') WHERE seq = NEW.seq;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER baton_revocations_commit_order AFTER INSERT ON baton_revocations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION baton_revocation_committed();
`,
];
