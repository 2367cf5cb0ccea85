/**
 * The Lua scripts of the Redis store: each decision is one script, so it is atomic in Redis with
 * no lock in Node, and costs one round trip. Every key a script touches carries the session's
 * user tag (`{tag}`), so the scripts run unchanged on Redis Cluster.
 *
 * A script that revokes publishes the event and, on a standalone Redis, appends it to the
 * revocation log in the same script (the log key comes last in KEYS). On a cluster the log key
 * (`{revocations}`) hashes to another slot than the session's keys, so it is not passed and the
 * store writes the log right after the script.
 *
 * Times travel as decimal strings computed in Node (Lua would print large numbers in exponent
 * form); what Lua computes itself it prints with `ms()`. Session hashes store `''` for null.
 */

import { PRELUDE } from './redis-lua-prelude.ts';

/**
 * KEYS: session, user index, user's ended sessions[, log]. ARGV: session id, createdAt, ttl ms, max
 * sessions, now, revocation expiry, channel, retain ms, key prefix for the user's sessions, index
 * ttl ms, the detail of an eviction (JSON), ended sessions kept, then the hash's field/value pairs,
 * written as given (whatever fields they are). Returns the evicted session ids.
 *
 * The index holds the active sessions and those that ended since the last login: this sets those
 * apart, evicts, and deletes the ended ones beyond the most recently ended, so that what a login
 * walks is bounded by the active sessions and the ended ones kept.
 */
export const CREATE_SESSION = `${PRELUDE}
local sid, now = ARGV[1], num(ARGV[5])
redis.call('HSET', KEYS[1], unpack(ARGV, 13))
if num(ARGV[3]) <= 0 then redis.call('DEL', KEYS[1]) return {} end -- already past its retention
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], sid)
-- The index lives as long as its longest-lived session can (absolute expiry), so rotations never touch it.
if redis.call('PTTL', KEYS[2]) < num(ARGV[10]) then redis.call('PEXPIRE', KEYS[2], ARGV[10]) end
local evicted = {}
local max = num(ARGV[4])
local others = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local key = ARGV[9] .. id
  local f = redis.call('HMGET', key, 'revokedAt', 'expiresAt', 'idleExpiresAt')
  if f[2] == false then redis.call('ZREM', KEYS[2], id)
  elseif not active(f, now) then setApart(KEYS[2], KEYS[3], id, endOf(f), ARGV[10])
  elseif id ~= sid then others[#others + 1] = {id, key} end
end
if max > 0 then
  for i = 1, #others + 1 - max do
    revoke(others[i][2], others[i][1], ARGV[5], ARGV[6], 'evicted', ARGV[7], ARGV[8], KEYS[4], ARGV[11])
    setApart(KEYS[2], KEYS[3], others[i][1], now, ARGV[10])
    evicted[#evicted + 1] = others[i][1]
  end
end
prune(KEYS[3], ARGV[9], ARGV[12])
return evicted
`;

/**
 * KEYS: session[, log]. ARGV: presented generation, client id, now, grace ms, new idle expiry,
 * rate max (0: none), rate window ms, revocation expiry, channel, retain ms after a revocation,
 * retain ms after the session's end, grace limit (-1: none), the presenter's address ('': unknown),
 * the prefix of the user's keys (`…{tag}:`, before `u:` and `e:`).
 * Returns { status, retryAfterMs, generation, expiresAt, idleExpiresAt, rotatedAt, revokedAt,
 * userId, clientId, scope, revokeReason, revokeDetail, resource } — what issuing the next pair (or telling
 * why not) needs, and no more: the reply's size is most of a rotation's cost at high concurrency.
 */
