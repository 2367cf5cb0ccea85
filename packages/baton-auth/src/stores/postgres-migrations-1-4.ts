/**
 * Migrations 1 to 4 of the PostgreSQL store (`postgres-schema.ts` runs them in order): the tables, the session
 * functions, the records and counters, the unconditional client check, grace answers counted per generation.
 * Shipped migrations never change; a new one goes at the end of the last file.
 */

/** The `LISTEN`/`NOTIFY` channel of revocations (named in the migrations' `pg_notify`). */
export const CHANNEL = 'baton_revocations';

export const MIGRATIONS_1_TO_4: string[] = [
  `
CREATE TABLE baton_sessions (
  id text PRIMARY KEY, user_id text NOT NULL, client_id text NOT NULL, scope text NOT NULL, device jsonb NOT NULL,
  created_at bigint NOT NULL, last_used_at bigint NOT NULL, expires_at bigint NOT NULL, idle_expires_at bigint NOT NULL,
  generation bigint NOT NULL, rotated_at bigint NOT NULL, prev_rotated_at bigint NOT NULL,
  rate_window_start bigint NOT NULL, rate_count integer NOT NULL, revoked_at bigint, revoke_reason text
);
CREATE INDEX baton_sessions_user ON baton_sessions (user_id, created_at);
CREATE INDEX baton_sessions_end ON baton_sessions (least(expires_at, idle_expires_at));
CREATE TABLE baton_consumed_jti (jti text PRIMARY KEY, expires_at bigint NOT NULL);
CREATE TABLE baton_denied_jti (jti text PRIMARY KEY, expires_at bigint NOT NULL);
CREATE TABLE baton_opaque_tokens (hash text PRIMARY KEY, claims jsonb NOT NULL, expires_at bigint NOT NULL);
CREATE TABLE baton_revocations (
  seq bigserial PRIMARY KEY, kind text NOT NULL, id text NOT NULL, at bigint NOT NULL, expires_at bigint NOT NULL, reason text NOT NULL
);
CREATE INDEX baton_revocations_expiry ON baton_revocations (expires_at);

CREATE FUNCTION baton_log_revocation(p_kind text, p_id text, p_at bigint, p_expires bigint, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO baton_revocations (kind, id, at, expires_at, reason) VALUES (p_kind, p_id, p_at, p_expires, p_reason);
  PERFORM pg_notify('${CHANNEL}', json_build_object('kind', p_kind, 'id', p_id, 'at', p_at, 'expiresAt', p_expires, 'reason', p_reason)::text);
END $$;

CREATE FUNCTION baton_revoke_session(p_id text, p_now bigint, p_reason text, p_expires bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE baton_sessions SET revoked_at = p_now, revoke_reason = p_reason WHERE id = p_id AND revoked_at IS NULL;
  IF NOT FOUND THEN RETURN false; END IF;
  PERFORM baton_log_revocation('session', p_id, p_now, p_expires, p_reason);
  RETURN true;
END $$;

CREATE FUNCTION baton_create_session(p jsonb, p_max integer, p_now bigint, p_expires bigint) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE evicted text[] := '{}'; victim text;
BEGIN
  -- One login per user at a time, so that two racing logins cannot both keep their sessions.
  PERFORM pg_advisory_xact_lock(hashtext('baton:' || (p->>'user_id')));
  INSERT INTO baton_sessions SELECT * FROM jsonb_populate_record(NULL::baton_sessions, p);
  IF p_max > 0 THEN
    FOR victim IN
      SELECT id FROM baton_sessions
       WHERE user_id = p->>'user_id' AND id <> p->>'id' AND revoked_at IS NULL AND expires_at > p_now AND idle_expires_at > p_now
       ORDER BY created_at, id
       LIMIT greatest(0, (SELECT count(*) FROM baton_sessions WHERE user_id = p->>'user_id' AND revoked_at IS NULL
                                 AND expires_at > p_now AND idle_expires_at > p_now) - p_max)
    LOOP
      PERFORM baton_revoke_session(victim, p_now, 'evicted', p_expires);
      evicted := evicted || victim;
    END LOOP;
  END IF;
  RETURN evicted;
END $$;

CREATE FUNCTION baton_revoke_user(p_user text, p_except text, p_now bigint, p_reason text, p_expires bigint) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE victim text;
BEGIN
  FOR victim IN SELECT id FROM baton_sessions WHERE user_id = p_user AND revoked_at IS NULL AND id IS DISTINCT FROM p_except ORDER BY created_at, id FOR UPDATE
  LOOP
    PERFORM baton_revoke_session(victim, p_now, p_reason, p_expires);
    RETURN NEXT victim;
  END LOOP;
END $$;

-- The rotation table of src/stores/rotation.ts, with the session row locked.
CREATE FUNCTION baton_rotate(p_id text, p_gen bigint, p_client text, p_now bigint, p_grace bigint, p_idle_ttl bigint,
                             p_rate_max integer, p_rate_window bigint, p_rev_ttl bigint)
RETURNS TABLE (o_status text, o_retry bigint, o_session jsonb)
LANGUAGE plpgsql AS $$
DECLARE r baton_sessions; retired bigint; ws bigint; cnt integer;
BEGIN
  SELECT * INTO r FROM baton_sessions WHERE id = p_id FOR UPDATE;
  IF NOT FOUND OR (p_client IS NOT NULL AND p_client <> r.client_id) OR p_gen > r.generation THEN
    RETURN QUERY SELECT 'unknown'::text, 0::bigint, NULL::jsonb; RETURN;
  END IF;
  IF r.revoked_at IS NOT NULL THEN RETURN QUERY SELECT 'revoked'::text, 0::bigint, to_jsonb(r); RETURN; END IF;
  IF p_now >= r.expires_at OR p_now >= r.idle_expires_at THEN RETURN QUERY SELECT 'expired'::text, 0::bigint, to_jsonb(r); RETURN; END IF;
  IF p_gen < r.generation THEN
    retired := CASE WHEN p_gen = r.generation - 1 THEN r.rotated_at WHEN p_gen = r.generation - 2 THEN r.prev_rotated_at END;
    IF retired IS NULL OR p_now - retired > p_grace THEN
      UPDATE baton_sessions SET revoked_at = p_now, revoke_reason = 'reused' WHERE id = p_id RETURNING * INTO r;
      PERFORM baton_log_revocation('session', p_id, p_now, p_now + p_rev_ttl, 'reused');
      RETURN QUERY SELECT 'reused'::text, 0::bigint, to_jsonb(r); RETURN;
    END IF;
  END IF;
  ws := r.rate_window_start; cnt := r.rate_count;
  IF p_rate_max > 0 THEN
    IF p_now - ws >= p_rate_window THEN ws := p_now; cnt := 0; END IF;
    IF cnt >= p_rate_max THEN RETURN QUERY SELECT 'rate_limited'::text, ws + p_rate_window - p_now, to_jsonb(r); RETURN; END IF;
    cnt := cnt + 1;
  END IF;
  IF p_gen < r.generation THEN
    UPDATE baton_sessions SET rate_window_start = ws, rate_count = cnt WHERE id = p_id RETURNING * INTO r;
    RETURN QUERY SELECT 'replayed_in_grace'::text, 0::bigint, to_jsonb(r); RETURN;
  END IF;
  UPDATE baton_sessions
     SET generation = generation + 1, prev_rotated_at = rotated_at, rotated_at = p_now, last_used_at = p_now,
         idle_expires_at = p_now + p_idle_ttl, rate_window_start = ws, rate_count = cnt
   WHERE id = p_id RETURNING * INTO r;
  RETURN QUERY SELECT 'rotated'::text, 0::bigint, to_jsonb(r);
END $$;
`,
  `CREATE TABLE baton_records (kind text NOT NULL, key text NOT NULL, value text NOT NULL, PRIMARY KEY (kind, key));
   CREATE TABLE baton_counters (key text PRIMARY KEY, count bigint NOT NULL, reset_at bigint NOT NULL);
   CREATE INDEX baton_revocations_at ON baton_revocations (at);`,
  // 3: the client check of baton_rotate becomes unconditional (RFC 6749 §6, §10.4): a call naming
  // no client (NULL) is `unknown`, as one naming another client.
  `
CREATE OR REPLACE FUNCTION baton_rotate(p_id text, p_gen bigint, p_client text, p_now bigint, p_grace bigint, p_idle_ttl bigint,
                                        p_rate_max integer, p_rate_window bigint, p_rev_ttl bigint)
RETURNS TABLE (o_status text, o_retry bigint, o_session jsonb)
LANGUAGE plpgsql AS $$
DECLARE r baton_sessions; retired bigint; ws bigint; cnt integer;
BEGIN
  SELECT * INTO r FROM baton_sessions WHERE id = p_id FOR UPDATE;
  IF NOT FOUND OR p_client IS DISTINCT FROM r.client_id OR p_gen > r.generation THEN
    RETURN QUERY SELECT 'unknown'::text, 0::bigint, NULL::jsonb; RETURN;
  END IF;
  IF r.revoked_at IS NOT NULL THEN RETURN QUERY SELECT 'revoked'::text, 0::bigint, to_jsonb(r); RETURN; END IF;
  IF p_now >= r.expires_at OR p_now >= r.idle_expires_at THEN RETURN QUERY SELECT 'expired'::text, 0::bigint, to_jsonb(r); RETURN; END IF;
  IF p_gen < r.generation THEN
    retired := CASE WHEN p_gen = r.generation - 1 THEN r.rotated_at WHEN p_gen = r.generation - 2 THEN r.prev_rotated_at END;
    IF retired IS NULL OR p_now - retired > p_grace THEN
      UPDATE baton_sessions SET revoked_at = p_now, revoke_reason = 'reused' WHERE id = p_id RETURNING * INTO r;
      PERFORM baton_log_revocation('session', p_id, p_now, p_now + p_rev_ttl, 'reused');
      RETURN QUERY SELECT 'reused'::text, 0::bigint, to_jsonb(r); RETURN;
    END IF;
  END IF;
  ws := r.rate_window_start; cnt := r.rate_count;
  IF p_rate_max > 0 THEN
    IF p_now - ws >= p_rate_window THEN ws := p_now; cnt := 0; END IF;
    IF cnt >= p_rate_max THEN RETURN QUERY SELECT 'rate_limited'::text, ws + p_rate_window - p_now, to_jsonb(r); RETURN; END IF;
    cnt := cnt + 1;
  END IF;
  IF p_gen < r.generation THEN
    UPDATE baton_sessions SET rate_window_start = ws, rate_count = cnt WHERE id = p_id RETURNING * INTO r;
    RETURN QUERY SELECT 'replayed_in_grace'::text, 0::bigint, to_jsonb(r); RETURN;
  END IF;
  UPDATE baton_sessions
     SET generation = generation + 1, prev_rotated_at = rotated_at, rotated_at = p_now, last_used_at = p_now,
         idle_expires_at = p_now + p_idle_ttl, rate_window_start = ws, rate_count = cnt
   WHERE id = p_id RETURNING * INTO r;
  RETURN QUERY SELECT 'rotated'::text, 0::bigint, to_jsonb(r);
END $$;
`, // 4: grace answers are counted per generation (grace_count, bounded by p_grace_limit) and no
  // longer spend the rotation rate limit. baton_rotate gains a parameter: the new function is
  // created beside the old one, which becomes a wrapper without a grace bound, so instances not
  // yet upgraded keep rotating (with the new table) during a rolling upgrade.
  `
ALTER TABLE baton_sessions ADD COLUMN grace_count integer NOT NULL DEFAULT 0;

-- Sessions written by instances not yet upgraded carry no grace_count: it starts at 0.
CREATE OR REPLACE FUNCTION baton_create_session(p jsonb, p_max integer, p_now bigint, p_expires bigint) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE evicted text[] := '{}'; victim text;
BEGIN
  -- One login per user at a time, so that two racing logins cannot both keep their sessions.
  PERFORM pg_advisory_xact_lock(hashtext('baton:' || (p->>'user_id')));
  INSERT INTO baton_sessions SELECT * FROM jsonb_populate_record(NULL::baton_sessions, jsonb_build_object('grace_count', 0) || p);
  IF p_max > 0 THEN
    FOR victim IN
      SELECT id FROM baton_sessions
       WHERE user_id = p->>'user_id' AND id <> p->>'id' AND revoked_at IS NULL AND expires_at > p_now AND idle_expires_at > p_now
       ORDER BY created_at, id
       LIMIT greatest(0, (SELECT count(*) FROM baton_sessions WHERE user_id = p->>'user_id' AND revoked_at IS NULL
                                 AND expires_at > p_now AND idle_expires_at > p_now) - p_max)
    LOOP
      PERFORM baton_revoke_session(victim, p_now, 'evicted', p_expires);
      evicted := evicted || victim;
    END LOOP;
  END IF;
  RETURN evicted;
END $$;

-- The rotation table of src/stores/rotation.ts, with the session row locked.
CREATE FUNCTION baton_rotate(p_id text, p_gen bigint, p_client text, p_now bigint, p_grace bigint, p_idle_ttl bigint,
                             p_rate_max integer, p_rate_window bigint, p_rev_ttl bigint, p_grace_limit integer)
RETURNS TABLE (o_status text, o_retry bigint, o_session jsonb)
LANGUAGE plpgsql AS $$
DECLARE r baton_sessions; retired bigint; ws bigint; cnt integer;
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
      UPDATE baton_sessions SET revoked_at = p_now, revoke_reason = 'reused' WHERE id = p_id RETURNING * INTO r;
      PERFORM baton_log_revocation('session', p_id, p_now, p_now + p_rev_ttl, 'reused');
      RETURN QUERY SELECT 'reused'::text, 0::bigint, to_jsonb(r); RETURN;
    END IF;
    -- A grace answer spends no rate limit; p_grace_limit bounds them per generation.
    IF p_grace_limit IS NOT NULL AND r.grace_count >= p_grace_limit THEN
      RETURN QUERY SELECT 'rate_limited'::text, 1000::bigint, to_jsonb(r); RETURN;
    END IF;
    UPDATE baton_sessions SET grace_count = grace_count + 1 WHERE id = p_id RETURNING * INTO r;
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
                                        p_rate_max integer, p_rate_window bigint, p_rev_ttl bigint)
RETURNS TABLE (o_status text, o_retry bigint, o_session jsonb)
LANGUAGE sql AS $$
  SELECT * FROM baton_rotate(p_id, p_gen, p_client, p_now, p_grace, p_idle_ttl, p_rate_max, p_rate_window, p_rev_ttl, NULL::integer)
$$;
`,
];