export const ROTATE = `${PRELUDE}
local key = KEYS[1]
local f = redis.call('HMGET', key, 'generation', 'clientId', 'revokedAt', 'expiresAt', 'idleExpiresAt',
  'rotatedAt', 'prevRotatedAt', 'rateWindowStart', 'rateCount', 'id', 'userId', 'scope', 'graceCount', 'revokeReason', 'revokeDetail', 'graceTotal', 'resource')
if f[1] == false then return {'unknown', 0} end
local gen, presented, now = num(f[1]), num(ARGV[1]), num(ARGV[3])
-- Refresh tokens are bound to their client, unconditionally (RFC 6749 §6, §10.4).
if ARGV[2] ~= f[2] or presented > gen then return {'unknown', 0} end
local function reply(status, retry)
  return {status, retry, tostring(gen), f[4], f[5], f[6], f[3], f[11], f[2], f[12], f[14] or '', f[15] or '', f[17] or ''}
end
if f[3] ~= '' then return reply('revoked', 0) end
if now >= num(f[4]) or now >= num(f[5]) then return reply('expired', 0) end
local behind = presented < gen
if behind then
  local retired = nil
  if presented == gen - 1 then retired = num(f[6]) elseif presented == gen - 2 then retired = num(f[7]) end
  -- Retired later than now by more than the grace window: a clock behind the record's (a step
  -- back, skew between instances). Neither a grace answer nor a reuse: refused for now, nothing changes.
  if retired ~= nil and now - retired < -num(ARGV[4]) then return reply('rate_limited', 1000) end
  if retired == nil or now - retired > num(ARGV[4]) then
    -- What gave the reuse away: the generation presented, when it had been retired, from where.
    local detail = '{"generation":' .. ms(presented)
    if retired ~= nil then detail = detail .. ',"retiredAt":' .. ms(retired) end
    if ARGV[13] ~= '' then detail = detail .. ',"ip":' .. cjson.encode(ARGV[13]) end
    detail = detail .. '}'
    revoke(key, f[10], ARGV[3], ARGV[8], 'reused', ARGV[9], ARGV[10], KEYS[2], detail)
    f[3], f[14], f[15] = ARGV[3], 'reused', detail
    return reply('reused', 0)
  end
  -- A grace answer spends no rate limit; graceLimit bounds them per generation.
  local graced, graceMax = num(f[13]), num(ARGV[12])
  if graceMax >= 0 and graced >= graceMax then return reply('rate_limited', 1000) end
  redis.call('HSET', key, 'graceCount', graced + 1, 'graceTotal', num(f[16]) + 1)
  return reply('replayed_in_grace', 0)
end
-- Only rotations count against the rate limit.
local windowStart, count = f[8], num(f[9])
local max = num(ARGV[6])
if max > 0 then
  if now - num(windowStart) >= num(ARGV[7]) then windowStart = ARGV[3]; count = 0 end
  if count >= max then return reply('rate_limited', num(windowStart) + num(ARGV[7]) - now) end
  count = count + 1
end
gen = gen + 1
redis.call('HSET', key, 'generation', gen, 'prevRotatedAt', f[6], 'rotatedAt', ARGV[3], 'lastUsedAt', ARGV[3],
  'idleExpiresAt', ARGV[5], 'rateWindowStart', windowStart, 'rateCount', count, 'graceCount', 0)
-- The key lives until the session's end, idle or absolute, whichever comes first, plus retainMs.
redis.call('PEXPIRE', key, ms(math.min(num(ARGV[5]), num(f[4])) - now + num(ARGV[11])))
-- A login on a clock ahead may have set it apart as ended ('e:'); rotated, it is active again: back
-- in the index, which logins, the device list and the per-user cap walk. Same hash tag as the session.
if ARGV[14] and redis.call('ZREM', ARGV[14] .. 'e:' .. f[11], f[10]) == 1 then
  local index = ARGV[14] .. 'u:' .. f[11]
  redis.call('ZADD', index, redis.call('HGET', key, 'createdAt'), f[10])
  local ttl = num(f[4]) - now + num(ARGV[11])
  if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ms(ttl)) end
end
f[5] = ARGV[5]
f[6] = ARGV[3]
return reply('rotated', 0)
`;

/** KEYS: session[, log]. ARGV: now, reason, revocation expiry, channel, retain ms, detail (JSON or ''). Returns 1 when it revoked. */
export const REVOKE_SESSION = `${PRELUDE}
local f = redis.call('HMGET', KEYS[1], 'revokedAt', 'id')
if f[2] == false or f[1] ~= '' then return 0 end
revoke(KEYS[1], f[2], ARGV[1], ARGV[3], ARGV[2], ARGV[4], ARGV[5], KEYS[2], ARGV[6])
return 1
`;

/**
 * KEYS: user index, user's ended sessions[, log]. ARGV: session id to keep or '', now, reason,
 * revocation expiry, channel, retain ms, key prefix of the user's sessions, detail (JSON or '').
 * Returns the revoked ids: every session not revoked yet, also those past their idle or absolute
 * end (an access token may outlive it).
 */
export const REVOKE_USER = `${PRELUDE}
local out = {}
for _, set in ipairs({KEYS[1], KEYS[2]}) do
  for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    local key = ARGV[7] .. id
    local f = redis.call('HMGET', key, 'revokedAt')
    if id ~= ARGV[1] and f[1] == '' then
      revoke(key, id, ARGV[2], ARGV[4], ARGV[3], ARGV[5], ARGV[6], KEYS[3], ARGV[8])
      out[#out + 1] = id
    end
  end
end
return out
`;

/** KEYS: log (its own slot, so also on a cluster). ARGV: channel, kind, id, at, expiresAt, reason, detail (JSON or ''). */
export const ANNOUNCE = `${PRELUDE}
announce(ARGV[1], KEYS[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return 1
`;

/**
 * On a cluster, after a revoking script (whose keys are in another slot): logs its events.
 * KEYS: log. ARGV: per event kind, id, at, expiresAt, reason, detail (JSON or '').
 */
export const LOG_EVENTS = `${PRELUDE}
for i = 1, #ARGV, 6 do
  logEvent(KEYS[1], event(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]), ARGV[i + 2], ARGV[i + 3])
end
return 1
`;

/** KEYS: log. ARGV: now. Deletes the entries expired at now from the log and its ':order' twin; returns how many. */
export const SWEEP_LOG = `
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, entry in ipairs(gone) do redis.call('ZREM', KEYS[1] .. ':order', entry) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return #gone
`;

/**
 * KEYS: user index, user's ended sessions. ARGV: key prefix of the user's sessions, limit, and the
 * page's cursor: createdAt and id of the session it starts after ('' for the first page).
 * Returns HGETALL of at most `limit` sessions in any state, newest first (createdAt, then id,
 * descending). Both sets are bounded (active sessions, and the ended ones kept), and only the
 * sessions answered are read whole.
 */
export const SESSION_HISTORY = `
local prefix, limit = ARGV[1], tonumber(ARGV[2])
local beforeAt, beforeId = tonumber(ARGV[3]), ARGV[4]
local found = {}
for i, set in ipairs({KEYS[1], KEYS[2]}) do
  for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    local at = redis.call('HGET', prefix .. id, 'createdAt')
    if not at then redis.call('ZREM', set, id)
    else
      at = tonumber(at)
      if beforeAt == nil or at < beforeAt or (at == beforeAt and id < beforeId) then found[#found + 1] = {at, id} end
    end
  end
end
table.sort(found, function(a, b) if a[1] ~= b[1] then return a[1] > b[1] end return a[2] > b[2] end)
local out = {}
for i = 1, math.min(limit, #found) do out[i] = redis.call('HGETALL', prefix .. found[i][2]) end
return out
`;

/** KEYS: user index. ARGV: now, key prefix of the user's sessions. Returns HGETALL of each active session, oldest first. */
export const LIST_SESSIONS = `${PRELUDE}
local out = {}
local now = num(ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[2] .. id
  local f = redis.call('HMGET', key, 'revokedAt', 'expiresAt', 'idleExpiresAt')
  if f[2] == false then redis.call('ZREM', KEYS[1], id)
  elseif active(f, now) then out[#out + 1] = redis.call('HGETALL', key) end
end
return out
`;

/**
 * KEYS: the spent jti. ARGV: its expiry, now (the engine's clock, ms), the key's TTL in ms. 1 when
 * spent now, 0 when it was already and its expiry has not passed at `now`. The expiry is decided on
 * the caller's clock, as the SQL stores do; the TTL only cleans up (Redis's own clock keeps real
 * time, the engine's may have been held back by a step).
 */
export const CONSUME_JTI = `
local spent = redis.call('GET', KEYS[1])
-- '1': spent by an instance not yet upgraded (SET NX with the TTL alone), spent while the key lives.
if spent and (spent == '1' or tonumber(spent) == nil or tonumber(spent) > tonumber(ARGV[2])) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`;

/** KEYS: counter. ARGV: points, window ms, now, force (1/0). Returns { count, resetAt }; the key expires with its window. */
export const HIT_COUNTER = `
local c = redis.call('HMGET', KEYS[1], 'count', 'resetAt')
local now = tonumber(ARGV[3])
if ARGV[4] == '1' or c[1] == false or tonumber(c[2]) <= now then
  local resetAt = now + tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'count', ARGV[1], 'resetAt', string.format('%.0f', resetAt))
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {tonumber(ARGV[1]), string.format('%.0f', resetAt)}
end
local count = redis.call('HINCRBY', KEYS[1], 'count', ARGV[1])
return {count, c[2]}
`;
